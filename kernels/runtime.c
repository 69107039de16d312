/* kernels/runtime.c - the API-independent half of runtime.h: argument checks, the program
 * blob's format, the launch space of an ndrange and a range, the range prelude, and
 * dispatch to the back ends (runtime_opencl.c, runtime_cuda.c), which hold everything
 * that talks to a driver. */
#include "kernels/runtime.h"
#include "kernels/runtime_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The blob's first line: magic, format version, API, payload format, entry, symbol and
 * payload size; the device class on the second line; then the payload:
 *   udcs-kernel-program 1 opencl binary vector_add vector_add 4242\n
 *   opencl pthread-skylake-avx512-AMD EPYC (Portable Computing Language, ...)\n
 *   <4242 bytes> */
#define PROGRAM_MAGIC "udcs-kernel-program"
#define PROGRAM_VERSION 1
/* The first line's longest form: two names and the other fields. */
#define PROGRAM_HEADER_MAX (2 * KERNEL_PROGRAM_NAME_BYTES + 128)
#define PROGRAM_FIELDS 7

/* kernel_run_source()'s buffers: a program of up to 1 GiB (drivers' binaries run to tens
 * of MiB for large kernels), a log of 1 MiB (more is never read by anyone). */
#define RUN_PROGRAM_MAX_BYTES (1ul << 30)
#define RUN_LOG_MAX_BYTES (1ul << 20)

static const char *api_name(enum kernel_api api)
{
    return api == KERNEL_API_CUDA ? "cuda" : "opencl";
}

static int api_is_valid(enum kernel_api api)
{
    return api == KERNEL_API_OPENCL || api == KERNEL_API_CUDA;
}

static const struct kernel_backend *backend_of(enum kernel_api api)
{
    return api == KERNEL_API_CUDA ? &kernel_backend_cuda : &kernel_backend_opencl;
}

/* ---- messages ------------------------------------------------------------------------ */

static int vfail(int rc, char *why, size_t why_len, const char *prefix, const char *fmt,
                 va_list ap)
{
    if (why && why_len) {
        int n = snprintf(why, why_len, "%s", prefix);
        if (n >= 0 && (size_t)n < why_len)
            vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
    }
    return rc;
}

int kernel_fail(int rc, char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(rc, why, why_len, "", fmt, ap);
    va_end(ap);
    return rc;
}

int kernel_arg_fail(int rc, char *why, size_t why_len, const char *entry, size_t index,
                    const struct kernel_arg *arg, const char *fmt, ...)
{
    char prefix[KERNEL_PROGRAM_NAME_BYTES + 160];
    if (arg && arg->name)
        snprintf(prefix, sizeof(prefix), "kernel %s, argument %zu '%s': ", entry, index,
                 arg->name);
    else
        snprintf(prefix, sizeof(prefix), "kernel %s, argument %zu: ", entry, index);
    va_list ap;
    va_start(ap, fmt);
    vfail(rc, why, why_len, prefix, fmt, ap);
    va_end(ap);
    return rc;
}

void kernel_log_append(struct udcs_buf *log, const char *text, size_t len)
{
    while (len > 0 && text[len - 1] == '\0')   /* drivers count the NUL */
        len--;
    size_t room = log->max > log->len ? log->max - log->len : 0;
    if (len > room)
        len = room;
    if (len > 0)
        (void)udcs_buf_append(log, text, len);   /* out of memory: the log is optional */
}

/* Append line [p, p + len) to `out` (with a separator unless first), as far as it fits. */
static void summary_add(char *out, size_t out_len, size_t *used, const char *p, size_t len)
{
    if (*used + 1 >= out_len)
        return;
    int n = snprintf(out + *used, out_len - *used, "%s%.*s", *used ? " | " : "", (int)len, p);
    if (n > 0)
        *used += (size_t)n < out_len - *used ? (size_t)n : out_len - *used - 1;
}

void kernel_log_summary(const char *log, size_t len, char *out, size_t out_len)
{
    if (!out_len)
        return;
    out[0] = '\0';
    size_t used = 0;
    /* Two passes: lines that say "error", else the first lines of any kind. */
    for (int pass = 0; pass < 2 && used == 0; pass++) {
        int lines = 0;
        for (size_t at = 0; at < len && lines < KERNEL_WHY_LOG_LINES;) {
            const char *p = log + at;
            const char *nl = memchr(p, '\n', len - at);
            size_t line_len = nl ? (size_t)(nl - p) : len - at;
            at += line_len + 1;
            while (line_len > 0 && (p[line_len - 1] == '\r' || p[line_len - 1] == ' ' ||
                                    p[line_len - 1] == '\0'))
                line_len--;
            if (line_len == 0 || (pass == 0 && !memmem(p, line_len, "error", 5)))
                continue;
            summary_add(out, out_len, &used, p, line_len);
            lines++;
        }
    }
}

void kernel_text_clean(char *out, size_t out_len, const char *text, size_t len)
{
    size_t n = 0;
    if (!out_len)
        return;
    for (size_t i = 0; i < len && text[i] && n + 1 < out_len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        if (c == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;   /* leading spaces and runs of them */
        out[n++] = (char)c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* ---- the program blob ---------------------------------------------------------------- */

/* A name fit for the blob's header and for messages: one printable token. */
static int name_is_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= KERNEL_PROGRAM_NAME_BYTES)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 0x7f)
            return 0;
    return 1;
}

int kernel_program_write(struct udcs_buf *out, enum kernel_api api, const char *format,
                         const char *entry, const char *symbol, const char *device_class,
                         const void *payload, size_t payload_len)
{
    udcs_buf_reset(out);
    int rc = udcs_buf_appendf(out, "%s %d %s %s %s %s %zu\n%s\n", PROGRAM_MAGIC,
                              PROGRAM_VERSION, api_name(api), format, entry, symbol,
                              payload_len, device_class);
    if (rc == 0)
        rc = udcs_buf_append(out, payload, payload_len);
    if (rc < 0)
        udcs_buf_reset(out);
    return rc;
}

/* Split the first line (NUL-terminated copy) into space-separated fields. */
static int split_fields(char *line, char *fields[], int max)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (n == max)
            return -1;
        fields[n++] = tok;
    }
    return n;
}

static int copy_field(char *out, size_t out_len, const char *text)
{
    size_t len = strlen(text);
    if (len >= out_len)
        return -1;
    memcpy(out, text, len + 1);
    return 0;
}

/* Read `blob` into `p`. UDCS_EUSAGE: not a program; UDCS_EFORMAT: a newer format;
 * UDCS_ECORRUPT: cut short or damaged. */
static int program_parse(const void *blob, size_t len, struct kernel_program *p, char *why,
                         size_t why_len)
{
    const char *text = blob;
    size_t magic_len = strlen(PROGRAM_MAGIC);
    memset(p, 0, sizeof(*p));
    if (!blob || len <= magic_len || memcmp(text, PROGRAM_MAGIC " ", magic_len + 1) != 0)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "not a kernel program (it does not start with '%s'): pass what "
                           "kernel_build() wrote", PROGRAM_MAGIC);
    const char *nl = memchr(text, '\n', len < PROGRAM_HEADER_MAX ? len : PROGRAM_HEADER_MAX);
    if (!nl)
        return kernel_fail(UDCS_ECORRUPT, why, why_len,
                           "kernel program damaged: its first line does not end");
    char line[PROGRAM_HEADER_MAX + 1];
    memcpy(line, text, (size_t)(nl - text));
    line[nl - text] = '\0';
    char *f[PROGRAM_FIELDS];
    int n = split_fields(line, f, PROGRAM_FIELDS);
    if (n >= 2 && strcmp(f[1], "1") != 0)
        return kernel_fail(UDCS_EFORMAT, why, why_len,
                           "kernel program of format version %s; this build reads version "
                           "%d: build it again with this version", f[1], PROGRAM_VERSION);
    char *end = NULL;
    unsigned long long payload_len = n == PROGRAM_FIELDS ? strtoull(f[6], &end, 10) : 0;
    if (n != PROGRAM_FIELDS || !end || *end || f[6][0] == '-' ||
        (strcmp(f[2], "opencl") != 0 && strcmp(f[2], "cuda") != 0) ||
        copy_field(p->format, sizeof(p->format), f[3]) < 0 ||
        copy_field(p->entry, sizeof(p->entry), f[4]) < 0 ||
        copy_field(p->symbol, sizeof(p->symbol), f[5]) < 0)
        return kernel_fail(UDCS_ECORRUPT, why, why_len,
                           "kernel program damaged: its first line is not 'udcs-kernel-program "
                           "1 API FORMAT ENTRY SYMBOL BYTES'");
    p->api = strcmp(f[2], "cuda") == 0 ? KERNEL_API_CUDA : KERNEL_API_OPENCL;

    const char *cls = nl + 1;
    size_t rest = len - (size_t)(cls - text);
    const char *cls_end = memchr(cls, '\n', rest < sizeof(p->device_class)
                                                ? rest : sizeof(p->device_class));
    if (!cls_end)
        return kernel_fail(UDCS_ECORRUPT, why, why_len,
                           "kernel program damaged: no device class line");
    memcpy(p->device_class, cls, (size_t)(cls_end - cls));
    p->device_class[cls_end - cls] = '\0';
    p->payload = (const unsigned char *)cls_end + 1;
    size_t have = len - (size_t)((const char *)p->payload - text);
    if (payload_len != have)
        return kernel_fail(UDCS_ECORRUPT, why, why_len,
                           "kernel program damaged: %llu bytes of %s announced, %zu present",
                           payload_len, p->format, have);
    p->payload_len = have;
    return 0;
}

/* ---- launch space -------------------------------------------------------------------- */

/* Work-groups of `local` work-items that cover `global` (the last may be smaller). */
static size_t groups_of(size_t global, size_t local)
{
    return global / local + (global % local != 0);
}

static int space_from(const struct kernel_ndrange *nd, const struct kernel_range *range,
                      struct kernel_space *s, char *why, size_t why_len)
{
    memset(s, 0, sizeof(*s));
    if (!nd || nd->dims < 1 || nd->dims > 3)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "the index space needs 1, 2 or 3 dimensions (dims is %u)",
                           nd ? nd->dims : 0);
    s->dims = nd->dims;
    s->has_local = nd->local[0] != 0;
    for (unsigned d = 0; d < 3; d++) {
        int used = d < nd->dims;
        s->full_global[d] = s->global[d] = used ? nd->global[d] : 1;
        s->local[d] = used && s->has_local ? nd->local[d] : 1;
        if (used && nd->global[d] == 0)
            return kernel_fail(UDCS_EUSAGE, why, why_len,
                               "the index space is empty in dimension %u (global size 0)", d);
        if (used && s->has_local && nd->local[d] == 0)
            return kernel_fail(UDCS_EUSAGE, why, why_len,
                               "local size 0 in dimension %u: give every dimension a local "
                               "size, or local[0] = 0 to let the driver choose", d);
    }
    if (!range || range->count == 0)
        return 0;

    unsigned d = range->dim;
    if (d >= nd->dims)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "range over dimension %u of a %u-dimensional space", d, nd->dims);
    if (!s->has_local)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "a range of work-groups needs a local size (local[0] is 0)");
    size_t groups = groups_of(s->full_global[d], s->local[d]);
    if (range->first >= groups)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "range starts at work-group %zu of dimension %u, which has %zu",
                           range->first, d, groups);
    size_t count = range->count < groups - range->first ? range->count
                                                        : groups - range->first;
    s->is_range = 1;
    s->offset[d] = range->first * s->local[d];
    size_t left = s->full_global[d] - s->offset[d];
    s->global[d] = count * s->local[d] < left ? count * s->local[d] : left;
    return 0;
}

static int args_check(const char *entry, const struct kernel_arg *args, size_t n_args,
                      char *why, size_t why_len)
{
    if (n_args > 0 && !args)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: %zu arguments but no array",
                           entry, n_args);
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        switch (a->kind) {
        case KERNEL_ARG_BUFFER:
            if (a->bytes > 0 && !a->data)
                return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, a,
                                       "a buffer of %zu bytes without data", a->bytes);
            break;
        case KERNEL_ARG_SCALAR:
            if (a->bytes == 0 || !a->data)
                return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, a,
                                       "a scalar needs data and its size in bytes");
            break;
        case KERNEL_ARG_LOCAL:
            if (a->bytes == 0)
                return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, a,
                                       "local memory of 0 bytes");
            break;
        default:
            return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, a,
                                   "unknown kind %d", (int)a->kind);
        }
    }
    return 0;
}

/* ---- the interface ------------------------------------------------------------------- */

int kernel_device_open(enum kernel_api api, struct kernel_device **out, char *why,
                       size_t why_len)
{
    if (!out)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel_device_open: no output");
    *out = NULL;
    if (!api_is_valid(api))
        return kernel_fail(UDCS_EUSAGE, why, why_len, "unknown kernel API %d", (int)api);
    struct kernel_device *d = calloc(1, sizeof(*d));
    if (!d)
        return kernel_fail(-ENOMEM, why, why_len, "out of memory opening a device");
    d->api = api;
    d->backend = backend_of(api);
    int rc = d->backend->open(d, why, why_len);
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void kernel_device_close(struct kernel_device *d)
{
    if (!d)
        return;
    d->backend->close(d);
    free(d);
}

const char *kernel_device_class(const struct kernel_device *d)
{
    return d->device_class;
}

enum kernel_api kernel_device_api(const struct kernel_device *d)
{
    return d->api;
}

int kernel_api_available(enum kernel_api api, char *why, size_t why_len)
{
    if (!api_is_valid(api)) {
        kernel_fail(0, why, why_len, "unknown kernel API %d", (int)api);
        return 0;
    }
    return backend_of(api)->available(why, why_len);
}

int kernel_build(struct kernel_device *d, const char *source, size_t len, const char *options,
                 const char *entry, struct udcs_buf *program, struct udcs_buf *log,
                 char *why, size_t why_len)
{
    if (!d || !source || !program || !log)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "kernel_build needs a device, source, a program and a log buffer");
    if (!name_is_valid(entry))
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "kernel entry '%s' is not a name (one word of at most %d "
                           "characters)", entry ? entry : "", KERNEL_PROGRAM_NAME_BYTES - 1);
    /* OpenCL reads a source of length 0 as a C string, past what the caller gave. */
    if (len == 0)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: the source is empty", entry);
    udcs_buf_reset(program);
    udcs_buf_reset(log);
    if (!options)
        options = "";
    return d->backend->build(d, source, len, options, entry, program, log, why, why_len);
}

int kernel_launch(struct kernel_device *d, const void *program, size_t program_len,
                  const char *entry, const struct kernel_arg *args, size_t n_args,
                  const struct kernel_ndrange *nd, const struct kernel_range *range,
                  char *why, size_t why_len)
{
    struct kernel_program p;
    struct kernel_space space;
    if (!d)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel_launch: no device");
    int rc = program_parse(program, program_len, &p, why, why_len);
    if (rc < 0)
        return rc;
    if (!entry || !*entry)
        entry = p.entry;   /* the one it was built for */
    if (!name_is_valid(entry))
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel entry '%s' is not a name",
                           entry);
    if (p.api != d->api)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "kernel %s was built for %s, and this device is %s: build it "
                           "for this device", entry, api_name(p.api), api_name(d->api));
    if (strcmp(p.device_class, d->device_class) != 0)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "kernel %s was built for device class '%s', and this device is "
                           "'%s': build it for this device", entry, p.device_class,
                           d->device_class);
    rc = args_check(entry, args, n_args, why, why_len);
    if (rc == 0)
        rc = space_from(nd, range, &space, why, why_len);
    if (rc < 0)
        return rc;
    return d->backend->launch(d, &p, entry, args, n_args, &space, why, why_len);
}

int kernel_run_source(struct kernel_device *d, const char *source, size_t len,
                      const char *options, const char *entry, const struct kernel_arg *args,
                      size_t n_args, const struct kernel_ndrange *nd, char *why,
                      size_t why_len)
{
    struct udcs_buf program = UDCS_BUF_INIT(RUN_PROGRAM_MAX_BYTES);
    struct udcs_buf log = UDCS_BUF_INIT(RUN_LOG_MAX_BYTES);
    int rc = kernel_build(d, source, len, options, entry, &program, &log, why, why_len);
    if (rc == 0)
        rc = kernel_launch(d, program.data, program.len, entry, args, n_args, nd, NULL, why,
                           why_len);
    udcs_buf_release(&program);
    udcs_buf_release(&log);
    return rc;
}

/* ---- the range prelude --------------------------------------------------------------- */

/* "(d) == 0 ? A : (d) == 1 ? B : C" with the values of the three dimensions. */
static int append_per_dim(struct udcs_buf *out, const char *macro, const size_t v[3])
{
    return udcs_buf_appendf(out, "#define %s(d) ((size_t)((d) == 0 ? %zu : (d) == 1 ? %zu : "
                            "(d) == 2 ? %zu : 1))\n", macro, v[0], v[1], v[2]);
}

int kernel_range_prelude(enum kernel_api api, const struct kernel_ndrange *nd,
                         struct udcs_buf *out)
{
    struct kernel_space s;
    if (!api_is_valid(api) || !out || space_from(nd, NULL, &s, NULL, 0) < 0)
        return UDCS_EUSAGE;
    size_t groups[3];
    for (int d = 0; d < 3; d++)
        groups[d] = groups_of(s.full_global[d], s.local[d]);

    int rc;
    if (api == KERNEL_API_OPENCL) {
        /* A range runs with a global work offset, so get_global_id() is right as it is;
         * the group id is counted from the offset and needs it added back. Dividing by
         * the local size of the launch, not get_local_size(), keeps a last, smaller
         * work-group right where the device allows those. */
        rc = udcs_buf_append_str(out,
                                 "/* udcs: kernel_range_prelude(): group ids, group counts "
                                 "and global sizes of the whole index space */\n");
        if (rc == 0 && s.has_local)
            rc = udcs_buf_appendf(out, "#define get_group_id(d) (get_group_id(d) + "
                                  "get_global_offset(d) / ((d) == 0 ? %zu : (d) == 1 ? %zu "
                                  ": (d) == 2 ? %zu : 1))\n",
                                  s.local[0], s.local[1], s.local[2]);
        else if (rc == 0)   /* no ranges without a local size: the offset is 0 */
            rc = udcs_buf_append_str(out, "#define get_group_id(d) (get_group_id(d) + "
                                          "get_global_offset(d) / get_local_size(d))\n");
        if (rc == 0)
            rc = append_per_dim(out, "get_global_size", s.full_global);
        if (rc == 0 && s.has_local)
            rc = append_per_dim(out, "get_num_groups", groups);
        return rc;
    }

    if (!s.has_local)
        return UDCS_EUSAGE;   /* CUDA has no launch without a block size */
    /* The offset is a definition in braces: a declaration directly under extern "C" is
     * only a declaration, which whole-program compilation refuses for __constant__.
     * The functions come before the macros so that their bodies use the built-ins. */
    return udcs_buf_appendf(
        out,
        "/* udcs: kernel_range_prelude(): blockIdx and gridDim of the whole grid */\n"
        "extern \"C\" { __constant__ unsigned int udcs_range_block_offset[3]; }\n"
        "static __device__ __forceinline__ uint3 udcs_block_idx(void)\n"
        "{\n"
        "    return make_uint3(blockIdx.x + udcs_range_block_offset[0],\n"
        "                      blockIdx.y + udcs_range_block_offset[1],\n"
        "                      blockIdx.z + udcs_range_block_offset[2]);\n"
        "}\n"
        "static __device__ __forceinline__ dim3 udcs_grid_dim(void)\n"
        "{\n"
        "    return dim3(%zuu, %zuu, %zuu);\n"
        "}\n"
        "#define blockIdx (udcs_block_idx())\n"
        "#define gridDim (udcs_grid_dim())\n",
        groups[0], groups[1], groups[2]);
}
