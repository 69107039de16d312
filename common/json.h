/* common/json.h - glue over jansson: parsing with a readable error, canonical output,
 * and field access that says which field was wrong. */
#ifndef UDCS_COMMON_JSON_H
#define UDCS_COMMON_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Deepest nesting accepted from outside input. */
#define UDCS_JSON_MAX_DEPTH 64

/* Parse `len` bytes as one JSON value. On failure returns UDCS_EPROTO and writes
 * "line L, column C: what" into `why`. The caller owns *out (json_decref). */
int udcs_json_parse(const void *data, size_t len, json_t **out, char *why, size_t why_len);

/* Canonical text: compact, keys sorted, so equal values give equal bytes (and digests).
 * Appends to `out`. Returns 0, -ENOMEM or UDCS_ETOOBIG. */
int udcs_json_dump_canonical(const json_t *value, struct udcs_buf *out);

/* Required fields. Each returns 0, or UDCS_EPROTO with "field 'name' ..." in `why`.
 * Strings are borrowed from `obj`. */
int udcs_json_get_str(const json_t *obj, const char *key, const char **out, char *why,
                      size_t why_len);
int udcs_json_get_uint(const json_t *obj, const char *key, uint64_t *out, char *why,
                       size_t why_len);
int udcs_json_get_int(const json_t *obj, const char *key, int64_t *out, char *why,
                      size_t why_len);

/* A new JSON array of the `n` strings of `v`; NULL when out of memory. */
json_t *udcs_json_string_array(char *const *v, size_t n);

#endif
