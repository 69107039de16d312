/* common/json.c - jansson glue; see json.h. */
#include "common/json.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>

/* Whether `v` nests more than `limit` arrays and objects along some path. Scalars add no
 * level, so "[]" and "[1]" are both one level deep. */
static int depth_exceeds(const json_t *v, int limit)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (limit <= 0)
        return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child)
            if (depth_exceeds(child, limit - 1))
                return 1;
    } else {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
            if (depth_exceeds(child, limit - 1))
                return 1;
    }
    return 0;
}

int udcs_json_parse(const void *data, size_t len, json_t **out, char *why, size_t why_len)
{
    json_error_t err;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!v) {
        snprintf(why, why_len, "line %d, column %d: %s", err.line, err.column, err.text);
        return UDCS_EPROTO;
    }
    if (depth_exceeds(v, UDCS_JSON_MAX_DEPTH)) {
        json_decref(v);
        snprintf(why, why_len, "nested deeper than %d levels", UDCS_JSON_MAX_DEPTH);
        return UDCS_EPROTO;
    }
    *out = v;
    return 0;
}

struct dump_ctx {
    struct udcs_buf *out;
    int rc;          /* why the last append failed: UDCS_ETOOBIG or -ENOMEM */
};

static int dump_to_buf(const char *chunk, size_t size, void *data)
{
    struct dump_ctx *d = data;
    d->rc = udcs_buf_append(d->out, chunk, size);
    return d->rc == 0 ? 0 : -1;
}

int udcs_json_dump_canonical(const json_t *value, struct udcs_buf *out)
{
    size_t before = out->len;
    struct dump_ctx d = { out, 0 };
    if (json_dump_callback(value, dump_to_buf, &d,
                           JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) != 0) {
        /* The append that failed says why; a failure inside jansson is out of memory. */
        out->len = before;
        if (out->data)
            out->data[before] = '\0';
        return d.rc < 0 ? d.rc : -ENOMEM;
    }
    return 0;
}

static json_t *get_field(const json_t *obj, const char *key, char *why, size_t why_len)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!v)
        snprintf(why, why_len, "field '%s' is missing", key);
    return v;
}

int udcs_json_get_str(const json_t *obj, const char *key, const char **out, char *why,
                      size_t why_len)
{
    json_t *v = get_field(obj, key, why, why_len);
    if (!v)
        return UDCS_EPROTO;
    if (!json_is_string(v)) {
        snprintf(why, why_len, "field '%s' must be a string", key);
        return UDCS_EPROTO;
    }
    *out = json_string_value(v);
    return 0;
}

int udcs_json_get_int(const json_t *obj, const char *key, int64_t *out, char *why,
                      size_t why_len)
{
    json_t *v = get_field(obj, key, why, why_len);
    if (!v)
        return UDCS_EPROTO;
    if (!json_is_integer(v)) {
        snprintf(why, why_len, "field '%s' must be an integer", key);
        return UDCS_EPROTO;
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int udcs_json_get_uint(const json_t *obj, const char *key, uint64_t *out, char *why,
                       size_t why_len)
{
    int64_t n;
    int rc = udcs_json_get_int(obj, key, &n, why, why_len);
    if (rc < 0)
        return rc;
    if (n < 0) {
        snprintf(why, why_len, "field '%s' must not be negative", key);
        return UDCS_EPROTO;
    }
    *out = (uint64_t)n;
    return 0;
}

json_t *udcs_json_string_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}
