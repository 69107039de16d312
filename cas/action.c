/* cas/action.c - actions: the canonical description of a unit of work, and the action
 * digest computed from it (the action cache key). What an action means is up to the
 * executor of its kind; this file only keeps the description exact and safe to act on. */
#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTION_VERSION 1
/* Bounds that keep a parsed action small however it was written. */
#define ACTION_MAX_ARGS 65536
#define ACTION_MAX_ENV 4096
#define ACTION_MAX_OUTPUTS 100000

static json_t *digest_text(const struct cas_digest *d)
{
    char hex[CAS_HEX_LEN + 1], text[CAS_HEX_LEN + 32];
    snprintf(text, sizeof(text), "%s/%llu", cas_digest_hex(d, hex), (unsigned long long)d->size);
    return json_string(text);
}

static json_t *action_json(const struct cas_action *a)
{
    json_t *env = json_object();
    for (size_t i = 0; env && i < a->n_env; i++) {
        const char *eq = strchr(a->env[i], '=');
        char *key = eq ? strndup(a->env[i], (size_t)(eq - a->env[i])) : NULL;
        if (!key || json_object_set_new(env, key, json_string(eq + 1)) < 0) {
            free(key);
            json_decref(env);
            return NULL;
        }
        free(key);
    }
    json_t *j = json_pack("{s:i, s:s, s:o, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I}}",
                          "version", ACTION_VERSION, "kind", a->kind, "argv",
                          udcs_json_string_array(a->argv, a->argc), "env", env, "outputs",
                          udcs_json_string_array(a->outputs, a->n_outputs), "timeout_ms",
                          (json_int_t)a->timeout_ms, "limits", "cpu_s",
                          (json_int_t)a->limits.cpu_s, "mem_bytes", (json_int_t)a->limits.mem_bytes,
                          "fsize_bytes", (json_int_t)a->limits.fsize_bytes, "nproc",
                          (json_int_t)a->limits.nproc);
    if (!j)
        return NULL;
    if (a->has_input_root)
        json_object_set_new(j, "input_root", digest_text(&a->input_root));
    if (a->has_toolchain)
        json_object_set_new(j, "toolchain", digest_text(&a->toolchain));
    if (a->cwd)
        json_object_set_new(j, "cwd", json_string(a->cwd));
    if (a->stdin_path)
        json_object_set_new(j, "stdin", json_string(a->stdin_path));
    if (a->architecture || a->os) {
        json_t *p = json_object();
        if (a->architecture)
            json_object_set_new(p, "architecture", json_string(a->architecture));
        if (a->os)
            json_object_set_new(p, "os", json_string(a->os));
        json_object_set_new(j, "platform", p);
    }
    return j;
}

int cas_action_to_json(const struct cas_action *a, struct udcs_buf *out)
{
    json_t *j = action_json(a);
    if (!j)
        return -ENOMEM;
    int rc = udcs_json_dump_canonical(j, out);
    json_decref(j);
    return rc;
}

int cas_action_digest(const struct cas_action *a, struct cas_digest *out)
{
    struct udcs_buf b = UDCS_BUF_INIT(CAS_ACTION_MAX_BYTES);
    int rc = cas_action_to_json(a, &b);
    if (rc == 0)
        cas_digest_of_bytes(b.data, b.len, out);
    udcs_buf_release(&b);
    return rc;
}

/* ---- parsing ----------------------------------------------------------------------------- */

static int bad(char *why, size_t why_len, const char *fmt, const char *arg)
{
    snprintf(why, why_len, fmt, arg);
    return UDCS_EPROTO;
}

static int take_strings(const json_t *arr, const char *field, size_t max, int paths,
                        char ***out, size_t *n, char *why, size_t why_len)
{
    if (!json_is_array(arr))
        return bad(why, why_len, "field '%s' must be an array of strings", field);
    if (json_array_size(arr) > max)
        return bad(why, why_len, "field '%s' has too many entries", field);
    *out = calloc(json_array_size(arr) + 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            return bad(why, why_len, "field '%s' must be an array of strings", field);
        if (paths && !udcs_path_is_contained(json_string_value(v)))
            return bad(why, why_len, "output path '%s' is absolute, climbs out with '..' or "
                       "has an empty or '.' component", json_string_value(v));
        if (!((*out)[i] = strdup(json_string_value(v))))
            return -ENOMEM;
        *n = i + 1;
    }
    return 0;
}

static int take_env(const json_t *obj, struct cas_action *a, char *why, size_t why_len)
{
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return bad(why, why_len, "field '%s' must be an object of strings", "env");
    if (json_object_size(obj) > ACTION_MAX_ENV)
        return bad(why, why_len, "field '%s' has too many entries", "env");
    a->env = calloc(json_object_size(obj) + 1, sizeof(*a->env));
    if (!a->env)
        return -ENOMEM;
    const char *key;
    json_t *v;
    /* jansson iterates in insertion order; sort so the array is canonical */
    void *iter;
    const char **keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
    size_t n = 0;
    if (!keys)
        return -ENOMEM;
    json_object_foreach_safe((json_t *)obj, iter, key, v) {
        (void)v;
        keys[n++] = key;
    }
    for (size_t i = 1; i < n; i++)   /* insertion sort: env lists are short */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        v = json_object_get(obj, keys[i]);
        if (!*keys[i] || strchr(keys[i], '='))
            rc = bad(why, why_len, "environment name '%s' is empty or contains '='", keys[i]);
        else if (!json_is_string(v))
            rc = bad(why, why_len, "environment variable '%s' must be a string", keys[i]);
        else if (asprintf(&a->env[i], "%s=%s", keys[i], json_string_value(v)) < 0)
            rc = -ENOMEM;
        else
            a->n_env = i + 1;
    }
    free(keys);
    return rc;
}

static int take_path(const json_t *v, const char *field, char **out, char *why, size_t why_len)
{
    if (!v)
        return 0;
    if (!json_is_string(v) || !udcs_path_is_contained(json_string_value(v)))
        return bad(why, why_len, "field '%s' must be a relative path inside the input root",
                   field);
    *out = strdup(json_string_value(v));
    return *out ? 0 : -ENOMEM;
}

/* An optional field holding a digest written HEX/SIZE; *present says if it was there. */
static int take_digest(const json_t *obj, const char *key, struct cas_digest *out, int *present,
                       char *why, size_t why_len)
{
    json_t *v = json_object_get(obj, key);
    int sized = 0;
    if (!v)
        return 0;
    if (!json_is_string(v) || cas_digest_parse(json_string_value(v), out, &sized) < 0 || !sized)
        return bad(why, why_len, "field '%s' must be a digest written HEX/SIZE", key);
    *present = 1;
    return 0;
}

static int take_uint(const json_t *obj, const char *key, uint64_t *out, char *why,
                     size_t why_len)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(why, why_len, "field '%s' must be a whole number", key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int take_platform(const json_t *p, struct cas_action *a, char *why, size_t why_len)
{
    if (!p)
        return 0;
    json_t *arch = json_object_get(p, "architecture"), *os = json_object_get(p, "os");
    if (!json_is_object(p) || (arch && !json_is_string(arch)) || (os && !json_is_string(os)))
        return bad(why, why_len, "field '%s' must be {\"architecture\": ..., \"os\": ...}",
                   "platform");
    if ((arch && !(a->architecture = strdup(json_string_value(arch)))) ||
        (os && !(a->os = strdup(json_string_value(os)))))
        return -ENOMEM;
    return 0;
}

static int parse_action(const json_t *j, struct cas_action *a, char *why, size_t why_len)
{
    int rc;
    const char *kind;
    int64_t version;
    if (!json_is_object(j))
        return bad(why, why_len, "%san action must be a JSON object", "");
    if ((rc = udcs_json_get_int(j, "version", &version, why, why_len)) < 0)
        return rc;
    if (version != ACTION_VERSION)
        return bad(why, why_len, "%saction version is not 1", "");
    if ((rc = udcs_json_get_str(j, "kind", &kind, why, why_len)) < 0)
        return rc;
    if (!*kind || strspn(kind, "abcdefghijklmnopqrstuvwxyz_") != strlen(kind))
        return bad(why, why_len, "action kind '%s' is not a lower-case word", kind);
    if (!(a->kind = strdup(kind)))
        return -ENOMEM;
    if ((rc = take_strings(json_object_get(j, "argv"), "argv", ACTION_MAX_ARGS, 0, &a->argv,
                           &a->argc, why, why_len)) < 0)
        return rc;
    if (a->argc == 0)
        return bad(why, why_len, "%sargv must name a program", "");
    json_t *outputs = json_object_get(j, "outputs");
    if (outputs && (rc = take_strings(outputs, "outputs", ACTION_MAX_OUTPUTS, 1, &a->outputs,
                                      &a->n_outputs, why, why_len)) < 0)
        return rc;
    if ((rc = take_env(json_object_get(j, "env"), a, why, why_len)) < 0 ||
        (rc = take_path(json_object_get(j, "cwd"), "cwd", &a->cwd, why, why_len)) < 0 ||
        (rc = take_path(json_object_get(j, "stdin"), "stdin", &a->stdin_path, why, why_len)) < 0 ||
        (rc = take_uint(j, "timeout_ms", &a->timeout_ms, why, why_len)) < 0 ||
        (rc = take_platform(json_object_get(j, "platform"), a, why, why_len)) < 0)
        return rc;
    json_t *limits = json_object_get(j, "limits");
    if (limits && !json_is_object(limits))
        return bad(why, why_len, "field '%s' must be an object", "limits");
    if (limits && ((rc = take_uint(limits, "cpu_s", &a->limits.cpu_s, why, why_len)) < 0 ||
                   (rc = take_uint(limits, "mem_bytes", &a->limits.mem_bytes, why, why_len)) < 0 ||
                   (rc = take_uint(limits, "fsize_bytes", &a->limits.fsize_bytes, why, why_len)) < 0 ||
                   (rc = take_uint(limits, "nproc", &a->limits.nproc, why, why_len)) < 0))
        return rc;
    if ((rc = take_digest(j, "input_root", &a->input_root, &a->has_input_root, why,
                          why_len)) < 0 ||
        (rc = take_digest(j, "toolchain", &a->toolchain, &a->has_toolchain, why, why_len)) < 0)
        return rc;
    return 0;
}

int cas_action_from_json(const void *data, size_t len, struct cas_action *a, char *why,
                         size_t why_len)
{
    memset(a, 0, sizeof(*a));
    json_t *j;
    int rc = udcs_json_parse(data, len, &j, why, why_len);
    if (rc < 0)
        return rc;
    rc = parse_action(j, a, why, why_len);
    json_decref(j);
    if (rc < 0)
        cas_action_release(a);
    return rc;
}

static void free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void cas_action_release(struct cas_action *a)
{
    free(a->kind);
    free_strings(a->argv, a->argc);
    free_strings(a->env, a->n_env);
    free_strings(a->outputs, a->n_outputs);
    free(a->cwd);
    free(a->stdin_path);
    free(a->architecture);
    free(a->os);
    memset(a, 0, sizeof(*a));
}
