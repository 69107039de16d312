/* tests/unit/test_ci.c - ci/: what a steps file may hold, a step's JSON round trip, the
 * git ids the key reads from a tree, and a key that depends on what the step does, not on
 * the order its inputs are listed in. Repositories are made here with libgit2. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ci/ci_internal.h"
#include "common/err.h"
#include "common/fs.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void steps_file_refuses_unsafe_or_malformed_steps(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[\"../up\"]}]}", "stays inside" },
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[\"/etc\"]}]}", "stays inside" },
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[\"a\"],\"outputs\":[\"\"]}]}", "stays inside" },
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[\"a/./b\"]}]}", "stays inside" },
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[\"a\"],\"env\":[\"A=1\"]}]}", "variable name" },
        { "{\"steps\":[{\"name\":\"x y\",\"inputs\":[\"a\"]}]}", "'name'" },
        { "{\"steps\":[{\"name\":\"x\"}]}", "'inputs'" },
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[1]}]}", "not a string" },
        { "{\"steps\":[{\"name\":\"x\",\"inputs\":[\"a\"]},{\"name\":\"x\",\"inputs\":[\"b\"]}]}",
          "used twice" },
        { "{\"steps\":{}}", "steps" },
        { "{\"steps\":[", "line" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ci_step *steps = (struct ci_step *)1;
        char why[512] = "";
        int rc = ci_steps_parse(cases[i].json, strlen(cases[i].json), &steps, why, sizeof(why));
        if (rc != UDCS_EPROTO || !strstr(why, cases[i].why) || steps != NULL) {
            fprintf(stderr, "case %zu: rc %d, why '%s' (wanted '%s')\n", i, rc, why,
                    cases[i].why);
            fail();
        }
    }
}

static void step_survives_a_json_round_trip(void **state)
{
    (void)state;
    const char *text = "{\"steps\":[{\"name\":\"build\",\"inputs\":[\"src\",\"\"],"
                       "\"outputs\":[\"out/app\"],\"env\":[\"CC\"],\"toolchains\":[\"gcc\"],"
                       "\"argv\":[\"make\",\"-j2\"]}]}";
    struct ci_step *steps, back;
    char why[256] = "";
    assert_int_equal(ci_steps_parse(text, strlen(text), &steps, why, sizeof(why)), 1);
    json_t *j = ci_step_to_json(&steps[0]);
    assert_non_null(j);
    assert_int_equal(ci_step_from_json(j, &back, why, sizeof(why)), 0);
    assert_string_equal(back.name, "build");
    assert_int_equal(back.n_inputs, 2);
    assert_string_equal(back.inputs[1], "");
    assert_string_equal(back.outputs[0], "out/app");
    assert_string_equal(back.env[0], "CC");
    assert_string_equal(back.toolchains[0], "gcc");
    assert_int_equal(back.argc, 2);
    assert_null(back.argv[2]);
    json_decref(j);
    ci_step_release(&back);
    ci_step_release(&steps[0]);
    free(steps);
}

/* ---- a repository with one commit ------------------------------------------------------ */

struct repo_fixture {
    char dir[PATH_MAX];
    char old_cwd[PATH_MAX];
    git_repository *repo;
    git_oid tree_id;
};

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(udcs_write_atomic(path, text, strlen(text), 0644), 0);
}

static int repo_setup(void **state)
{
    git_libgit2_init();
    struct repo_fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "%s/udcs-test-ci-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->dir) || !getcwd(f->old_cwd, sizeof(f->old_cwd)))
        return -1;
    char sub[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/src", f->dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/doc", f->dir);
    mkdir(sub, 0755);
    write_file(f->dir, "src/a.c", "int a;\n");
    write_file(f->dir, "doc/d.md", "notes\n");
    git_index *idx;
    git_signature *sig;
    git_tree *tree;
    git_oid commit;
    if (git_repository_init(&f->repo, f->dir, 0) < 0 ||
        git_repository_index(&idx, f->repo) < 0 || git_index_add_bypath(idx, "src/a.c") < 0 ||
        git_index_add_bypath(idx, "doc/d.md") < 0 || git_index_write(idx) < 0 ||
        git_index_write_tree(&f->tree_id, idx) < 0 ||
        git_tree_lookup(&tree, f->repo, &f->tree_id) < 0 ||
        git_signature_now(&sig, "t", "t@example.com") < 0 ||
        git_commit_create_v(&commit, f->repo, "HEAD", sig, sig, NULL, "init", tree, 0) < 0)
        return -1;
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(idx);
    if (chdir(f->dir) < 0)
        return -1;
    *state = f;
    return 0;
}

static int repo_teardown(void **state)
{
    struct repo_fixture *f = *state;
    int rc = chdir(f->old_cwd);
    git_repository_free(f->repo);
    udcs_remove_tree(f->dir);
    free(f);
    git_libgit2_shutdown();
    return rc;
}

static void tree_entries_name_trees_blobs_and_absence(void **state)
{
    struct repo_fixture *f = *state;
    git_tree *tree;
    assert_int_equal(git_tree_lookup(&tree, f->repo, &f->tree_id), 0);
    char text[128], want[128], hex[GIT_OID_HEXSZ + 1];
    git_oid blob;
    /* The blob id git gives the same bytes, computed apart from the tree. */
    assert_int_equal(git_blob_create_from_buffer(&blob, f->repo, "int a;\n", 7), 0);
    snprintf(want, sizeof(want), "blob:%s:100644", git_oid_tostr(hex, sizeof(hex), &blob));
    assert_int_equal(ci_tree_entry_text(tree, "src/a.c", text, sizeof(text)), 0);
    assert_string_equal(text, want);
    assert_int_equal(ci_tree_entry_text(tree, "src", text, sizeof(text)), 0);
    assert_true(strncmp(text, "tree:", 5) == 0);
    assert_int_equal(ci_tree_entry_text(tree, "nothing/here", text, sizeof(text)), 0);
    assert_string_equal(text, "absent");
    snprintf(want, sizeof(want), "tree:%s", git_oid_tostr(hex, sizeof(hex), &f->tree_id));
    assert_int_equal(ci_tree_entry_text(tree, "", text, sizeof(text)), 0);
    assert_string_equal(text, want);
    git_tree_free(tree);
}

static void key_follows_the_step_not_the_order_of_its_inputs(void **state)
{
    struct repo_fixture *f = *state;
    char *ab[] = { "src", "doc", NULL }, *ba[] = { "doc", "src", NULL };
    char *make[] = { "make", NULL }, *other[] = { "make", "all", NULL };
    struct ci_step s1 = { .name = "one", .inputs = ab, .n_inputs = 2, .argv = make, .argc = 1 };
    struct ci_step s2 = { .name = "two", .inputs = ba, .n_inputs = 2, .argv = make, .argc = 1 };
    struct ci_step s3 = { .name = "one", .inputs = ab, .n_inputs = 2, .argv = other, .argc = 2 };
    struct cas_digest k1, k2, k3, k4;
    assert_int_equal(ci_key_compute(f->repo, &s1, &k1, NULL), 0);
    assert_int_equal(ci_key_compute(f->repo, &s2, &k2, NULL), 0);
    assert_int_equal(ci_key_compute(f->repo, &s3, &k3, NULL), 0);
    assert_true(cas_digest_equal(&k1, &k2));    /* same inputs, another order and name */
    assert_false(cas_digest_equal(&k1, &k3));   /* another command */
    write_file(f->dir, "doc/new.md", "x\n");    /* untracked, under an input */
    assert_int_equal(ci_key_compute(f->repo, &s1, &k4, NULL), 0);
    assert_false(cas_digest_equal(&k1, &k4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_file_refuses_unsafe_or_malformed_steps),
        cmocka_unit_test(step_survives_a_json_round_trip),
        cmocka_unit_test_setup_teardown(tree_entries_name_trees_blobs_and_absence, repo_setup,
                                        repo_teardown),
        cmocka_unit_test_setup_teardown(key_follows_the_step_not_the_order_of_its_inputs,
                                        repo_setup, repo_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
