/* tests/unit/test_common_json.c - common/json.h: parse errors with line and column, the
 * depth limit, duplicate keys, canonical output and its size limit, and field getters
 * whose messages name the field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

#include <stdlib.h>
#include <string.h>

static json_t *parse_ok(const char *text)
{
    json_t *v = NULL;
    char why[256] = "";
    if (udcs_json_parse(text, strlen(text), &v, why, sizeof(why)) != 0)
        fail_msg("'%s' did not parse: %s", text, why);
    assert_non_null(v);
    return v;
}

/* Parse `text`, expecting failure; the reason goes to `why`. */
static void parse_fails(const char *text, char *why, size_t why_len)
{
    json_t *v = NULL;
    why[0] = '\0';
    assert_int_equal(udcs_json_parse(text, strlen(text), &v, why, why_len), UDCS_EPROTO);
    assert_null(v);
    assert_true(why[0] != '\0');
}

/* `levels` nested arrays or objects around `inner`. */
static char *nested(int levels, int objects, const char *inner)
{
    size_t len = (size_t)levels * 6 + strlen(inner) + 1;
    char *s = malloc(len), *p = s;
    for (int i = 0; i < levels; i++)
        p += objects ? (memcpy(p, "{\"a\":", 5), 5) : (*p = '[', 1);
    p += strlen(strcpy(p, inner));
    for (int i = 0; i < levels; i++)
        *p++ = objects ? '}' : ']';
    *p = '\0';
    return s;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void parse_accepts_any_value_within_len(void **state)
{
    (void)state;
    json_t *v = parse_ok("{\"job\": \"j1\", \"units\": [1, 2, 3]}");
    assert_true(json_is_object(v));
    assert_int_equal(json_array_size(json_object_get(v, "units")), 3);
    json_decref(v);
    v = parse_ok("42");
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);

    /* only `len` bytes count: what follows is not read */
    const char text[] = "[1]garbage";
    char why[128];
    assert_int_equal(udcs_json_parse(text, 3, &v, why, sizeof(why)), 0);
    assert_int_equal(json_array_size(v), 1);
    json_decref(v);
}

static void parse_error_names_line_and_column(void **state)
{
    (void)state;
    char why[256];
    parse_fails("{\n  \"a\": 1,\n  \"b\": }\n", why, sizeof(why));
    assert_memory_equal(why, "line 3, column 8: ", strlen("line 3, column 8: "));
    parse_fails("[1, 2", why, sizeof(why));
    assert_memory_equal(why, "line 1, column ", strlen("line 1, column "));
    parse_fails("", why, sizeof(why));
    assert_memory_equal(why, "line ", 5);
    parse_fails("{} trailing", why, sizeof(why));
    assert_non_null(strstr(why, "column"));
}

static void parse_error_text_fits_a_small_buffer(void **state)
{
    (void)state;
    char why[12];
    memset(why, 'x', sizeof(why));
    json_t *v = NULL;
    assert_int_equal(udcs_json_parse("{{{", 3, &v, why, sizeof(why)), UDCS_EPROTO);
    assert_int_equal(strlen(why), sizeof(why) - 1);
    assert_string_equal(why, "line 1, col");
}

static void parse_accepts_nesting_up_to_the_depth_limit(void **state)
{
    (void)state;
    for (int objects = 0; objects < 2; objects++) {
        char *empty = nested(UDCS_JSON_MAX_DEPTH, objects, objects ? "1" : "");
        char *scalar = nested(UDCS_JSON_MAX_DEPTH, objects, "1");
        json_t *v = parse_ok(empty);
        json_decref(v);
        v = parse_ok(scalar);
        json_decref(v);
        free(empty);
        free(scalar);
    }
}

static void parse_rejects_nesting_past_the_depth_limit(void **state)
{
    (void)state;
    char why[256];
    for (int objects = 0; objects < 2; objects++) {
        char *empty = nested(UDCS_JSON_MAX_DEPTH + 1, objects, objects ? "1" : "");
        char *scalar = nested(UDCS_JSON_MAX_DEPTH + 1, objects, "1");
        char *far = nested(1000, objects, "1");
        parse_fails(empty, why, sizeof(why));
        assert_string_equal(why, "nested deeper than 64 levels");
        parse_fails(scalar, why, sizeof(why));
        assert_string_equal(why, "nested deeper than 64 levels");
        parse_fails(far, why, sizeof(why));
        free(empty);
        free(scalar);
        free(far);
    }
    /* depth counts along one path, not across siblings */
    char *deep = nested(UDCS_JSON_MAX_DEPTH - 1, 0, "[1],[2],[3]");
    json_t *v = parse_ok(deep);
    json_decref(v);
    free(deep);
}

static void parse_rejects_duplicate_keys(void **state)
{
    (void)state;
    char why[256];
    parse_fails("{\"size\": 1, \"size\": 2}", why, sizeof(why));
    assert_non_null(strstr(why, "duplicate"));
    assert_non_null(strstr(why, "size"));
    parse_fails("{\"a\": {\"k\": 1, \"k\": 1}}", why, sizeof(why));
    json_t *v = parse_ok("{\"a\": {\"k\": 1}, \"b\": {\"k\": 1}}");   /* same key, other objects */
    json_decref(v);
}

/* ---- canonical output ------------------------------------------------------------------- */

static void canonical_dump_sorts_keys_and_is_compact(void **state)
{
    (void)state;
    json_t *v = parse_ok("{ \"b\" : 1,\n \"a\" : { \"d\" : [ 1, 2 ], \"c\" : \"x y\" }, "
                         "\"B\": null }");
    struct udcs_buf out = UDCS_BUF_INIT(4096);
    assert_int_equal(udcs_buf_append_str(&out, "> "), 0);
    assert_int_equal(udcs_json_dump_canonical(v, &out), 0);
    assert_string_equal(out.data, "> {\"B\":null,\"a\":{\"c\":\"x y\",\"d\":[1,2]},\"b\":1}");
    json_decref(v);
    udcs_buf_release(&out);
}

static void equal_values_give_equal_bytes_whatever_the_key_order(void **state)
{
    (void)state;
    json_t *x = json_pack("{s:i, s:s, s:[i,i]}", "zeta", 1, "alpha", "a", "mid", 1, 2);
    json_t *y = json_pack("{s:[i,i], s:i, s:s}", "mid", 1, 2, "zeta", 1, "alpha", "a");
    struct udcs_buf a = UDCS_BUF_INIT(1024), b = UDCS_BUF_INIT(1024);
    assert_int_equal(udcs_json_dump_canonical(x, &a), 0);
    assert_int_equal(udcs_json_dump_canonical(y, &b), 0);
    assert_string_equal(a.data, b.data);
    assert_string_equal(a.data, "{\"alpha\":\"a\",\"mid\":[1,2],\"zeta\":1}");
    json_decref(x);
    json_decref(y);
    udcs_buf_release(&a);
    udcs_buf_release(&b);

    struct udcs_buf s = UDCS_BUF_INIT(64);
    json_t *n = json_integer(-5);
    assert_int_equal(udcs_json_dump_canonical(n, &s), 0);   /* scalars too */
    assert_string_equal(s.data, "-5");
    json_decref(n);
    udcs_buf_release(&s);
}

static void canonical_dump_past_max_is_etoobig_and_leaves_buffer_unchanged(void **state)
{
    (void)state;
    char long_text[101];
    memset(long_text, 'q', 100);
    long_text[100] = '\0';
    json_t *v = json_pack("{s:s, s:i}", "name", long_text, "n", 1);

    /* the overflow comes in one long piece of the string */
    struct udcs_buf out = UDCS_BUF_INIT(40);
    assert_int_equal(udcs_buf_append_str(&out, "kept"), 0);
    assert_int_equal(udcs_json_dump_canonical(v, &out), UDCS_ETOOBIG);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "kept");
    udcs_buf_release(&out);

    /* and just past the end, one byte over */
    struct udcs_buf exact = UDCS_BUF_INIT(1024);
    assert_int_equal(udcs_json_dump_canonical(v, &exact), 0);
    struct udcs_buf tight = UDCS_BUF_INIT(exact.len - 1);
    assert_int_equal(udcs_json_dump_canonical(v, &tight), UDCS_ETOOBIG);
    assert_int_equal(tight.len, 0);
    struct udcs_buf fits = UDCS_BUF_INIT(exact.len);
    assert_int_equal(udcs_json_dump_canonical(v, &fits), 0);
    assert_string_equal(fits.data, exact.data);
    json_decref(v);
    udcs_buf_release(&exact);
    udcs_buf_release(&tight);
    udcs_buf_release(&fits);
}

/* ---- field access ------------------------------------------------------------------------- */

static void get_str_borrows_and_names_the_field_on_error(void **state)
{
    (void)state;
    json_t *v = parse_ok("{\"digest\": \"ab12\", \"size\": 5}");
    const char *s = NULL;
    char why[128];
    assert_int_equal(udcs_json_get_str(v, "digest", &s, why, sizeof(why)), 0);
    assert_string_equal(s, "ab12");
    assert_ptr_equal(s, json_string_value(json_object_get(v, "digest")));

    assert_int_equal(udcs_json_get_str(v, "owner", &s, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'owner' is missing");
    assert_int_equal(udcs_json_get_str(v, "size", &s, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'size' must be a string");

    json_t *arr = parse_ok("[\"digest\"]");   /* not an object at all */
    assert_int_equal(udcs_json_get_str(arr, "digest", &s, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'digest' is missing");
    json_decref(arr);
    json_decref(v);
}

static void get_uint_and_get_int_check_type_and_sign(void **state)
{
    (void)state;
    json_t *v = parse_ok("{\"size\": 4611686018427387904, \"neg\": -3, \"real\": 1.5, "
                         "\"text\": \"5\", \"max\": 9223372036854775807}");
    uint64_t u = 0;
    int64_t i = 0;
    char why[128];
    assert_int_equal(udcs_json_get_uint(v, "size", &u, why, sizeof(why)), 0);
    assert_int_equal(u, 1ull << 62);
    assert_int_equal(udcs_json_get_uint(v, "max", &u, why, sizeof(why)), 0);
    assert_int_equal(u, INT64_MAX);
    assert_int_equal(udcs_json_get_int(v, "neg", &i, why, sizeof(why)), 0);
    assert_int_equal(i, -3);

    u = 99;
    assert_int_equal(udcs_json_get_uint(v, "neg", &u, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'neg' must not be negative");
    assert_int_equal(u, 99);
    assert_int_equal(udcs_json_get_uint(v, "real", &u, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'real' must be an integer");
    assert_int_equal(udcs_json_get_int(v, "text", &i, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'text' must be an integer");
    assert_int_equal(udcs_json_get_int(v, "absent", &i, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'absent' is missing");
    assert_int_equal(udcs_json_get_uint(v, "absent", &u, why, sizeof(why)), UDCS_EPROTO);
    assert_string_equal(why, "field 'absent' is missing");
    json_decref(v);

    char w[256];
    parse_fails("{\"size\": 99999999999999999999}", w, sizeof(w));   /* too big for jansson */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_any_value_within_len),
        cmocka_unit_test(parse_error_names_line_and_column),
        cmocka_unit_test(parse_error_text_fits_a_small_buffer),
        cmocka_unit_test(parse_accepts_nesting_up_to_the_depth_limit),
        cmocka_unit_test(parse_rejects_nesting_past_the_depth_limit),
        cmocka_unit_test(parse_rejects_duplicate_keys),
        cmocka_unit_test(canonical_dump_sorts_keys_and_is_compact),
        cmocka_unit_test(equal_values_give_equal_bytes_whatever_the_key_order),
        cmocka_unit_test(canonical_dump_past_max_is_etoobig_and_leaves_buffer_unchanged),
        cmocka_unit_test(get_str_borrows_and_names_the_field_on_error),
        cmocka_unit_test(get_uint_and_get_int_check_type_and_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
