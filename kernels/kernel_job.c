/* kernels/kernel_job.c - a CUDA_KERNEL or OPENCL_KERNEL job checked, its data bound to the
 * kernel's parameters and split into units (kernel_job.h, docs/KERNELS.md). */
#include "kernels/kernel_job.h"
#include "cas/cas.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "kernels/kernel_sig.h"
#include "toolchains/job_fields.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most work-items of one launch: beyond what any device runs in one go, and far from
 * overflowing the sizes computed from it. */
#define KERNEL_MAX_WORK_ITEMS (1ull << 40)
#define KERNEL_MAX_DIM_SIZE 0xffffffffull
/* Nested JSON arrays (a matrix as rows) are flattened up to this depth. */
#define KERNEL_JSON_MAX_DEPTH 4

int kernel_job_api(const char *type)
{
    if (type && strcmp(type, "OPENCL_KERNEL") == 0)
        return KERNEL_API_OPENCL;
    if (type && strcmp(type, "CUDA_KERNEL") == 0)
        return KERNEL_API_CUDA;
    return -1;
}

const char *kernel_api_toolchain(enum kernel_api api)
{
    return api == KERNEL_API_CUDA ? KERNEL_TOOLCHAIN_CUDA : KERNEL_TOOLCHAIN_OPENCL;
}

const char *kernel_api_name(enum kernel_api api)
{
    return api == KERNEL_API_CUDA ? "CUDA" : "OpenCL";
}

/* ---- what each parameter gets ------------------------------------------------------------- */

struct binding {
    const struct kernel_param *p;
    size_t elem_bytes;          /* one element, vector width included */
    size_t count;               /* buffers and local memory: elements */
    int has_data;               /* a buffer given in data (an input, or in/out) */
    char digest[CAS_HEX_LEN + 32];   /* its blob, HEX/SIZE */
    int writable;               /* a buffer the kernel may write: an output of the units */
    unsigned char scalar[8];    /* scalars: the value's bytes */
    int length_inferred;        /* a scalar taken from the arrays' length */
};

struct plan {
    enum kernel_api api;
    struct kernel_sig sig;
    struct binding b[KERNEL_MAX_PARAMS];
    unsigned dims;
    size_t global[3], local[3];
    uint64_t work_items;
};

static int put_blob(struct cas_store *cs, const void *data, size_t len, char *digest_text,
                    char *why, size_t why_len)
{
    struct cas_digest d;
    int rc = cas_store_put_bytes(cs, data, len, &d);
    if (rc < 0)
        return udcs_why(why, why_len, "the master cannot store a blob: %s", udcs_strerror(rc));
    char hex[CAS_HEX_LEN + 1];
    snprintf(digest_text, CAS_HEX_LEN + 32, "%s/%llu", cas_digest_hex(&d, hex),
             (unsigned long long)d.size);
    return 0;
}

/* Count the numbers of a (nested) JSON array; -1 when something else is in it. */
static long long count_numbers(const json_t *a, int depth)
{
    long long n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_number(v)) {
            n++;
        } else if (json_is_array(v) && depth < KERNEL_JSON_MAX_DEPTH) {
            long long k = count_numbers(v, depth + 1);
            if (k < 0)
                return -1;
            n += k;
        } else {
            return -1;
        }
        if (n > KERNEL_JSON_ARRAY_MAX)
            return n;
    }
    return n;
}

/* Store the numbers of `a` (flattened) as elements of `e` at out; *at counts numbers. */
static int store_numbers(const json_t *a, enum kernel_elem e, unsigned char *out, size_t *at,
                         const char *name, char *why, size_t why_len)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_array(v)) {
            if (store_numbers(v, e, out, at, name, why, why_len) < 0)
                return -1;
            continue;
        }
        int is_int = json_is_integer(v);
        if (kernel_elem_store(e, is_int, is_int ? json_integer_value(v) : 0,
                              json_number_value(v), out + *at * kernel_elem_size(e)) < 0) {
            char text[64];
            if (is_int)
                snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
            else
                snprintf(text, sizeof(text), "%.17g", json_number_value(v));
            return udcs_why(why, why_len, "data '%s': element %zu is %s, which is not a %s", name,
                            *at, text, kernel_elem_name(e));
        }
        (*at)++;
    }
    return 0;
}

/* A buffer parameter given in data: JSON numbers or a blob. */
static int bind_array(struct plan *pl, struct binding *b, const json_t *v,
                      struct cas_store *cs, char *why, size_t why_len)
{
    const struct kernel_param *p = b->p;
    size_t per = (size_t)(b->elem_bytes / kernel_elem_size(p->elem));   /* numbers per element */
    if (json_is_array(v)) {
        long long n = count_numbers(v, 1);
        if (n < 0)
            return udcs_why(why, why_len, "data '%s' must be an array of numbers (nested arrays "
                            "are read row by row)", p->name);
        if (n > KERNEL_JSON_ARRAY_MAX)
            return udcs_why(why, why_len, "data '%s' has more than %d numbers: send large "
                            "arrays as blobs ({\"digest\": \"HEX/SIZE\", \"type\": \"%s\"}, "
                            "uploaded with PUT /cas/HEX; udcs kernel does this for files)",
                            p->name, KERNEL_JSON_ARRAY_MAX, kernel_elem_name(p->elem));
        size_t width = (size_t)p->width;
        if ((size_t)n % width != 0)
            return udcs_why(why, why_len, "data '%s' has %lld numbers, not a whole number of "
                            "%s (%zu each)", p->name, n, p->type_text, width);
        b->count = (size_t)n / width;
        unsigned char *bytes = calloc(b->count ? b->count : 1, b->elem_bytes);
        if (!bytes)
            return -ENOMEM;
        /* an OpenCL 3-vector holds 4 numbers, the 4th unused: store them one element apart */
        int rc = 0;
        size_t at = 0;
        if (per == width) {
            rc = store_numbers(v, p->elem, bytes, &at, p->name, why, why_len);
        } else {
            unsigned char *packed = calloc((size_t)n ? (size_t)n : 1, kernel_elem_size(p->elem));
            rc = packed ? store_numbers(v, p->elem, packed, &at, p->name, why, why_len) : -ENOMEM;
            size_t es = kernel_elem_size(p->elem);
            for (size_t k = 0; rc == 0 && k < b->count; k++)
                memcpy(bytes + k * b->elem_bytes, packed + k * width * es, width * es);
            free(packed);
        }
        if (rc == 0)
            rc = put_blob(cs, bytes, b->count * b->elem_bytes, b->digest, why, why_len);
        free(bytes);
        return rc;
    }
    const char *digest = json_string_value(json_object_get(v, "digest"));
    const char *type = json_string_value(json_object_get(v, "type"));
    json_t *k;
    const char *key;
    json_object_foreach((json_t *)v, key, k)
        if (strcmp(key, "digest") != 0 && strcmp(key, "type") != 0)
            return udcs_why(why, why_len, "data '%s': unknown field '%s' (an array blob is "
                            "{\"digest\": \"HEX/SIZE\", \"type\": \"%s\"})", p->name, key,
                            kernel_elem_name(p->elem));
    if (!json_is_object(v) || !digest)
        return udcs_why(why, why_len, "data '%s' is parameter %s of kernel %s: give an array of "
                        "numbers or {\"digest\": \"HEX/SIZE\", \"type\": \"%s\"}", p->name,
                        p->type_text, pl->sig.entry, kernel_elem_name(p->elem));
    if (type && kernel_elem_by_name(type) != p->elem)
        return udcs_why(why, why_len, "data '%s' is %s, but the kernel's parameter is %s (%s "
                        "elements)", p->name, type, p->type_text, kernel_elem_name(p->elem));
    struct cas_digest d;
    int sized = 0;
    if (cas_digest_parse(digest, &d, &sized) < 0 || !sized)
        return udcs_why(why, why_len, "data '%s': '%s' is not a digest written HEX/SIZE",
                        p->name, digest);
    if (!cas_store_has(cs, &d))
        return udcs_why(why, why_len, "data '%s' names blob %s, which the master does not have; "
                        "upload it first (PUT /cas/%.32s)", p->name, digest, digest);
    if (d.size % b->elem_bytes != 0)
        return udcs_why(why, why_len, "data '%s': the blob has %llu bytes, not a whole number "
                        "of %s elements (%zu bytes each)", p->name, (unsigned long long)d.size,
                        p->type_text, b->elem_bytes);
    b->count = (size_t)(d.size / b->elem_bytes);
    snprintf(b->digest, sizeof(b->digest), "%s", digest);
    return 0;
}

static int bind_scalar(struct binding *b, const json_t *v, char *why, size_t why_len)
{
    const struct kernel_param *p = b->p;
    if (!json_is_number(v))
        return udcs_why(why, why_len, "data '%s' must be a number: the kernel's parameter is %s",
                        p->name, p->type_text);
    int is_int = json_is_integer(v);
    if (kernel_elem_store(p->elem, is_int, is_int ? json_integer_value(v) : 0,
                          json_number_value(v), b->scalar) < 0)
        return udcs_why(why, why_len, "data '%s' does not fit the kernel's parameter type %s "
                        "(a fraction for an integer, or out of range)", p->name, p->type_text);
    return 0;
}

/* The element count of output `name` from "outputs". 0 when not listed. */
static int output_count(const json_t *outputs, const char *name, size_t *count, char *why,
                        size_t why_len)
{
    json_t *o = json_object_get(outputs, name);
    *count = 0;
    if (!o)
        return 0;
    json_t *n = json_is_object(o) ? json_object_get(o, "count") : o;
    if (!json_is_integer(n) || json_integer_value(n) < 1)
        return udcs_why(why, why_len, "outputs '%s' must be an element count (a whole number "
                        "from 1) or {\"count\": N}", name);
    *count = (size_t)json_integer_value(n);
    return 0;
}

/* Bind every parameter; `length` is the common element count of the input arrays, or -1. */
static int bind_all(struct plan *pl, json_t *job, struct cas_store *cs, char *why,
                    size_t why_len)
{
    json_t *data = json_object_get(job, "data"), *outputs = json_object_get(job, "outputs");
    if (data && !json_is_object(data))
        return udcs_why(why, why_len, "field 'data' must be an object: parameter name -> value");
    if (outputs && !json_is_object(outputs))
        return udcs_why(why, why_len, "field 'outputs' must be an object: parameter name -> "
                        "element count");
    char params[512] = "";
    for (size_t i = 0, at = 0; i < pl->sig.n_params && at < sizeof(params); i++)
        at += (size_t)snprintf(params + at, sizeof(params) - at, "%s%s", i ? ", " : "",
                               pl->sig.params[i].name);
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v) {
        size_t i;
        for (i = 0; i < pl->sig.n_params && strcmp(pl->sig.params[i].name, key) != 0; i++)
            ;
        if (i == pl->sig.n_params)
            return udcs_why(why, why_len, "data '%s' matches no parameter of kernel %s (its "
                            "parameters: %s)", key, pl->sig.entry, params);
    }
    /* arrays first: scalars and outputs may take their length */
    long long length = -2;   /* -2: no array yet; -1: arrays of different lengths */
    char lengths[256] = "";
    size_t lengths_at = 0;
    for (size_t i = 0; i < pl->sig.n_params; i++) {
        struct binding *b = &pl->b[i];
        const struct kernel_param *p = b->p = &pl->sig.params[i];
        b->elem_bytes = kernel_param_elem_bytes(pl->api, p);
        json_t *given = json_object_get(data, p->name);
        if (p->kind == KERNEL_PARAM_SCALAR || p->kind == KERNEL_PARAM_LOCAL || !given)
            continue;
        int rc = bind_array(pl, b, given, cs, why, why_len);
        if (rc < 0)
            return rc;
        b->has_data = 1;
        b->writable = !p->is_const;
        length = length == -2 || length == (long long)b->count ? (long long)b->count : -1;
        if (lengths_at < sizeof(lengths))
            lengths_at += (size_t)snprintf(lengths + lengths_at, sizeof(lengths) - lengths_at,
                                           "%s%s: %zu", lengths_at ? ", " : "", p->name,
                                           b->count);
    }
    json_object_foreach(outputs, key, v) {
        size_t i;
        for (i = 0; i < pl->sig.n_params && strcmp(pl->sig.params[i].name, key) != 0; i++)
            ;
        if (i == pl->sig.n_params || pl->sig.params[i].kind == KERNEL_PARAM_SCALAR ||
            pl->sig.params[i].kind == KERNEL_PARAM_LOCAL || pl->b[i].has_data)
            return udcs_why(why, why_len, "outputs '%s' is not an output of kernel %s: outputs "
                            "are its pointer parameters that data does not give (its "
                            "parameters: %s)", key, pl->sig.entry, params);
    }
    for (size_t i = 0; i < pl->sig.n_params; i++) {
        struct binding *b = &pl->b[i];
        const struct kernel_param *p = b->p;
        json_t *given = json_object_get(data, p->name);
        if (p->kind == KERNEL_PARAM_SCALAR) {
            if (given) {
                int rc = bind_scalar(b, given, why, why_len);
                if (rc < 0)
                    return rc;
                continue;
            }
            if (kernel_elem_is_float(p->elem))
                return udcs_why(why, why_len, "parameter %s (%s) of kernel %s is not in data; "
                                "give its value", p->name, p->type_text, pl->sig.entry);
            if (length < 0)
                return udcs_why(why, why_len, "parameter %s (%s) of kernel %s is not in data, "
                                "and it cannot be taken from the arrays' length: %s; give it "
                                "in data", p->name, p->type_text, pl->sig.entry,
                                length == -2 ? "there are no arrays" : lengths);
            if (kernel_elem_store(p->elem, 1, length, (double)length, b->scalar) < 0)
                return udcs_why(why, why_len, "parameter %s (%s): the arrays' length %lld does "
                                "not fit its type", p->name, p->type_text, length);
            b->length_inferred = 1;
        } else if (p->kind == KERNEL_PARAM_LOCAL) {
            json_t *n = json_object_get(given, "local");
            if (!json_is_object(given) || json_object_size(given) != 1 || !json_is_integer(n) ||
                json_integer_value(n) < 1)
                return udcs_why(why, why_len, "parameter %s (%s) is work-group memory: give its "
                                "size in elements as data {\"%s\": {\"local\": N}}", p->name,
                                p->type_text, p->name);
            b->count = (size_t)json_integer_value(n);
        } else if (!b->has_data) {
            if (p->is_const)
                return udcs_why(why, why_len, "parameter %s (%s) of kernel %s is read-only, so "
                                "its values must be given in data", p->name, p->type_text,
                                pl->sig.entry);
            int rc = output_count(outputs, p->name, &b->count, why, why_len);
            if (rc < 0)
                return rc;
            if (!b->count && length < 0)
                return udcs_why(why, why_len, "output %s (%s) of kernel %s cannot be sized like "
                                "the inputs (%s); give its element count: \"outputs\": "
                                "{\"%s\": N}", p->name, p->type_text, pl->sig.entry,
                                length == -2 ? "there are none" : lengths, p->name);
            if (!b->count)
                b->count = (size_t)length;
            b->writable = 1;
        }
        if (p->kind != KERNEL_PARAM_SCALAR &&
            (b->count > KERNEL_BUFFER_MAX_BYTES / b->elem_bytes))
            return udcs_why(why, why_len, "parameter %s: %zu elements of %zu bytes is more than "
                            "the %llu GiB a buffer may have", p->name, b->count, b->elem_bytes,
                            KERNEL_BUFFER_MAX_BYTES >> 30);
    }
    /* one work-item per element is what leaving the length out means */
    for (size_t i = 0; i < pl->sig.n_params; i++)
        if (pl->b[i].length_inferred && pl->work_items < (uint64_t)length)
            return udcs_why(why, why_len, "the index space has %llu work-items, but %s = %lld "
                            "(the arrays' length): elements from %llu on would not be computed; "
                            "make the global size at least %lld, or give %s in data",
                            (unsigned long long)pl->work_items, pl->sig.params[i].name, length,
                            (unsigned long long)pl->work_items, length,
                            pl->sig.params[i].name);
    return 0;
}

/* ---- the index space ------------------------------------------------------------------------ */

/* An array of 1 to 3 whole numbers from 1 into out (unused dimensions 1). */
static int read_sizes(const json_t *job, const char *key, size_t out[3], unsigned *dims,
                      char *why, size_t why_len)
{
    json_t *a = json_object_get(job, key);
    out[0] = out[1] = out[2] = 1;
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n < 1 || n > 3)
        return udcs_why(why, why_len, "field '%s' must be an array of 1 to 3 sizes", key);
    for (size_t d = 0; d < n; d++) {
        json_t *v = json_array_get(a, d);
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            (unsigned long long)json_integer_value(v) > KERNEL_MAX_DIM_SIZE)
            return udcs_why(why, why_len, "field '%s': size %zu must be a whole number from 1 to "
                            "%llu", key, d, KERNEL_MAX_DIM_SIZE);
        out[d] = (size_t)json_integer_value(v);
    }
    *dims = (unsigned)n;
    return 0;
}

static int read_ndrange(struct plan *pl, const json_t *job, char *why, size_t why_len)
{
    int cuda_words = json_object_get(job, "grid_size") || json_object_get(job, "block_size");
    int cl_words = json_object_get(job, "global_size") || json_object_get(job, "local_size");
    unsigned dims = 1, ldims = 1;
    size_t grid[3];
    if (cuda_words && cl_words)
        return udcs_why(why, why_len, "give the index space either as grid_size and block_size "
                        "(CUDA's words) or as global_size and local_size (OpenCL's), not both");
    if (!cuda_words && !cl_words)
        return udcs_why(why, why_len, "the index space is missing: give grid_size and "
                        "block_size, or global_size (and local_size)");
    if (cuda_words) {
        if (read_sizes(job, "grid_size", grid, &dims, why, why_len) < 0 ||
            read_sizes(job, "block_size", pl->local, &ldims, why, why_len) < 0)
            return -1;
        for (int d = 0; d < 3; d++)
            if (__builtin_mul_overflow(grid[d], pl->local[d], &pl->global[d]) ||
                pl->global[d] > KERNEL_MAX_DIM_SIZE)
                return udcs_why(why, why_len, "grid_size x block_size overflows in dimension "
                                "%d (%zu x %zu)", d, grid[d], pl->local[d]);
    } else {
        if (read_sizes(job, "global_size", pl->global, &dims, why, why_len) < 0)
            return -1;
        if (json_object_get(job, "local_size")) {
            if (read_sizes(job, "local_size", pl->local, &ldims, why, why_len) < 0)
                return -1;
        } else if (pl->api == KERNEL_API_CUDA) {
            /* CUDA needs blocks: 256 threads, or fewer for a smaller space */
            pl->local[0] = pl->global[0] < 256 ? pl->global[0] : 256;
            pl->local[1] = pl->local[2] = 1;
        } else {
            pl->local[0] = pl->local[1] = pl->local[2] = 0;   /* the driver chooses */
        }
        for (int d = 0; pl->local[0] && d < 3; d++) {
            if (pl->global[d] % pl->local[d] == 0)
                continue;
            if (pl->api == KERNEL_API_OPENCL)
                return udcs_why(why, why_len, "global size %zu is not a multiple of local size "
                                "%zu in dimension %d; round it up to %zu and let the kernel "
                                "skip the extra work-items (if (i < n))", pl->global[d],
                                pl->local[d], d,
                                (pl->global[d] / pl->local[d] + 1) * pl->local[d]);
            /* CUDA launches whole blocks: the last one runs past, as a grid always does */
            pl->global[d] = (pl->global[d] / pl->local[d] + 1) * pl->local[d];
        }
    }
    pl->dims = dims > ldims ? dims : ldims;
    pl->work_items = 1;
    for (int d = 0; d < 3; d++)
        if (__builtin_mul_overflow(pl->work_items, (uint64_t)pl->global[d], &pl->work_items) ||
            pl->work_items > KERNEL_MAX_WORK_ITEMS)
            return udcs_why(why, why_len, "the index space has more than %llu work-items",
                            KERNEL_MAX_WORK_ITEMS);
    return 0;
}

/* ---- the units ----------------------------------------------------------------------------- */

static const char *source_file(enum kernel_api api)
{
    return api == KERNEL_API_CUDA ? "kernel.cu" : "kernel.cl";
}

static json_t *sizes_json(const size_t v[3])
{
    return json_pack("[I, I, I]", (json_int_t)v[0], (json_int_t)v[1], (json_int_t)v[2]);
}

static json_t *unit_new(const char *name, json_t *argv, json_t *inputs, json_t *outputs,
                        enum kernel_api api)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:{s:[s]}, s:s}", "name", name, "argv", argv,
                     "inputs", inputs, "outputs", outputs, "requirements", "toolchains",
                     kernel_api_toolchain(api), "pin_toolchain", kernel_api_toolchain(api));
}

static int put_json(struct cas_store *cs, json_t *j, char *digest, char *why, size_t why_len)
{
    struct udcs_buf text = UDCS_BUF_INIT(64u << 20);
    int rc = udcs_json_dump_canonical(j, &text);
    if (rc == 0)
        rc = put_blob(cs, text.data, text.len, digest, why, why_len);
    else
        rc = udcs_why(why, why_len, "out of memory writing a launch description");
    udcs_buf_release(&text);
    return rc;
}

/* The launch description of a run unit: all of the space, or work-groups [first, first +
 * count) of dimension `dim` (count 0: all) writing patches. */
static json_t *launch_json(const struct plan *pl, unsigned dim, size_t first, size_t count)
{
    json_t *args = json_array();
    for (size_t i = 0; i < pl->sig.n_params; i++) {
        const struct binding *b = &pl->b[i];
        const struct kernel_param *p = b->p;
        json_t *a;
        if (p->kind == KERNEL_PARAM_SCALAR) {
            char hex[17];
            size_t size = kernel_elem_size(p->elem);
            for (size_t k = 0; k < size; k++)
                snprintf(hex + 2 * k, 3, "%02x", b->scalar[k]);
            a = json_pack("{s:s, s:s, s:s, s:s}", "name", p->name, "kind", "scalar", "type",
                          kernel_elem_name(p->elem), "hex", hex);
        } else if (p->kind == KERNEL_PARAM_LOCAL) {
            a = json_pack("{s:s, s:s, s:I}", "name", p->name, "kind", "local", "bytes",
                          (json_int_t)(b->count * b->elem_bytes));
        } else {
            a = json_pack("{s:s, s:s, s:s, s:i, s:I, s:b}", "name", p->name, "kind", "buffer",
                          "type", kernel_elem_name(p->elem), "width", p->width, "bytes",
                          (json_int_t)(b->count * b->elem_bytes), "write", b->writable);
            char path[KERNEL_NAME_MAX + 16];
            if (b->has_data) {
                snprintf(path, sizeof(path), "in/%s.bin", p->name);
                json_object_set_new(a, "file", json_string(path));
            }
            if (b->writable) {
                snprintf(path, sizeof(path), "out/%s.%s", p->name, count ? "patch" : "bin");
                json_object_set_new(a, "output", json_string(path));
            }
        }
        json_array_append_new(args, a);
    }
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "version", 1, "api",
                          pl->api == KERNEL_API_CUDA ? "cuda" : "opencl", "entry",
                          pl->sig.entry, "program", KERNEL_PROGRAM_FILE, "dims", (int)pl->dims,
                          "global", sizes_json(pl->global), "local", sizes_json(pl->local),
                          "args", args);
    if (count)
        json_object_set_new(j, "range", json_pack("{s:i, s:I, s:I}", "dim", (int)dim, "first",
                                                  (json_int_t)first, "count",
                                                  (json_int_t)count));
    return j;
}

static json_t *compile_unit(const struct plan *pl, const char *source_digest,
                            const char *options, int ranges)
{
    json_t *argv = json_array();
    job_arg(argv, KERNEL_TOOL);
    job_arg(argv, "compile");
    job_arg(argv, "%s", source_file(pl->api));
    job_arg(argv, "--api");
    job_arg(argv, "%s", pl->api == KERNEL_API_CUDA ? "cuda" : "opencl");
    job_arg(argv, "--entry");
    job_arg(argv, "%s", pl->sig.entry);
    if (options && *options) {
        job_arg(argv, "--options");
        job_arg(argv, "%s", options);
    }
    if (ranges) {
        /* built to run in ranges: the prelude gives it the whole space's numbers */
        job_arg(argv, "--range-space");
        job_arg(argv, "%u:%zu,%zu,%zu:%zu,%zu,%zu", pl->dims, pl->global[0], pl->global[1],
                pl->global[2], pl->local[0], pl->local[1], pl->local[2]);
    }
    job_arg(argv, "-o");
    job_arg(argv, KERNEL_PROGRAM_FILE);
    return unit_new("compile", argv, json_pack("{s:s}", source_file(pl->api), source_digest),
                    json_pack("[s]", KERNEL_PROGRAM_FILE), pl->api);
}

/* A run unit over the whole space (count 0) or one range. */
static json_t *run_unit(const struct plan *pl, const char *name, const char *launch_digest,
                        size_t count)
{
    json_t *argv = json_array(), *inputs = json_object(), *outputs = json_array();
    job_arg(argv, KERNEL_TOOL);
    job_arg(argv, "run");
    job_arg(argv, KERNEL_LAUNCH_FILE);
    json_object_set_new(inputs, KERNEL_LAUNCH_FILE, json_string(launch_digest));
    json_object_set_new(inputs, KERNEL_PROGRAM_FILE,
                        json_pack("{s:i, s:s}", "unit", 0, "output", KERNEL_PROGRAM_FILE));
    for (size_t i = 0; i < pl->sig.n_params; i++) {
        const struct binding *b = &pl->b[i];
        char path[KERNEL_NAME_MAX + 16];
        if (b->has_data) {
            snprintf(path, sizeof(path), "in/%s.bin", b->p->name);
            json_object_set_new(inputs, path, json_string(b->digest));
        }
        if (b->writable) {
            snprintf(path, sizeof(path), "out/%s.%s", b->p->name, count ? "patch" : "bin");
            json_array_append_new(outputs, json_string(path));
        }
    }
    return unit_new(name, argv, inputs, outputs, pl->api);
}

/* The merge unit after ranges 1 .. n_ranges (unit indexes). */
static json_t *merge_unit(const struct plan *pl, size_t n_ranges, struct cas_store *cs,
                          char *why, size_t why_len)
{
    json_t *argv = json_array(), *inputs = json_object(), *outputs = json_array();
    json_t *list = json_array();
    job_arg(argv, KERNEL_TOOL);
    job_arg(argv, "merge");
    job_arg(argv, KERNEL_MERGE_FILE);
    for (size_t i = 0; i < pl->sig.n_params; i++) {
        const struct binding *b = &pl->b[i];
        if (!b->writable)
            continue;
        char path[KERNEL_NAME_MAX + 32];
        json_t *patches = json_array();
        json_t *o = json_pack("{s:s, s:I, s:o}", "name", b->p->name, "bytes",
                              (json_int_t)(b->count * b->elem_bytes), "patches", patches);
        if (b->has_data) {
            snprintf(path, sizeof(path), "in/%s.bin", b->p->name);
            json_object_set_new(inputs, path, json_string(b->digest));
            json_object_set_new(o, "initial", json_string(path));
        }
        for (size_t r = 0; r < n_ranges; r++) {
            char out[KERNEL_NAME_MAX + 16];
            snprintf(path, sizeof(path), "r%zu/%s.patch", r, b->p->name);
            snprintf(out, sizeof(out), "out/%s.patch", b->p->name);
            json_object_set_new(inputs, path, json_pack("{s:I, s:s}", "unit",
                                                        (json_int_t)(1 + r), "output", out));
            json_array_append_new(patches, json_string(path));
        }
        snprintf(path, sizeof(path), "out/%s.bin", b->p->name);
        json_object_set_new(o, "output", json_string(path));
        json_array_append_new(outputs, json_string(path));
        json_array_append_new(list, o);
    }
    json_t *desc = json_pack("{s:i, s:o}", "version", 1, "outputs", list);
    char digest[CAS_HEX_LEN + 32];
    int rc = put_json(cs, desc, digest, why, why_len);
    json_decref(desc);
    if (rc < 0) {
        json_decref(argv);
        json_decref(inputs);
        json_decref(outputs);
        return NULL;
    }
    json_object_set_new(inputs, KERNEL_MERGE_FILE, json_string(digest));
    return unit_new("merge", argv, inputs, outputs, pl->api);
}

/* ---- the job ------------------------------------------------------------------------------- */

static const char *const kernel_fields[] = { "kernel_code", "entry", "data", "outputs",
                                             "grid_size", "block_size", "global_size",
                                             "local_size", "split", "build_options",
                                             "device_fingerprint", "kernel_outputs", NULL };

/* The dimension to split and its work-group count: the last one with more than one group. */
static unsigned split_dim(const struct plan *pl, size_t *groups)
{
    for (int d = 2; d >= 0; d--) {
        *groups = pl->global[d] / pl->local[d];
        if (*groups > 1)
            return (unsigned)d;
    }
    *groups = 1;
    return 0;
}

/* Replace arrays given as numbers by their blobs, and note the outputs, in the job. */
static void annotate_job(json_t *job, const struct plan *pl)
{
    json_t *data = json_object_get(job, "data"), *outs = json_array();
    for (size_t i = 0; i < pl->sig.n_params; i++) {
        const struct binding *b = &pl->b[i];
        if (b->has_data && json_is_array(json_object_get(data, b->p->name)))
            json_object_set_new(data, b->p->name,
                                json_pack("{s:s, s:s}", "digest", b->digest, "type",
                                          kernel_elem_name(b->p->elem)));
        if (!b->writable)
            continue;
        char path[KERNEL_NAME_MAX + 16];
        snprintf(path, sizeof(path), "out/%s.bin", b->p->name);
        json_array_append_new(outs, json_pack("{s:s, s:s, s:i, s:I, s:I, s:s}", "name",
                                              b->p->name, "type", kernel_elem_name(b->p->elem),
                                              "width", b->p->width, "count",
                                              (json_int_t)b->count, "elem_bytes",
                                              (json_int_t)b->elem_bytes, "path", path));
    }
    json_object_set_new(job, "kernel_outputs", outs);
}

json_t *kernel_split(json_t *job, struct cas_store *cs, char *why, size_t why_len)
{
    struct plan *pl = calloc(1, sizeof(*pl));
    json_t *units = json_array();
    const char *code = NULL, *entry = NULL, *options = NULL;
    int split = 1, rc = pl && units ? 0 : -ENOMEM;
    const char *type = json_string_value(json_object_get(job, "type"));
    if (rc == 0) {
        pl->api = (enum kernel_api)kernel_job_api(type);
        char what[32];
        snprintf(what, sizeof(what), "a%s %s job", pl->api == KERNEL_API_OPENCL ? "n" : "",
                 type);
        rc = job_known_fields(job, kernel_fields, what, why, why_len);
    }
    if (rc == 0)
        rc = job_opt_str(job, "kernel_code", NULL, &code, why, why_len);
    if (rc == 0 && (!code || !*code))
        rc = udcs_why(why, why_len, "field 'kernel_code' is missing: the kernel's %s source",
                      kernel_api_name(pl->api));
    if (rc == 0 && strlen(code) > KERNEL_SOURCE_MAX_BYTES)
        rc = udcs_why(why, why_len, "field 'kernel_code' is larger than %u bytes",
                      KERNEL_SOURCE_MAX_BYTES);
    if (rc == 0)
        rc = job_opt_str(job, "entry", NULL, &entry, why, why_len);
    if (rc == 0)
        rc = job_opt_str(job, "build_options", NULL, &options, why, why_len);
    if (rc == 0)
        rc = job_opt_int(job, "split", 1, KERNEL_MAX_SPLIT, 1, &split, why, why_len);
    if (rc == 0)
        rc = kernel_sig_parse(pl->api, code, strlen(code), entry, &pl->sig, why, why_len);
    if (rc == 0)
        rc = read_ndrange(pl, job, why, why_len);
    if (rc == 0)
        rc = bind_all(pl, job, cs, why, why_len);
    size_t groups = 1;
    unsigned dim = 0;
    if (rc == 0 && split > 1) {
        if (!pl->local[0])
            rc = udcs_why(why, why_len, "split needs a local size (local_size or block_size): "
                          "ranges are whole work-groups");
        else
            dim = split_dim(pl, &groups);
    }
    size_t ranges = split > 1 && (size_t)split < groups ? (size_t)split : split > 1 ? groups : 1;
    char source_digest[CAS_HEX_LEN + 32], digest[CAS_HEX_LEN + 32];
    if (rc == 0)
        rc = put_blob(cs, code, strlen(code), source_digest, why, why_len);
    if (rc == 0)
        json_array_append_new(units, compile_unit(pl, source_digest, options, ranges > 1));
    for (size_t r = 0; rc == 0 && r < ranges; r++) {
        size_t first = ranges > 1 ? r * groups / ranges : 0;
        size_t count = ranges > 1 ? (r + 1) * groups / ranges - first : 0;
        json_t *launch = launch_json(pl, dim, first, count);
        rc = launch ? put_json(cs, launch, digest, why, why_len) : -ENOMEM;
        json_decref(launch);
        char name[32];
        snprintf(name, sizeof(name), ranges > 1 ? "range %zu" : "kernel", r);
        if (rc == 0)
            json_array_append_new(units, run_unit(pl, name, digest, count));
    }
    if (rc == 0 && ranges > 1) {
        json_t *m = merge_unit(pl, ranges, cs, why, why_len);
        if (m)
            json_array_append_new(units, m);
        else
            rc = -1;
    }
    if (rc == 0)
        annotate_job(job, pl);
    if (rc == -ENOMEM)
        udcs_why(why, why_len, "out of memory");
    free(pl);
    if (rc < 0) {
        json_decref(units);
        return NULL;
    }
    return units;
}

json_t *kernel_values_json(enum kernel_elem e, const void *data, size_t count, int width,
                           size_t elem_bytes)
{
    json_t *a = json_array();
    size_t es = kernel_elem_size(e);
    for (size_t i = 0; a && i < count; i++) {
        for (int k = 0; k < width; k++) {
            const unsigned char *p = (const unsigned char *)data + i * elem_bytes + (size_t)k * es;
            json_t *v;
            int64_t s64;
            uint64_t u64;
            if (kernel_elem_is_float(e)) {
                v = json_real(kernel_elem_load(e, p));
            } else if (e == KERNEL_ELEM_INT64) {
                memcpy(&s64, p, sizeof(s64));
                v = json_integer((json_int_t)s64);
            } else if (e == KERNEL_ELEM_UINT64) {
                memcpy(&u64, p, sizeof(u64));
                /* JSON integers here are signed 64-bit: larger ones are written as reals */
                v = u64 > INT64_MAX ? json_real((double)u64) : json_integer((json_int_t)u64);
            } else {
                v = json_integer((json_int_t)kernel_elem_load(e, p));
            }
            if (!v || json_array_append_new(a, v) < 0) {
                json_decref(a);
                return NULL;
            }
        }
    }
    return a;
}
