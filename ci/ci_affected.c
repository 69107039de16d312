/* ci/ci_affected.c - `udcs ci affected --base REF [--head REF]`: the steps whose keys
 * differ between two commits, from libgit2's diff of the two trees limited to each
 * step's inputs. The steps come from a steps file (--steps FILE; else .udcs-ci.json as
 * committed at --head, compared with its version at --base, so a step defined otherwise
 * is affected too; else .udcs-ci.json in the working tree) or else from the step log (the
 * latest record of each name). */
#include "ci/ci_internal.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CI_STEPS_FILE ".udcs-ci.json"

static int tree_of(git_repository *repo, const char *ref, git_tree **out)
{
    git_object *obj = NULL;
    if (git_revparse_single(&obj, repo, ref) < 0 ||
        git_object_peel((git_object **)out, obj, GIT_OBJECT_TREE) < 0) {
        udcs_log_error("ci affected: '%s' names no commit here: %s", ref, ci_git_error());
        git_object_free(obj);
        return UDCS_EUSAGE;
    }
    git_object_free(obj);
    return 0;
}

/* 1 when the diff of the two trees under the step's inputs is not empty. */
static int step_changed(git_repository *repo, git_tree *a, git_tree *b, const struct ci_step *s)
{
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    if (ci_step_pathspec(s, &opts.pathspec))
        opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
    git_diff *diff = NULL;
    if (git_diff_tree_to_tree(&diff, repo, a, b, &opts) < 0) {
        udcs_log_error("ci affected: diffing the trees for step %s failed: %s", s->name,
                       ci_git_error());
        return UDCS_EFOREIGN;
    }
    int changed = git_diff_num_deltas(diff) > 0;
    git_diff_free(diff);
    return changed;
}

/* The steps of the log: the latest definition of each name, in order of first use. */
static int steps_from_log(const char *cache_dir, struct ci_step **out, size_t *n)
{
    json_t *log;
    int rc = ci_log_read(cache_dir, &log);
    if (rc < 0)
        return rc;
    size_t count = json_array_size(log), used = 0, i;
    struct ci_step *steps = calloc(count ? count : 1, sizeof(*steps));
    json_t *rec;
    rc = steps ? 0 : -ENOMEM;
    json_array_foreach(log, i, rec) {
        struct ci_step s;
        char why[256];
        if (rc < 0)
            break;
        if (ci_step_from_json(json_object_get(rec, "step"), &s, why, sizeof(why)) < 0) {
            udcs_log_warn("ci affected: step log record %zu has no usable step (%s); skipped",
                          i + 1, why);
            continue;
        }
        size_t k = 0;
        while (k < used && strcmp(steps[k].name, s.name) != 0)
            k++;
        if (k < used)
            ci_step_release(&steps[k]);
        else
            used++;
        steps[k] = s;
    }
    json_decref(log);
    *out = steps;
    *n = used;
    return rc;
}

static int steps_from_file(const char *path, struct ci_step **out, size_t *n)
{
    struct udcs_buf b = UDCS_BUF_INIT(CI_LOG_MAX_BYTES);
    char why[512] = "";
    int rc = udcs_read_file(path, &b);
    if (rc < 0) {
        udcs_log_error("ci affected: cannot read the steps file %s: %s", path,
                       udcs_strerror(rc));
        return rc == -ENOENT ? UDCS_EUSAGE : rc;
    }
    rc = ci_steps_parse(b.data, b.len, out, why, sizeof(why));
    udcs_buf_release(&b);
    if (rc < 0) {
        udcs_log_error("ci affected: the steps file %s is not valid: %s", path, why);
        return UDCS_EUSAGE;
    }
    *n = (size_t)rc;
    return 0;
}

/* The steps of .udcs-ci.json as `tree` holds it. Returns 0, -ENOENT when the tree has no
 * such file, or UDCS_EUSAGE when it does not parse (logged with `ref`). */
static int steps_from_tree(git_repository *repo, git_tree *tree, const char *ref,
                           struct ci_step **out, size_t *n)
{
    git_tree_entry *e = NULL;
    git_blob *blob = NULL;
    *out = NULL;
    *n = 0;
    int rc = git_tree_entry_bypath(&e, tree, CI_STEPS_FILE);
    if (rc == GIT_ENOTFOUND)
        return -ENOENT;
    if (rc < 0 || git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
        udcs_log_error("ci affected: cannot read %s at %s: %s", CI_STEPS_FILE, ref,
                       ci_git_error());
        git_tree_entry_free(e);
        return UDCS_EFOREIGN;
    }
    char why[512] = "";
    rc = ci_steps_parse(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), out, why,
                        sizeof(why));
    if (rc < 0) {
        udcs_log_error("ci affected: %s at %s is not valid: %s", CI_STEPS_FILE, ref, why);
        rc = UDCS_EUSAGE;
    } else {
        *n = (size_t)rc;
        rc = 0;
    }
    git_blob_free(blob);
    git_tree_entry_free(e);
    return rc;
}

/* Whether `s` is defined otherwise (or not at all) among the `n` steps of `old`: a
 * changed command, environment or toolchain changes the key as a changed input does. */
static int definition_changed(const struct ci_step *s, const struct ci_step *old, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(old[i].name, s->name) != 0)
            continue;
        json_t *a = ci_step_to_json(s), *b = ci_step_to_json(&old[i]);
        int same = a && b && json_equal(a, b);
        json_decref(a);
        json_decref(b);
        return !same;
    }
    return 1;
}

static void steps_free(struct ci_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ci_step_release(&steps[i]);
    free(steps);
}

int ci_cmd_affected(const char *cache_dir, int argc, char **argv)
{
    const char *base = NULL, *head = "HEAD", *steps_file = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
            base = argv[++i];
        } else if (strcmp(argv[i], "--head") == 0 && i + 1 < argc) {
            head = argv[++i];
        } else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            steps_file = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            udcs_log_error("ci affected: unknown option or missing value '%s'; usage: udcs ci "
                           "affected --base REF [--head REF] [--steps FILE] [--json]", argv[i]);
            return UDCS_EXIT_USAGE;
        }
    }
    if (!base) {
        udcs_log_error("ci affected: --base REF is required (the commit to compare with)");
        return UDCS_EXIT_USAGE;
    }
    git_repository *repo = NULL;
    char *prefix = NULL, *top_file = NULL;
    git_tree *a = NULL, *b = NULL;
    struct ci_step *steps = NULL, *base_steps = NULL;
    size_t n = 0, n_base = 0;
    int from_trees = 0;
    int rc = ci_repo_open(&repo, &prefix);
    if (rc == 0)
        rc = tree_of(repo, base, &a);
    if (rc == 0)
        rc = tree_of(repo, head, &b);
    /* A steps file committed at --head is read from the two commits, so a step whose
     * definition changed between them is affected too. */
    if (rc == 0 && !steps_file) {
        rc = steps_from_tree(repo, b, head, &steps, &n);
        if (rc == 0) {
            from_trees = 1;
            if (steps_from_tree(repo, a, base, &base_steps, &n_base) < 0)
                n_base = 0;   /* no valid file at base: every step is new */
        } else if (rc == -ENOENT) {
            rc = 0;
            top_file = udcs_path_join(git_repository_workdir(repo), CI_STEPS_FILE);
            if (top_file && access(top_file, F_OK) == 0)
                steps_file = top_file;
        }
    }
    if (rc == 0 && !from_trees)
        rc = steps_file ? steps_from_file(steps_file, &steps, &n)
                        : steps_from_log(cache_dir, &steps, &n);
    json_t *hit = json_array(), *miss = json_array();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int changed = from_trees && definition_changed(&steps[i], base_steps, n_base);
        if (!changed)
            changed = step_changed(repo, a, b, &steps[i]);
        if (changed < 0)
            rc = changed;
        else
            json_array_append_new(changed ? hit : miss, json_string(steps[i].name));
    }
    if (rc == 0 && json) {
        json_t *j = json_pack("{s:O,s:O,s:s,s:s}", "affected", hit, "unaffected", miss,
                              "base", base, "head", head);
        char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        printf("%s\n", text ? text : "null");
        free(text);
        json_decref(j);
    } else if (rc == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(hit, i, v)
            printf("%s\n", json_string_value(v));
    }
    json_decref(hit);
    json_decref(miss);
    steps_free(steps, n);
    steps_free(base_steps, n_base);
    free(top_file);
    free(prefix);
    git_tree_free(a);
    git_tree_free(b);
    git_repository_free(repo);
    return rc == 0 ? UDCS_EXIT_OK : rc == UDCS_EUSAGE ? UDCS_EXIT_USAGE : UDCS_EXIT_FAILED;
}
