/* tests/unit/test_cas_tree.c - tree manifests: canonical JSON, and everything the parser
 * must refuse before a restore could write outside its directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cas/cas.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D1 "6bba86c7e069f56d5a10b435f1c8e49c/6"

static void manifest_is_sorted_and_parses_back_the_same(void **state)
{
    (void)state;
    struct cas_tree t = { 0 }, back;
    struct cas_digest d;
    struct udcs_buf a = UDCS_BUF_INIT(SIZE_MAX), b = UDCS_BUF_INIT(SIZE_MAX);
    char why[256];
    cas_digest_of_bytes("hello\n", 6, &d);
    assert_int_equal(cas_tree_add(&t, CAS_TREE_FILE, "z/file.c", &d, 0644, NULL), 0);
    assert_int_equal(cas_tree_add(&t, CAS_TREE_DIR, "z", NULL, 0, NULL), 0);
    assert_int_equal(cas_tree_add(&t, CAS_TREE_SYMLINK, "a-link", NULL, 0, "z/file.c"), 0);
    assert_int_equal(cas_tree_to_json(&t, &a), 0);
    assert_string_equal(a.data,
                        "{\"entries\":[{\"path\":\"a-link\",\"symlink\":\"z/file.c\"},"
                        "{\"path\":\"z\",\"type\":\"dir\"},{\"digest\":\"" D1 "\",\"mode\":420,"
                        "\"path\":\"z/file.c\"}],\"udcs_tree\":1}");
    assert_int_equal(cas_tree_parse(a.data, a.len, &back, why, sizeof(why)), 0);
    assert_int_equal(back.count, 3);
    assert_int_equal(back.entries[2].kind, CAS_TREE_FILE);
    assert_int_equal(back.entries[2].mode, 0644);
    assert_true(cas_digest_equal(&back.entries[2].digest, &d));
    assert_int_equal(cas_tree_to_json(&back, &b), 0);
    assert_string_equal(a.data, b.data);
    cas_tree_release(&t);
    cas_tree_release(&back);
    udcs_buf_release(&a);
    udcs_buf_release(&b);
}

static void parser_refuses_unsafe_or_malformed_manifests(void **state)
{
    (void)state;
    static const struct {
        const char *entries, *why;
    } cases[] = {
        { "{\"path\":\"/etc/passwd\",\"digest\":\"" D1 "\",\"mode\":420}", "absolute" },
        { "{\"path\":\"a/../../x\",\"digest\":\"" D1 "\",\"mode\":420}", "'..'" },
        { "{\"path\":\"a//b\",\"type\":\"dir\"}", "empty" },
        { "{\"path\":\"./a\",\"type\":\"dir\"}", "'.'" },
        { "{\"path\":\"l\",\"symlink\":\"/tmp\"},{\"path\":\"l/x\",\"digest\":\"" D1
          "\",\"mode\":420}", "below a symlink" },
        { "{\"path\":\"f\",\"digest\":\"" D1 "\",\"mode\":420},{\"path\":\"f/x\",\"type\":\"dir\"}",
          "below a symlink or a file" },
        { "{\"path\":\"a\",\"type\":\"dir\"},{\"path\":\"a\",\"type\":\"dir\"}", "twice" },
        { "{\"path\":\"a\"}", "exactly one" },
        { "{\"path\":\"a\",\"type\":\"dir\",\"symlink\":\"b\"}", "exactly one" },
        { "{\"path\":\"a\",\"type\":\"fifo\"}", "other than" },
        { "{\"path\":\"a\",\"digest\":\"" D1 "\",\"mode\":4096}", "mode" },
        { "{\"path\":\"a\",\"digest\":\"6bba86c7e069f56d5a10b435f1c8e49c\",\"mode\":420}", "HEX/SIZE" },
        { "{\"path\":\"l\",\"symlink\":\"\"}", "no target" },
        { "42", "without a 'path'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024], why[256] = "";
        struct cas_tree t;
        snprintf(json, sizeof(json), "{\"udcs_tree\":1,\"entries\":[%s]}", cases[i].entries);
        assert_int_equal(cas_tree_parse(json, strlen(json), &t, why, sizeof(why)), UDCS_EPROTO);
        assert_int_equal(t.count, 0);
        if (!strstr(why, cases[i].why)) {
            fprintf(stderr, "case %zu: '%s' does not mention '%s'\n", i, why, cases[i].why);
            fail();
        }
    }
    char why[256];
    struct cas_tree t;
    const char *v2 = "{\"udcs_tree\":2,\"entries\":[]}";
    assert_int_equal(cas_tree_parse(v2, strlen(v2), &t, why, sizeof(why)), UDCS_EPROTO);
    assert_non_null(strstr(why, "version"));
    assert_int_equal(cas_tree_parse("[]", 2, &t, why, sizeof(why)), UDCS_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_is_sorted_and_parses_back_the_same),
        cmocka_unit_test(parser_refuses_unsafe_or_malformed_manifests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
