/* tests/unit/test_cas_action.c - actions: one canonical form (and digest) however the
 * JSON was written, and refusals for everything an executor could not act on safely. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cas/cas.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

static void digest_of(const char *json, struct cas_digest *d)
{
    struct cas_action a;
    char why[256] = "";
    if (cas_action_from_json(json, strlen(json), &a, why, sizeof(why)) < 0) {
        fprintf(stderr, "refused: %s\n", why);
        fail();
    }
    assert_int_equal(cas_action_digest(&a, d), 0);
    cas_action_release(&a);
}

static void same_action_written_differently_has_one_digest(void **state)
{
    (void)state;
    struct cas_digest a, b, c;
    digest_of("{\"version\":1,\"kind\":\"exec\",\"argv\":[\"cc\",\"-c\",\"x.c\"],"
              "\"env\":{\"B\":\"2\",\"A\":\"1\"},\"outputs\":[\"x.o\"]}", &a);
    digest_of("{\"outputs\":[\"x.o\"],\"env\":{\"A\":\"1\",\"B\":\"2\"},"
              "\"argv\":[\"cc\",\"-c\",\"x.c\"],\"kind\":\"exec\",\"version\":1,"
              "\"limits\":{\"cpu_s\":0},\"timeout_ms\":0}", &b);
    assert_true(cas_digest_equal(&a, &b));
    digest_of("{\"version\":1,\"kind\":\"exec\",\"argv\":[\"cc\",\"-c\",\"x.c\"],"
              "\"env\":{\"A\":\"1\",\"B\":\"3\"},\"outputs\":[\"x.o\"]}", &c);
    assert_false(cas_digest_equal(&a, &c));   /* one variable changed: another action */
    digest_of("{\"version\":1,\"kind\":\"exec\",\"argv\":[\"cc\",\"-c\",\"x.c\"],"
              "\"env\":{\"B\":\"2\",\"A\":\"1\"},\"outputs\":[\"x.o\"],"
              "\"toolchain\":\"0123456789abcdef0123456789abcdef/10\"}", &c);
    assert_false(cas_digest_equal(&a, &c));   /* a shipped toolchain: another action */
}

static void canonical_form_round_trips(void **state)
{
    (void)state;
    const char *in = "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"echo hi\"],"
                     "\"env\":{\"PATH\":\"/bin\"},\"outputs\":[\"out/a.txt\"],\"cwd\":\"src\","
                     "\"stdin\":\"payload\",\"timeout_ms\":5000,\"limits\":{\"mem_bytes\":1048576},"
                     "\"platform\":{\"architecture\":\"x86_64\",\"os\":\"linux\"},"
                     "\"input_root\":\"6bba86c7e069f56d5a10b435f1c8e49c/6\","
                     "\"toolchain\":\"0123456789abcdef0123456789abcdef/80166912\"}";
    struct cas_action a, b;
    char why[256];
    struct udcs_buf x = UDCS_BUF_INIT(SIZE_MAX), y = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_action_from_json(in, strlen(in), &a, why, sizeof(why)), 0);
    assert_int_equal(a.argc, 3);
    assert_string_equal(a.env[0], "PATH=/bin");
    assert_string_equal(a.cwd, "src");
    assert_int_equal(a.limits.mem_bytes, 1048576);
    assert_true(a.has_input_root);
    assert_true(a.has_toolchain);
    assert_int_equal(a.toolchain.size, 80166912);
    assert_int_equal(cas_action_to_json(&a, &x), 0);
    assert_non_null(strstr(x.data, "\"toolchain\":\"0123456789abcdef0123456789abcdef/80166912\""));
    assert_int_equal(cas_action_from_json(x.data, x.len, &b, why, sizeof(why)), 0);
    assert_int_equal(cas_action_to_json(&b, &y), 0);
    assert_string_equal(x.data, y.data);
    cas_action_release(&a);
    cas_action_release(&b);
    udcs_buf_release(&x);
    udcs_buf_release(&y);
}

static void unsafe_or_malformed_actions_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[]}", "argv must name" },
        { "{\"version\":2,\"kind\":\"exec\",\"argv\":[\"x\"]}", "version" },
        { "{\"version\":1,\"kind\":\"Exec!\",\"argv\":[\"x\"]}", "lower-case" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"outputs\":[\"../x\"]}", "climbs" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"cwd\":\"/tmp\"}", "cwd" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"stdin\":\"a/../../b\"}", "stdin" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"env\":{\"A=B\":\"1\"}}", "contains '='" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"env\":{\"A\":1}}", "must be a string" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"timeout_ms\":-5}", "whole number" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"input_root\":\"abc\"}", "HEX/SIZE" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[\"x\"],\"toolchain\":\"0123456789abcdef0123456789abcdef\"}", "toolchain" },
        { "{\"version\":1,\"kind\":\"exec\",\"argv\":[1]}", "array of strings" },
        { "[]", "JSON object" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cas_action a;
        char why[256] = "";
        assert_int_equal(cas_action_from_json(cases[i].json, strlen(cases[i].json), &a, why,
                                              sizeof(why)), UDCS_EPROTO);
        if (!strstr(why, cases[i].why)) {
            fprintf(stderr, "case %zu: '%s' does not mention '%s'\n", i, why, cases[i].why);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_action_written_differently_has_one_digest),
        cmocka_unit_test(canonical_form_round_trips),
        cmocka_unit_test(unsafe_or_malformed_actions_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
