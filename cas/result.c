/* cas/result.c - action results and their canonical JSON form, the record the action
 * cache stores and the CAS server exchanges:
 *   {"created_ms":..., "duration_ms":..., "executor":"...", "exit_code":0,
 *    "outputs":[{"digest":"HEX/SIZE","executable":false,"path":"out.o"}],
 *    "stderr":"HEX/SIZE", "stdout":"HEX/SIZE", "version":1} */
#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESULT_VERSION 1
/* Outputs one record may name; far above any real action, it bounds the parse. */
#define RESULT_MAX_OUTPUTS 100000

static json_t *digest_json(const struct cas_digest *d)
{
    char hex[CAS_HEX_LEN + 1], text[CAS_HEX_LEN + 32];
    snprintf(text, sizeof(text), "%s/%llu", cas_digest_hex(d, hex), (unsigned long long)d->size);
    return json_string(text);
}

int cas_action_result_to_json(const struct cas_action_result *r, struct udcs_buf *out)
{
    json_t *outputs = json_array();
    for (size_t i = 0; outputs && i < r->n_outputs; i++) {
        json_t *o = json_pack("{s:s, s:o, s:b}", "path", r->outputs[i].path, "digest",
                              digest_json(&r->outputs[i].digest), "executable",
                              r->outputs[i].executable);
        if (!o || json_array_append_new(outputs, o) < 0) {
            json_decref(outputs);
            outputs = NULL;
        }
    }
    if (!outputs)
        return -ENOMEM;
    json_t *j = json_pack("{s:i, s:i, s:o, s:o, s:o, s:I, s:I}", "version", RESULT_VERSION,
                          "exit_code", r->exit_code, "outputs", outputs, "stdout",
                          digest_json(&r->stdout_digest), "stderr",
                          digest_json(&r->stderr_digest), "duration_ms",
                          (json_int_t)r->duration_ms, "created_ms", (json_int_t)r->created_ms);
    if (j && r->executor)
        json_object_set_new(j, "executor", json_string(r->executor));
    if (!j)
        return -ENOMEM;
    int rc = udcs_json_dump_canonical(j, out);
    json_decref(j);
    return rc;
}

static int parse_digest_field(const json_t *obj, const char *key, struct cas_digest *out,
                              char *why, size_t why_len)
{
    const char *text;
    int has_size;
    if (udcs_json_get_str(obj, key, &text, why, why_len) < 0)
        return UDCS_EPROTO;
    if (cas_digest_parse(text, out, &has_size) < 0 || !has_size) {
        snprintf(why, why_len, "field '%s' must be a digest written HEX/SIZE", key);
        return UDCS_EPROTO;
    }
    return 0;
}

int cas_action_result_add_output(struct cas_action_result *r, const char *path,
                                 const struct cas_digest *d, int executable)
{
    struct cas_output *n = realloc(r->outputs, (r->n_outputs + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    r->outputs = n;
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    r->outputs[r->n_outputs].path = copy;
    r->outputs[r->n_outputs].digest = *d;
    r->outputs[r->n_outputs].executable = executable;
    r->n_outputs++;
    return 0;
}

static int parse_outputs(const json_t *arr, struct cas_action_result *r, char *why,
                         size_t why_len)
{
    if (!json_is_array(arr)) {
        snprintf(why, why_len, "field 'outputs' must be an array");
        return UDCS_EPROTO;
    }
    if (json_array_size(arr) > RESULT_MAX_OUTPUTS) {
        snprintf(why, why_len, "more than %d outputs", RESULT_MAX_OUTPUTS);
        return UDCS_EPROTO;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        const char *path;
        struct cas_digest d;
        json_t *exe = json_object_get(o, "executable");
        if (udcs_json_get_str(o, "path", &path, why, why_len) < 0 ||
            parse_digest_field(o, "digest", &d, why, why_len) < 0)
            return UDCS_EPROTO;
        if (!udcs_path_is_contained(path)) {
            snprintf(why, why_len, "output path '%s' is absolute, climbs out with '..' or "
                     "has an empty or '.' component", path);
            return UDCS_EPROTO;
        }
        if (exe && !json_is_boolean(exe)) {
            snprintf(why, why_len, "field 'executable' must be true or false");
            return UDCS_EPROTO;
        }
        if (cas_action_result_add_output(r, path, &d, exe && json_is_true(exe)) < 0) {
            snprintf(why, why_len, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

/* An optional non-negative integer field: absent leaves *out as it was. */
static int get_optional_uint(const json_t *j, const char *key, uint64_t *out, char *why,
                             size_t why_len)
{
    return json_object_get(j, key) ? udcs_json_get_uint(j, key, out, why, why_len) : 0;
}

static int parse_result(const json_t *j, struct cas_action_result *r, char *why, size_t why_len)
{
    int64_t version, exit_code;
    int rc;
    if (!json_is_object(j)) {
        snprintf(why, why_len, "an action result must be a JSON object");
        return UDCS_EPROTO;
    }
    if ((rc = udcs_json_get_int(j, "version", &version, why, why_len)) < 0)
        return rc;
    if (version != RESULT_VERSION) {
        snprintf(why, why_len, "action result version %lld is not %d", (long long)version,
                 RESULT_VERSION);
        return UDCS_EPROTO;
    }
    if ((rc = udcs_json_get_int(j, "exit_code", &exit_code, why, why_len)) < 0)
        return rc;
    if (exit_code < -1 || exit_code > 255) {
        snprintf(why, why_len, "field 'exit_code' must be -1..255");
        return UDCS_EPROTO;
    }
    r->exit_code = (int)exit_code;
    if ((rc = parse_digest_field(j, "stdout", &r->stdout_digest, why, why_len)) < 0 ||
        (rc = parse_digest_field(j, "stderr", &r->stderr_digest, why, why_len)) < 0 ||
        (rc = parse_outputs(json_object_get(j, "outputs"), r, why, why_len)) < 0 ||
        (rc = get_optional_uint(j, "duration_ms", &r->duration_ms, why, why_len)) < 0 ||
        (rc = get_optional_uint(j, "created_ms", &r->created_ms, why, why_len)) < 0)
        return rc;
    json_t *ex = json_object_get(j, "executor");
    if (ex && !json_is_string(ex)) {
        snprintf(why, why_len, "field 'executor' must be a string");
        return UDCS_EPROTO;
    }
    if (ex && !(r->executor = strdup(json_string_value(ex))))
        return -ENOMEM;
    return 0;
}

int cas_action_result_from_json(const void *data, size_t len, struct cas_action_result *r,
                                char *why, size_t why_len)
{
    memset(r, 0, sizeof(*r));
    json_t *j;
    int rc = udcs_json_parse(data, len, &j, why, why_len);
    if (rc < 0)
        return rc;
    rc = parse_result(j, r, why, why_len);
    json_decref(j);
    if (rc < 0)
        cas_action_result_release(r);
    return rc;
}

void cas_action_result_release(struct cas_action_result *r)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        free(r->outputs[i].path);
    free(r->outputs);
    free(r->executor);
    memset(r, 0, sizeof(*r));
}
