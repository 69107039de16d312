/* tests/fuzz/fuzz_json_parse.c - udcs_json_parse, which every JSON body and record from
 * outside goes through. An accepted value must nest no deeper than UDCS_JSON_MAX_DEPTH, a
 * value jansson reads that stays within it must not be refused, and the canonical dump
 * must parse back to an equal value that dumps to the same bytes. */
#include "common/err.h"
#include "common/json.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

/* Canonical text is at most a few bytes per input byte (escapes); this leaves room for
 * any input libFuzzer makes. */
#define FUZZ_JSON_OUT_MAX_BYTES (16u * 1024 * 1024)

/* Nesting depth as JSON parsers count it (jansson's JSON_PARSER_MAX_DEPTH too): the
 * number of arrays and objects on the longest path from the root, so a scalar is 0,
 * [] is 1 and [[1]] is 2. */
static int nesting_depth(const json_t *v)
{
    int deepest = 0;
    size_t i;
    const char *key;
    json_t *child;
    if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            int d = nesting_depth(child);
            deepest = d > deepest ? d : deepest;
        }
        return 1 + deepest;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child) {
            int d = nesting_depth(child);
            deepest = d > deepest ? d : deepest;
        }
        return 1 + deepest;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    char why[256] = "";
    int rc = udcs_json_parse(data, size, &v, why, sizeof(why));
    if (rc < 0) {
        FUZZ_CHECK(rc == UDCS_EPROTO, "udcs_json_parse returned unexpected code %d", rc);
        FUZZ_CHECK(why[0] != '\0', "udcs_json_parse refused input without saying why");
        /* Refused: either jansson refuses it too, or it nests too deep. */
        json_error_t err;
        json_t *plain = json_loadb((const char *)data, size,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        if (plain) {
            int depth = nesting_depth(plain);
            json_decref(plain);
            FUZZ_CHECK(depth > UDCS_JSON_MAX_DEPTH,
                       "udcs_json_parse refused a value nested %d deep (limit %d): %s", depth,
                       UDCS_JSON_MAX_DEPTH, why);
        }
        return 0;
    }

    int depth = nesting_depth(v);
    FUZZ_CHECK(depth <= UDCS_JSON_MAX_DEPTH,
               "udcs_json_parse accepted a value nested %d deep; the limit is %d", depth,
               UDCS_JSON_MAX_DEPTH);

    struct udcs_buf first = UDCS_BUF_INIT(FUZZ_JSON_OUT_MAX_BYTES);
    struct udcs_buf second = UDCS_BUF_INIT(FUZZ_JSON_OUT_MAX_BYTES);
    rc = udcs_json_dump_canonical(v, &first);
    FUZZ_CHECK(rc == 0, "an accepted value cannot be dumped: %d", rc);
    FUZZ_CHECK(first.len == strlen(first.data), "the canonical dump holds a NUL byte");

    json_t *back = NULL;
    why[0] = '\0';
    rc = udcs_json_parse(first.data, first.len, &back, why, sizeof(why));
    FUZZ_CHECK(rc == 0, "the canonical dump of an accepted value is refused (%s): %s", why,
               first.data);
    FUZZ_CHECK(json_equal(v, back), "the canonical dump parses back to another value: %s",
               first.data);
    rc = udcs_json_dump_canonical(back, &second);
    FUZZ_CHECK(rc == 0, "a re-parsed value cannot be dumped: %d", rc);
    FUZZ_CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
               "the canonical dump is not stable:\n  first:  %s\n  second: %s", first.data,
               second.data);

    /* A full buffer reports UDCS_ETOOBIG and leaves what it held before. */
    if (first.len > 1) {
        struct udcs_buf small = UDCS_BUF_INIT(first.len - 1);
        FUZZ_CHECK(udcs_buf_append(&small, "x", 1) == 0, "out of memory");
        rc = udcs_json_dump_canonical(v, &small);
        FUZZ_CHECK(rc == UDCS_ETOOBIG && small.len == 1 && small.data[0] == 'x' &&
                       small.data[1] == '\0',
                   "dumping %zu bytes into a buffer of %zu gave %d and left %zu bytes",
                   first.len, first.len - 1, rc, small.len);
        udcs_buf_release(&small);
    }

    udcs_buf_release(&first);
    udcs_buf_release(&second);
    json_decref(back);
    json_decref(v);
    return 0;
}
