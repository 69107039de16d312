/* farm/udcs_kernel.c - `udcs kernel`: run a GPU kernel on the farm from files
 * (docs/KERNELS.md).
 *
 *   udcs kernel FILE.cl|FILE.cu [--entry NAME] --global X[,Y,Z] [--local X[,Y,Z]]
 *               [--arg NAME=VALUE]... [--out NAME=PATH[:COUNT]]... [--split N]
 *               [--options TEXT] [--json]
 *
 * VALUE is a number (a scalar), local:N (OpenCL work-group memory of N elements), or a
 * file: FILE.npy (its dtype must be the parameter's) or any other file, raw bytes of the
 * parameter's type. Outputs go to --out's PATH, as .npy when it ends so, raw otherwise;
 * COUNT sizes an output that is not sized like the inputs. Files hold the numbers as the
 * device lays them out: an OpenCL 3-vector (float3) takes the room of 4, in inputs and
 * outputs alike. */
#include "farm/client.h"
#include "cas/cas.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "kernels/kernel_job.h"
#include "kernels/kernel_sig.h"
#include "kernels/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_MAX_BYTES KERNEL_SOURCE_MAX_BYTES
/* A file argument is read whole; kernels take what fits in memory. */
#define ARG_FILE_MAX_BYTES (64ull << 30)

struct kernel_opts {
    const char *source, *entry, *global, *local, *options;
    int split, json;
    const char **args, **outs;
    size_t n_args, n_outs;
};

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* In "PATH:COUNT", the ':' before COUNT (digits only), or NULL: a path may hold ':'. */
static const char *count_suffix(const char *path)
{
    const char *colon = strrchr(path, ':');
    if (!colon || !colon[1] || colon == path)
        return NULL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return NULL;
    return colon;
}

static void kernel_usage(void)
{
    fprintf(stderr,
            "usage: udcs kernel FILE.cl|FILE.cu [--entry NAME] --global X[,Y,Z] "
            "[--local X[,Y,Z]]\n"
            "                   [--arg NAME=VALUE]... [--out NAME=PATH[:COUNT]]... [--split N]\n"
            "                   [--options TEXT] [--json]\n"
            "  VALUE: a number, local:N (work-group memory), or a file (.npy, or raw bytes)\n"
            "  --out: where an output goes (.npy or raw); COUNT: its element count when it is\n"
            "         not sized like the inputs\n"
            "  --split N: run the index space as N ranges of work-groups over the agents\n");
}

static int parse_kernel(int argc, char **argv, struct kernel_opts *o)
{
    o->args = calloc((size_t)argc + 1, sizeof(*o->args));
    o->outs = calloc((size_t)argc + 1, sizeof(*o->outs));
    if (!o->args || !o->outs)
        return -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--entry") == 0 || strcmp(a, "--global") == 0 ||
                    strcmp(a, "--local") == 0 || strcmp(a, "--arg") == 0 ||
                    strcmp(a, "--out") == 0 || strcmp(a, "--split") == 0 ||
                    strcmp(a, "--options") == 0;
        if (takes && !v) {
            udcs_log_error("kernel: %s needs a value", a);
            return -1;
        }
        if (strcmp(a, "--entry") == 0) {
            o->entry = v;
        } else if (strcmp(a, "--global") == 0) {
            o->global = v;
        } else if (strcmp(a, "--local") == 0) {
            o->local = v;
        } else if (strcmp(a, "--options") == 0) {
            o->options = v;
        } else if (strcmp(a, "--arg") == 0) {
            o->args[o->n_args++] = v;
        } else if (strcmp(a, "--out") == 0) {
            o->outs[o->n_outs++] = v;
        } else if (strcmp(a, "--split") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > KERNEL_MAX_SPLIT) {
                udcs_log_error("kernel: --split needs 1 to %d, not '%s'", KERNEL_MAX_SPLIT, v);
                return -1;
            }
            o->split = (int)n;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        } else if (a[0] != '-' && !o->source) {
            o->source = a;
            continue;
        } else {
            udcs_log_error("kernel: unknown argument '%s'", a);
            return -1;
        }
        i++;
    }
    if (!o->source || !o->global) {
        udcs_log_error("kernel: give the kernel's file and --global");
        return -1;
    }
    if (!has_suffix(o->source, ".cl") && !has_suffix(o->source, ".cu")) {
        udcs_log_error("kernel: %s: the file must end in .cl (OpenCL C) or .cu (CUDA)",
                       o->source);
        return -1;
    }
    return 0;
}

/* "X[,Y[,Z]]" as a JSON array of sizes. */
static json_t *sizes_of(const char *text, const char *flag)
{
    json_t *a = json_array();
    const char *p = text;
    for (int d = 0; d < 3; d++) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || (*end && *end != ',')) {
            udcs_log_error("kernel: %s needs X[,Y[,Z]] of whole numbers from 1, not '%s'", flag,
                           text);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_integer((json_int_t)v));
        if (!*end)
            return a;
        p = end + 1;
    }
    udcs_log_error("kernel: %s has at most 3 sizes, not '%s'", flag, text);
    json_decref(a);
    return NULL;
}

/* A number, as JSON (an integer when it is one), or NULL. */
static json_t *number_of(const char *text)
{
    char *end;
    long long i = strtoll(text, &end, 10);
    if (*text && !*end)
        return json_integer(i);
    double d = strtod(text, &end);
    if (*text && !*end)
        return json_real(d);
    return NULL;
}

/* A file argument into the store: {"digest": ..., "type": ...} (type only for .npy). */
static json_t *file_arg(struct cas *cas, const char *name, const char *path)
{
    char digest[CLIENT_DIGEST_TEXT], why[512];
    if (!has_suffix(path, ".npy")) {
        if (client_send_file(cas, path, digest) < 0)
            return NULL;
        return json_pack("{s:s}", "digest", digest);
    }
    struct udcs_buf file = UDCS_BUF_INIT(ARG_FILE_MAX_BYTES);
    struct npy_header h;
    int rc = udcs_read_file(path, &file);
    if (rc < 0) {
        udcs_log_error("kernel: --arg %s: cannot read %s: %s", name, path, udcs_strerror(rc));
        udcs_buf_release(&file);
        return NULL;
    }
    json_t *out = NULL;
    struct cas_digest d;
    if (npy_parse_header(file.data, file.len, &h, why, sizeof(why)) < 0) {
        udcs_log_error("kernel: --arg %s: %s: %s", name, path, why);
    } else if (file.len - h.data_offset != h.count * kernel_elem_size(h.elem)) {
        udcs_log_error("kernel: --arg %s: %s: its shape says %llu elements, %zu bytes follow "
                       "the header", name, path, (unsigned long long)h.count,
                       file.len - h.data_offset);
    } else if ((rc = cas_put_bytes(cas, file.data + h.data_offset, file.len - h.data_offset,
                                   &d)) < 0) {
        udcs_log_error("kernel: --arg %s: cannot store %s: %s", name, path, udcs_strerror(rc));
    } else {
        char hex[CAS_HEX_LEN + 1];
        snprintf(digest, sizeof(digest), "%s/%llu", cas_digest_hex(&d, hex),
                 (unsigned long long)d.size);
        out = json_pack("{s:s, s:s}", "digest", digest, "type", kernel_elem_name(h.elem));
    }
    udcs_buf_release(&file);
    return out;
}

static json_t *build_kernel_job(struct cas *cas, const struct kernel_opts *o)
{
    struct udcs_buf src = UDCS_BUF_INIT(SOURCE_MAX_BYTES);
    int rc = udcs_read_file(o->source, &src);
    if (rc < 0 || !src.len || memchr(src.data, '\0', src.len)) {
        udcs_log_error("kernel: cannot read %s: %s", o->source,
                       rc < 0 ? udcs_strerror(rc) : "it is empty or not text");
        udcs_buf_release(&src);
        return NULL;
    }
    json_t *job = json_pack("{s:s, s:s%, s:o, s:o}", "type",
                            has_suffix(o->source, ".cu") ? "CUDA_KERNEL" : "OPENCL_KERNEL",
                            "kernel_code", src.data, src.len, "data", json_object(), "outputs",
                            json_object());
    udcs_buf_release(&src);
    json_t *g = sizes_of(o->global, "--global"), *l = o->local ? sizes_of(o->local, "--local")
                                                               : NULL;
    int ok = job && g && (!o->local || l);
    if (ok) {
        json_object_set_new(job, "global_size", g);
        g = NULL;
        if (l)
            json_object_set_new(job, "local_size", l);
        l = NULL;
    }
    json_decref(g);
    json_decref(l);
    if (ok && o->entry)
        json_object_set_new(job, "entry", json_string(o->entry));
    if (ok && o->options)
        json_object_set_new(job, "build_options", json_string(o->options));
    if (ok && o->split > 1)
        json_object_set_new(job, "split", json_integer(o->split));
    json_t *data = json_object_get(job, "data"), *outputs = json_object_get(job, "outputs");
    for (size_t i = 0; ok && i < o->n_args; i++) {
        const char *eq = strchr(o->args[i], '=');
        if (!eq || eq == o->args[i] || !eq[1]) {
            udcs_log_error("kernel: --arg needs NAME=VALUE, not '%s'", o->args[i]);
            ok = 0;
            break;
        }
        char name[KERNEL_NAME_MAX];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - o->args[i]), o->args[i]);
        const char *value = eq + 1;
        json_t *v = number_of(value);
        if (!v && strncmp(value, "local:", 6) == 0) {
            json_t *n = number_of(value + 6);
            v = json_is_integer(n) ? json_pack("{s:O}", "local", n) : NULL;
            json_decref(n);
            if (!v)
                udcs_log_error("kernel: --arg %s: local:N needs a whole number", name);
        } else if (!v) {
            v = file_arg(cas, name, value);
        }
        ok = v != NULL;
        if (v)
            json_object_set_new(data, name, v);
    }
    for (size_t i = 0; ok && i < o->n_outs; i++) {
        const char *eq = strchr(o->outs[i], '='), *colon = eq ? count_suffix(eq + 1) : NULL;
        if (!eq || eq == o->outs[i] || !eq[1]) {
            udcs_log_error("kernel: --out needs NAME=PATH[:COUNT], not '%s'", o->outs[i]);
            ok = 0;
            break;
        }
        if (colon) {
            char name[KERNEL_NAME_MAX];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - o->outs[i]), o->outs[i]);
            json_t *n = number_of(colon + 1);
            if (!json_is_integer(n) || json_integer_value(n) < 1) {
                udcs_log_error("kernel: --out %s: COUNT must be a whole number from 1",
                               o->outs[i]);
                ok = 0;
            } else {
                json_object_set(outputs, name, n);
            }
            json_decref(n);
        }
    }
    if (!ok) {
        json_decref(job);
        return NULL;
    }
    return job;
}

/* Write output `name` of the finished job `j` to `path` (.npy or raw). */
static int save_output(struct cas *cas, json_t *j, const char *name, const char *path)
{
    json_t *o = json_object_get(json_object_get(j, "outputs"), name);
    const char *digest = json_string_value(json_object_get(o, "digest"));
    enum kernel_elem e = kernel_elem_by_name(json_string_value(json_object_get(o, "type")));
    struct cas_digest d;
    if (!digest || cas_digest_parse(digest, &d, NULL) < 0) {
        udcs_log_error("kernel: the job has no output '%s'", name);
        return -1;
    }
    struct udcs_buf file = UDCS_BUF_INIT(ARG_FILE_MAX_BYTES + 4096);
    struct udcs_buf bytes = UDCS_BUF_INIT(ARG_FILE_MAX_BYTES);
    int rc = cas_get_bytes(cas, &d, &bytes);
    if (rc == 0 && has_suffix(path, ".npy")) {
        /* numbers as the device lays them out: an OpenCL 3-vector takes the room of 4 */
        size_t es = kernel_elem_size(e);
        rc = es && bytes.len % es == 0 ? npy_write_header(e, bytes.len / es, &file) : -EINVAL;
    }
    if (rc == 0)
        rc = udcs_buf_append(&file, bytes.data, bytes.len);
    if (rc == 0)
        rc = udcs_write_atomic(path, file.data, file.len, 0644);
    if (rc < 0)
        udcs_log_error("kernel: cannot write output %s to %s: %s", name, path,
                       udcs_strerror(rc));
    udcs_buf_release(&file);
    udcs_buf_release(&bytes);
    return rc < 0 ? -1 : 0;
}

int cmd_kernel(struct client *c, int argc, char **argv)
{
    struct kernel_opts o = { 0 };
    if (parse_kernel(argc, argv, &o) < 0) {
        kernel_usage();
        free(o.args);
        free(o.outs);
        return UDCS_EXIT_USAGE;
    }
    struct cas *cas = NULL;
    int status = UDCS_EXIT_FAILED;
    json_t *job = client_open_store(c, &cas) == 0 ? build_kernel_job(cas, &o) : NULL;
    char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
    long long id = 0;
    if (text && client_submit(c, text, &id) == 0) {
        char ids[32], path[64];
        snprintf(ids, sizeof(ids), "%lld", id);
        int waited = client_wait_job(c, ids, o.json ? WAIT_JSON : WAIT_QUIET);
        snprintf(path, sizeof(path), "/api/jobs/%lld?limit=0", id);
        json_t *j = NULL;
        if (client_call_json(c, "GET", path, NULL, &j) == 0 && waited == UDCS_EXIT_OK) {
            status = UDCS_EXIT_OK;
            for (size_t i = 0; i < o.n_outs; i++) {
                char name[KERNEL_NAME_MAX], file[4096];
                const char *eq = strchr(o.outs[i], '='), *colon = count_suffix(eq + 1);
                snprintf(name, sizeof(name), "%.*s", (int)(eq - o.outs[i]), o.outs[i]);
                snprintf(file, sizeof(file), "%.*s",
                         (int)(colon ? (size_t)(colon - eq - 1) : strlen(eq + 1)), eq + 1);
                if (save_output(cas, j, name, file) < 0)
                    status = UDCS_EXIT_FAILED;
            }
            if (!o.json)
                fprintf(stderr, "udcs kernel: job %lld done, %lld of %lld units from the "
                        "cache\n", id, (long long)json_integer_value(json_object_get(j, "cache_hits")),
                        (long long)json_integer_value(json_object_get(j, "units_total")));
        } else if (j) {
            const char *err = json_string_value(json_object_get(j, "error"));
            udcs_log_error("kernel: job %lld %s: %s", id,
                           json_string_value(json_object_get(j, "state")),
                           err ? err : "(no error recorded)");
        }
        json_decref(j);
    }
    free(text);
    json_decref(job);
    if (cas)
        cas_close(cas);
    free(o.args);
    free(o.outs);
    return status;
}
