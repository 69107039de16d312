/* kernels/kernel_exec.c - udcs-kernel's run and merge (kernel_exec.h): a launch description
 * read, its buffers filled from files, the kernel run on this agent's device, what it wrote
 * saved whole or as a patch; and the patches of range units merged into whole outputs. */
#include "kernels/kernel_exec.h"
#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "kernels/kernel_job.h"
#include "kernels/kernel_sig.h"
#include "kernels/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Launch and merge descriptions are small; programs may be tens of megabytes. */
#define DESCRIPTION_MAX_BYTES (64u << 20)
#define PROGRAM_MAX_BYTES (1u << 30)
/* A record header: offset and length. Equal bytes shorter than this between two changed
 * runs cost less inside one record than as a second one. */
#define PATCH_RECORD_BYTES 16

/* ---- patches ------------------------------------------------------------------------------ */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int kernel_patch_make(const uint8_t *before, const uint8_t *after, size_t len,
                      struct udcs_buf *out)
{
    int rc = udcs_buf_append(out, KERNEL_PATCH_MAGIC, KERNEL_PATCH_MAGIC_BYTES);
    size_t i = 0;
    while (rc == 0 && i < len) {
        if (before[i] == after[i]) {
            i++;
            continue;
        }
        size_t start = i, end = i + 1;   /* [start, end) changed, gaps included */
        for (size_t k = end; k < len && k - end < PATCH_RECORD_BYTES; k++)
            if (before[k] != after[k])
                end = k + 1;
        while (end < len) {   /* extend while the next change is close */
            size_t k = end;
            while (k < len && k - end < PATCH_RECORD_BYTES && before[k] == after[k])
                k++;
            if (k == len || k - end >= PATCH_RECORD_BYTES)
                break;
            end = k + 1;
        }
        uint8_t head[PATCH_RECORD_BYTES];
        put_u64(head, start);
        put_u64(head + 8, end - start);
        rc = udcs_buf_append(out, head, sizeof(head));
        if (rc == 0)
            rc = udcs_buf_append(out, after + start, end - start);
        i = end;
    }
    return rc;
}

int kernel_patch_apply(uint8_t *buf, const uint8_t *initial, uint8_t *written, size_t len,
                       const uint8_t *patch, size_t patch_len, size_t *conflict_at,
                       char *why, size_t why_len)
{
    if (patch_len < KERNEL_PATCH_MAGIC_BYTES ||
        memcmp(patch, KERNEL_PATCH_MAGIC, KERNEL_PATCH_MAGIC_BYTES) != 0)
        return udcs_fail(UDCS_EUSAGE, why, why_len,
                         "not a kernel patch (it does not start with %s)", KERNEL_PATCH_MAGIC);
    size_t at = KERNEL_PATCH_MAGIC_BYTES;
    uint64_t prev_end = 0;
    while (at < patch_len) {
        if (patch_len - at < PATCH_RECORD_BYTES) {
            udcs_why(why, why_len, "the patch is cut inside a record header at byte %zu", at);
            return UDCS_EUSAGE;
        }
        uint64_t off = get_u64(patch + at), n = get_u64(patch + at + 8);
        at += PATCH_RECORD_BYTES;
        if (n == 0 || off < prev_end || off > len || n > len - off || n > patch_len - at) {
            udcs_why(why, why_len, "patch record at byte %zu (offset %llu, %llu bytes) is empty, "
                     "out of order, past the %zu-byte buffer or past the patch's end",
                     at - PATCH_RECORD_BYTES, (unsigned long long)off, (unsigned long long)n,
                     len);
            return UDCS_EUSAGE;
        }
        for (uint64_t k = 0; k < n; k++) {
            size_t b = (size_t)(off + k);
            uint8_t v = patch[at + k];
            if (v == initial[b])
                continue;
            if (written[b / 8] & (1u << (b % 8))) {
                /* even to the same value: equal partial results of a counter or a sum
                 * (atomics across work-groups) would otherwise merge into a wrong total */
                *conflict_at = b;
                return -EEXIST;
            }
            buf[b] = v;
            written[b / 8] |= (uint8_t)(1u << (b % 8));
        }
        at += (size_t)n;
        prev_end = off + n;
    }
    return 0;
}

/* ---- reading descriptions ------------------------------------------------------------------ */

static int read_json_file(const char *path, json_t **out, char *why, size_t why_len)
{
    struct udcs_buf text = UDCS_BUF_INIT(DESCRIPTION_MAX_BYTES);
    int rc = udcs_read_file(path, &text);
    if (rc < 0) {
        udcs_buf_release(&text);
        udcs_why(why, why_len, "cannot read %s: %s", path, udcs_strerror(rc));
        return rc;
    }
    char reason[256];
    rc = udcs_json_parse(text.data, text.len, out, reason, sizeof(reason));
    udcs_buf_release(&text);
    if (rc < 0 || !json_is_object(*out)) {
        if (rc == 0)
            json_decref(*out);
        *out = NULL;
        udcs_why(why, why_len, "%s is not a JSON object: %s", path,
                 rc < 0 ? reason : "another JSON value");
        return UDCS_EUSAGE;
    }
    return 0;
}

/* A file of exactly `bytes` bytes into a new buffer (at least 1 byte allocated). */
static int read_exact(const char *path, size_t bytes, uint8_t **out, char *why, size_t why_len)
{
    struct udcs_buf b = UDCS_BUF_INIT(bytes + 1);
    int rc = udcs_read_file(path, &b);
    if (rc < 0 || b.len != bytes) {
        udcs_buf_release(&b);
        if (rc < 0 && rc != UDCS_ETOOBIG)
            udcs_why(why, why_len, "cannot read %s: %s", path, udcs_strerror(rc));
        else
            udcs_why(why, why_len, "%s does not have the %zu bytes the launch expects", path,
                     bytes);
        if (rc == 0 || rc == UDCS_ETOOBIG)
            rc = UDCS_EUSAGE;
        return rc;
    }
    *out = b.data ? (uint8_t *)b.data : calloc(1, 1);
    return *out ? 0 : -ENOMEM;
}

static int write_out(const char *path, const void *data, size_t len, char *why, size_t why_len)
{
    char *slash = strrchr(path, '/');
    if (slash) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
        udcs_mkdir_p(dir, 0755);
    }
    int rc = udcs_write_atomic(path, data, len, 0644);
    if (rc < 0)
        udcs_why(why, why_len, "cannot write %s: %s", path, udcs_strerror(rc));
    return rc;
}

static int read_sizes3(const json_t *launch, const char *key, size_t out[3])
{
    json_t *a = json_object_get(launch, key);
    if (json_array_size(a) != 3)
        return -1;
    for (size_t d = 0; d < 3; d++) {
        json_t *v = json_array_get(a, d);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return -1;
        out[d] = (size_t)json_integer_value(v);
    }
    return 0;
}

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ---- the pinned device ------------------------------------------------------------------- */

int kernel_check_pinned_device(const struct kernel_device *d, char *why, size_t why_len)
{
    const char *pin = getenv(KERNEL_PINNED_ENV);
    const char *toolchain = kernel_api_toolchain(kernel_device_api(d));
    size_t tl = strlen(toolchain);
    if (!pin || strncmp(pin, toolchain, tl) != 0 || pin[tl] != '@')
        return 0;   /* not pinned (run by hand), or pinned for another toolchain */
    /* as the agent fingerprinted it: this program's file, and the class after "API " */
    const char *cls = kernel_device_class(d), *version = strchr(cls, ' ');
    struct cas_digest self;
    char self_hex[CAS_HEX_LEN + 1], fp[CAS_HEX_LEN + 1];
    int rc = cas_digest_of_file("/proc/self/exe", &self);
    if (rc < 0) {
        udcs_why(why, why_len, "cannot read this program to check the pinned device class: %s",
                 udcs_strerror(rc));
        return rc;
    }
    cas_fingerprint_with_version(cas_digest_hex(&self, self_hex), version ? version + 1 : cls,
                                 fp);
    if (strcmp(fp, pin + tl + 1) == 0)
        return 0;
    udcs_why(why, why_len, "this unit is pinned to %s, but here udcs-kernel and the device "
             "(%s) give %s@%s: the agent advertised another device or build than its units "
             "open (is udcs-kernel on the agent's PATH the one it detected? do its "
             "UDCS_OPENCL_DEVICE, UDCS_CUDA_DEVICE or CUDA_VISIBLE_DEVICES differ?)", pin, cls,
             toolchain, fp);
    return UDCS_EUSAGE;
}

/* ---- run ------------------------------------------------------------------------------------ */

struct run_state {
    struct kernel_arg args[KERNEL_MAX_PARAMS];
    uint8_t *initial[KERNEL_MAX_PARAMS];   /* writable buffers before the launch */
    const char *outputs[KERNEL_MAX_PARAMS];
    size_t n;
};

static void run_state_release(struct run_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->args[i].kind != KERNEL_ARG_LOCAL)
            free(st->args[i].data);
        free(st->initial[i]);
    }
}

/* Fill st->args[i] from launch argument `a`. */
static int read_arg(struct run_state *st, size_t i, const json_t *a, int patches, char *why,
                    size_t why_len)
{
    struct kernel_arg *arg = &st->args[i];
    const char *name = json_string_value(json_object_get(a, "name"));
    const char *kind = json_string_value(json_object_get(a, "kind"));
    json_t *bytes = json_object_get(a, "bytes");
    arg->name = name ? name : "?";
    if (!name || !kind)
        return udcs_fail(UDCS_EUSAGE, why, why_len, "launch argument %zu needs a name and a "
                         "kind", i);
    if (strcmp(kind, "scalar") == 0) {
        const char *hex = json_string_value(json_object_get(a, "hex"));
        size_t n = hex ? strlen(hex) : 0;
        uint8_t *v = calloc(8, 1);
        if (!v)
            return -ENOMEM;
        arg->kind = KERNEL_ARG_SCALAR;
        arg->data = v;
        arg->bytes = n / 2;
        if (!hex || n == 0 || n % 2 || n > 16) {
            udcs_why(why, why_len, "launch argument %s: a scalar needs \"hex\" bytes", name);
            return UDCS_EUSAGE;
        }
        for (size_t k = 0; k < n / 2; k++) {
            int hi = hex_nibble(hex[2 * k]), lo = hex_nibble(hex[2 * k + 1]);
            if (hi < 0 || lo < 0) {
                udcs_why(why, why_len, "launch argument %s: \"hex\" is not hexadecimal", name);
                return UDCS_EUSAGE;
            }
            v[k] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
    }
    if (!json_is_integer(bytes) || json_integer_value(bytes) < 0 ||
        (uint64_t)json_integer_value(bytes) > KERNEL_BUFFER_MAX_BYTES) {
        udcs_why(why, why_len, "launch argument %s needs its size in bytes", name);
        return UDCS_EUSAGE;
    }
    arg->bytes = (size_t)json_integer_value(bytes);
    if (strcmp(kind, "local") == 0) {
        arg->kind = KERNEL_ARG_LOCAL;
        return 0;
    }
    if (strcmp(kind, "buffer") != 0) {
        udcs_why(why, why_len, "launch argument %s: unknown kind '%s'", name, kind);
        return UDCS_EUSAGE;
    }
    arg->kind = KERNEL_ARG_BUFFER;
    arg->writable = json_is_true(json_object_get(a, "write"));
    const char *file = json_string_value(json_object_get(a, "file"));
    int rc;
    if (file) {
        uint8_t *data;
        if ((rc = read_exact(file, arg->bytes, &data, why, why_len)) < 0)
            return rc;
        arg->data = data;
    } else if (!(arg->data = calloc(arg->bytes ? arg->bytes : 1, 1))) {
        udcs_why(why, why_len, "cannot allocate %zu bytes for %s", arg->bytes, name);
        return -ENOMEM;
    }
    if (arg->writable) {
        st->outputs[i] = json_string_value(json_object_get(a, "output"));
        if (!st->outputs[i] || !udcs_path_is_contained(st->outputs[i])) {
            udcs_why(why, why_len, "launch argument %s is written but has no output path inside "
                     "the unit", name);
            return UDCS_EUSAGE;
        }
        if (patches) {
            if (!(st->initial[i] = malloc(arg->bytes ? arg->bytes : 1)))
                return -ENOMEM;
            memcpy(st->initial[i], arg->data, arg->bytes);
        }
    }
    return 0;
}

int kernel_exec_run(const char *launch_path, char *why, size_t why_len)
{
    json_t *launch;
    int rc = read_json_file(launch_path, &launch, why, why_len);
    if (rc < 0)
        return rc;
    struct run_state *st = calloc(1, sizeof(*st));
    struct kernel_device *dev = NULL;
    struct kernel_ndrange nd = { 0 };
    struct kernel_range range = { 0, 0, 0 };
    uint8_t *program = NULL;
    size_t program_len = 0;
    const char *api = json_string_value(json_object_get(launch, "api"));
    const char *entry = json_string_value(json_object_get(launch, "entry"));
    const char *program_path = json_string_value(json_object_get(launch, "program"));
    json_t *args = json_object_get(launch, "args"), *r = json_object_get(launch, "range");
    json_t *dims = json_object_get(launch, "dims");
    if (!st)
        rc = -ENOMEM;
    else if (!api || (strcmp(api, "opencl") && strcmp(api, "cuda")) || !entry ||
             !program_path || !json_is_array(args) || !json_is_integer(dims) ||
             json_integer_value(dims) < 1 || json_integer_value(dims) > 3 ||
             read_sizes3(launch, "global", nd.global) < 0 ||
             read_sizes3(launch, "local", nd.local) < 0 ||
             json_array_size(args) > KERNEL_MAX_PARAMS)
        rc = udcs_fail(UDCS_EUSAGE, why, why_len, "%s is not a launch description (api, "
                       "entry, program, dims, global, local, args)", launch_path);
    if (rc == 0 && r) {
        json_t *dim = json_object_get(r, "dim"), *first = json_object_get(r, "first"),
               *count = json_object_get(r, "count");
        if (!json_is_integer(dim) || !json_is_integer(first) || !json_is_integer(count) ||
            json_integer_value(dim) < 0 || json_integer_value(dim) > 2 ||
            json_integer_value(first) < 0 || json_integer_value(count) < 1)
            rc = udcs_fail(UDCS_EUSAGE, why, why_len, "%s: range needs dim, first and count",
                           launch_path);
        range.dim = (unsigned)json_integer_value(dim);
        range.first = (size_t)json_integer_value(first);
        range.count = (size_t)json_integer_value(count);
    }
    nd.dims = rc == 0 ? (unsigned)json_integer_value(dims) : 1;
    if (rc == 0) {
        struct udcs_buf p = UDCS_BUF_INIT(PROGRAM_MAX_BYTES);
        rc = udcs_read_file(program_path, &p);
        if (rc < 0)
            udcs_why(why, why_len, "cannot read the program %s: %s", program_path,
                     udcs_strerror(rc));
        program = (uint8_t *)p.data;
        program_len = p.len;
    }
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a) {
        if (rc < 0)
            break;
        st->n = i + 1;
        rc = read_arg(st, i, a, r != NULL, why, why_len);
    }
    if (rc == 0)
        rc = kernel_device_open(strcmp(api, "cuda") == 0 ? KERNEL_API_CUDA : KERNEL_API_OPENCL,
                                &dev, why, why_len);
    if (rc == 0)
        rc = kernel_check_pinned_device(dev, why, why_len);
    if (rc == 0)
        rc = kernel_launch(dev, program, program_len, entry, st->args, st->n, &nd,
                           r ? &range : NULL, why, why_len);
    for (i = 0; rc == 0 && i < st->n; i++) {
        struct kernel_arg *arg = &st->args[i];
        if (arg->kind != KERNEL_ARG_BUFFER || !arg->writable)
            continue;
        if (!r) {
            rc = write_out(st->outputs[i], arg->data, arg->bytes, why, why_len);
            continue;
        }
        struct udcs_buf patch = UDCS_BUF_INIT(2 * arg->bytes + 64);
        rc = kernel_patch_make(st->initial[i], arg->data, arg->bytes, &patch);
        if (rc == 0)
            rc = write_out(st->outputs[i], patch.data, patch.len, why, why_len);
        else
            udcs_why(why, why_len, "out of memory making the patch of %s", arg->name);
        udcs_buf_release(&patch);
    }
    kernel_device_close(dev);
    if (st)
        run_state_release(st);
    free(st);
    free(program);
    json_decref(launch);
    return rc;
}

/* ---- merge ---------------------------------------------------------------------------------- */

static int merge_one(const json_t *o, char *why, size_t why_len)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *output = json_string_value(json_object_get(o, "output"));
    const char *initial_path = json_string_value(json_object_get(o, "initial"));
    json_t *bytes = json_object_get(o, "bytes"), *patches = json_object_get(o, "patches");
    if (!name || !output || !udcs_path_is_contained(output) || !json_is_integer(bytes) ||
        json_integer_value(bytes) < 0 ||
        (uint64_t)json_integer_value(bytes) > KERNEL_BUFFER_MAX_BYTES || !json_is_array(patches))
        return udcs_fail(UDCS_EUSAGE, why, why_len,
                         "a merge output needs name, output, bytes and patches");
    size_t len = (size_t)json_integer_value(bytes);
    uint8_t *initial = NULL, *buf = malloc(len ? len : 1), *written = calloc(len / 8 + 1, 1);
    int rc = buf && written ? 0 : -ENOMEM;
    if (rc == 0 && initial_path)
        rc = read_exact(initial_path, len, &initial, why, why_len);
    else if (rc == 0 && !(initial = calloc(len ? len : 1, 1)))
        rc = -ENOMEM;
    if (rc == 0)
        memcpy(buf, initial, len);
    size_t i;
    json_t *p;
    json_array_foreach(patches, i, p) {
        if (rc < 0)
            break;
        const char *path = json_string_value(p);
        struct udcs_buf patch = UDCS_BUF_INIT(2 * len + 64 + (size_t)16 * (len / 16 + 1));
        rc = path ? udcs_read_file(path, &patch) : UDCS_EUSAGE;
        if (rc < 0) {
            udcs_why(why, why_len, "cannot read patch %s of %s: %s", path ? path : "?", name,
                     udcs_strerror(rc));
            udcs_buf_release(&patch);
            break;
        }
        size_t at = 0;
        char reason[256];
        rc = kernel_patch_apply(buf, initial, written, len, (const uint8_t *)patch.data,
                                patch.len, &at, reason, sizeof(reason));
        if (rc == -EEXIST)
            udcs_why(why, why_len, "ranges overlap on byte %zu of %s (range %zu changes a byte "
                     "an earlier range changed): the kernel combines results across "
                     "work-groups (atomics, a shared counter), which split ranges cannot "
                     "reproduce; run it without split", at, name, i);
        else if (rc < 0)
            udcs_why(why, why_len, "patch %s of %s: %s", path, name, reason);
        udcs_buf_release(&patch);
    }
    if (rc == 0)
        rc = write_out(output, buf, len, why, why_len);
    if (rc == -ENOMEM)
        udcs_why(why, why_len, "cannot allocate the %zu bytes of %s", len, name);
    free(initial);
    free(buf);
    free(written);
    return rc;
}

int kernel_exec_merge(const char *merge_path, char *why, size_t why_len)
{
    json_t *merge;
    int rc = read_json_file(merge_path, &merge, why, why_len);
    if (rc < 0)
        return rc;
    json_t *outputs = json_object_get(merge, "outputs"), *o;
    if (!json_is_array(outputs))
        rc = udcs_fail(UDCS_EUSAGE, why, why_len, "%s has no outputs list", merge_path);
    size_t i;
    json_array_foreach(outputs, i, o) {
        if (rc < 0)
            break;
        rc = merge_one(o, why, why_len);
    }
    json_decref(merge);
    return rc;
}
