/* tests/unit/test_cas_ac.c - action results: their canonical JSON, what the parser
 * refuses, and the action cache in the local store (put, replace, damage, outputs gone). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char *dir;
    struct cas *c;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("ac");
    struct cas_options o = { .local = { .root = f->dir, .encode = { .level = 3 } } };
    assert_int_equal(cas_open(&o, &f->c), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cas_close(f->c);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* A result with one output, stdout and stderr, all stored in `c` when it is not NULL. */
static void make_result(struct cas *c, struct cas_action_result *r, const char *object)
{
    memset(r, 0, sizeof(*r));
    struct cas_digest d;
    if (c) {
        assert_int_equal(cas_put_bytes(c, object, strlen(object), &d), 0);
        assert_int_equal(cas_put_bytes(c, "warning: x\n", 11, &r->stderr_digest), 0);
        assert_int_equal(cas_put_bytes(c, "", 0, &r->stdout_digest), 0);
    } else {
        cas_digest_of_bytes(object, strlen(object), &d);
        cas_digest_of_bytes("warning: x\n", 11, &r->stderr_digest);
        cas_digest_of_bytes("", 0, &r->stdout_digest);
    }
    assert_int_equal(cas_action_result_add_output(r, "obj/main.o", &d, 0), 0);
    r->exit_code = 0;
    r->executor = strdup("local");
    r->duration_ms = 1234;
    r->created_ms = 1700000000000ull;
}

static void result_json_is_canonical_and_round_trips(void **state)
{
    (void)state;
    struct cas_action_result r, back;
    struct udcs_buf a = UDCS_BUF_INIT(SIZE_MAX), b = UDCS_BUF_INIT(SIZE_MAX);
    char why[256];
    make_result(NULL, &r, "object bytes");
    assert_int_equal(cas_action_result_to_json(&r, &a), 0);
    assert_int_equal(a.data[0], '{');
    assert_null(strchr(a.data, '\n'));
    assert_non_null(strstr(a.data, "\"created_ms\":1700000000000,\"duration_ms\":1234"));
    assert_int_equal(cas_action_result_from_json(a.data, a.len, &back, why, sizeof(why)), 0);
    assert_int_equal(back.n_outputs, 1);
    assert_string_equal(back.outputs[0].path, "obj/main.o");
    assert_true(cas_digest_equal(&back.outputs[0].digest, &r.outputs[0].digest));
    assert_string_equal(back.executor, "local");
    assert_int_equal(cas_action_result_to_json(&back, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    cas_action_result_release(&r);
    cas_action_result_release(&back);
    udcs_buf_release(&a);
    udcs_buf_release(&b);
}

static void result_parser_refuses_bad_records_and_says_why(void **state)
{
    (void)state;
    static const char ok_std[] = "\"stdout\":\"99aa06d3014798d86001c324468d497f/0\","
                                 "\"stderr\":\"99aa06d3014798d86001c324468d497f/0\"";
    struct {
        const char *json, *why;
    } cases[] = {
        { "[]", "must be a JSON object" },
        { "{\"version\":1}", "exit_code" },
        { "{\"version\":2,\"exit_code\":0}", "version 2" },
        { "{\"version\":1,\"exit_code\":300,\"outputs\":[]}", "exit_code" },
        { "{\"version\":1,\"exit_code\":0,\"outputs\":[],\"stdout\":\"zz\"}", "digest" },
        { "{\"version\":1,\"exit_code\":0,\"outputs\":{}, %s}", "'outputs' must be an array" },
        { "{\"version\":1,\"exit_code\":0,%s,\"outputs\":[{\"path\":\"/etc/passwd\","
          "\"digest\":\"99aa06d3014798d86001c324468d497f/0\"}]}", "absolute" },
        { "{\"version\":1,\"exit_code\":0,%s,\"outputs\":[{\"path\":\"a/../../x\","
          "\"digest\":\"99aa06d3014798d86001c324468d497f/0\"}]}", "'..'" },
        { "{\"version\":1,\"exit_code\":0,%s,\"outputs\":[],\"version\":1}", "line" },
        { "{\"version\":1,", "line 1" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024], why[256] = "";
        struct cas_action_result r;
        snprintf(json, sizeof(json), cases[i].json, ok_std);
        assert_int_equal(cas_action_result_from_json(json, strlen(json), &r, why, sizeof(why)),
                         UDCS_EPROTO);
        if (!strstr(why, cases[i].why)) {
            fprintf(stderr, "case %zu: '%s' does not mention '%s'\n", i, why, cases[i].why);
            fail();
        }
    }
}

static void ac_put_then_get_and_replace(void **state)
{
    struct fixture *f = *state;
    struct cas_action_result r, got;
    struct cas_digest action;
    cas_digest_of_bytes("gcc -c main.c", 13, &action);
    assert_int_equal(cas_ac_get(f->c, &action, &got), -ENOENT);
    make_result(f->c, &r, "first object");
    assert_int_equal(cas_ac_put(f->c, &action, &r), 0);
    assert_int_equal(cas_ac_get(f->c, &action, &got), 0);
    assert_true(cas_digest_equal(&got.outputs[0].digest, &r.outputs[0].digest));
    cas_action_result_release(&got);
    cas_action_result_release(&r);

    make_result(f->c, &r, "second object");
    r.exit_code = 1;
    assert_int_equal(cas_ac_put(f->c, &action, &r), 0);
    assert_int_equal(cas_ac_get(f->c, &action, &got), 0);
    assert_int_equal(got.exit_code, 1);
    assert_true(cas_digest_equal(&got.outputs[0].digest, &r.outputs[0].digest));
    struct cas_stats s;
    cas_store_stats(cas_local(f->c), &s);
    assert_int_equal(s.ac_count, 1);
    assert_int_equal(s.ac_puts, 2);
    assert_int_equal(s.ac_hits, 2);
    assert_int_equal(s.ac_misses, 1);
    cas_action_result_release(&got);
    cas_action_result_release(&r);
}

static void damaged_ac_record_is_a_miss_and_removed(void **state)
{
    struct fixture *f = *state;
    struct cas_action_result r, got;
    struct cas_digest action;
    char hex[CAS_HEX_LEN + 1], path[4096];
    cas_digest_of_bytes("gcc -c broken.c", 15, &action);
    make_result(f->c, &r, "object");
    assert_int_equal(cas_ac_put(f->c, &action, &r), 0);
    cas_digest_hex(&action, hex);
    snprintf(path, sizeof(path), "%s/ac/%.2s/%s", f->dir, hex, hex + 2);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(pwrite(fd, "X", 1, st.st_size - 3), 1);
    close(fd);

    assert_int_equal(cas_ac_get(f->c, &action, &got), UDCS_ECORRUPT);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(cas_ac_get(f->c, &action, &got), -ENOENT);
    cas_action_result_release(&r);
}

static void ac_hit_whose_output_is_gone_is_a_miss(void **state)
{
    struct fixture *f = *state;
    struct cas_action_result r, got;
    struct cas_digest action;
    cas_digest_of_bytes("gcc -c evicted.c", 16, &action);
    make_result(f->c, &r, "an object that will be evicted");
    assert_int_equal(cas_ac_put(f->c, &action, &r), 0);
    assert_int_equal(cas_store_remove(cas_local(f->c), &r.outputs[0].digest), 0);
    assert_int_equal(cas_ac_get(f->c, &action, &got), -ENOENT);
    cas_action_result_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_json_is_canonical_and_round_trips),
        cmocka_unit_test(result_parser_refuses_bad_records_and_says_why),
        cmocka_unit_test_setup_teardown(ac_put_then_get_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_ac_record_is_a_miss_and_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(ac_hit_whose_output_is_gone_is_a_miss, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
