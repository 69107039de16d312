/* ci/ci_key.c - the key of a CI step: the git ids of its inputs at HEAD (read from the
 * tree with libgit2, no file is hashed), the content of whatever the working tree changes
 * under them (git status with the inputs as pathspecs), the command, the whitelisted
 * environment, the toolchain fingerprints and the platform. */
#include "ci/ci_internal.h"
#include "agents/detect.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CI_KEY_VERSION 1

const char *ci_git_error(void)
{
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

int ci_repo_open(git_repository **repo, char **prefix)
{
    git_libgit2_init();
    *prefix = NULL;
    if (git_repository_open_ext(repo, ".", 0, NULL) < 0) {
        udcs_log_error("ci: no git repository here or above (%s); run udcs ci inside the "
                       "checkout the pipeline builds", ci_git_error());
        return UDCS_EUSAGE;
    }
    const char *top = git_repository_workdir(*repo);
    char top_real[PATH_MAX], cwd_real[PATH_MAX];
    if (!top || !realpath(top, top_real) || !realpath(".", cwd_real)) {
        udcs_log_error("ci: the repository has no working tree (a bare repository?)");
        git_repository_free(*repo);
        *repo = NULL;
        return UDCS_EUSAGE;
    }
    size_t n = strlen(top_real);
    const char *rest = cwd_real + n;
    if (strncmp(top_real, cwd_real, n) != 0 || (*rest && *rest != '/')) {
        rest = "";
    }
    while (*rest == '/')
        rest++;
    size_t rn = strlen(rest);
    *prefix = malloc(rn + 2);
    if (!*prefix) {
        git_repository_free(*repo);
        *repo = NULL;
        return -ENOMEM;
    }
    snprintf(*prefix, rn + 2, "%s%s", rest, rn ? "/" : "");
    return 0;
}

int ci_step_pathspec(const struct ci_step *s, git_strarray *ps)
{
    ps->strings = NULL;
    ps->count = 0;
    for (size_t i = 0; i < s->n_inputs; i++)
        if (s->inputs[i][0] == '\0')
            return 0;
    ps->strings = s->inputs;
    ps->count = s->n_inputs;
    return 1;
}

int ci_tree_entry_text(git_tree *tree, const char *path, char *out, size_t out_len)
{
    char hex[GIT_OID_HEXSZ + 1];
    if (!path[0]) {
        snprintf(out, out_len, "tree:%s", git_oid_tostr(hex, sizeof(hex), git_tree_id(tree)));
        return 0;
    }
    git_tree_entry *e = NULL;
    int rc = git_tree_entry_bypath(&e, tree, path);
    if (rc == GIT_ENOTFOUND) {
        snprintf(out, out_len, "absent");
        return 0;
    }
    if (rc < 0) {
        udcs_log_error("ci: cannot read '%s' in the tree: %s", path, ci_git_error());
        return rc;
    }
    /* The mode counts: making a script executable changes what a step can do with it. */
    snprintf(out, out_len, "%s:%s:%o", git_object_type2string(git_tree_entry_type(e)),
             git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(e)),
             (unsigned)git_tree_entry_filemode(e));
    git_tree_entry_free(e);
    return 0;
}

/* What the working tree holds at `path` (relative to the top `top`): the digest of the
 * file, of a link's text, or "deleted". */
static int worktree_text(const char *top, const char *path, char *out, size_t out_len)
{
    char full[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(full, sizeof(full), "%s%s", top, path) >= sizeof(full))
        return -ENAMETOOLONG;
    if (lstat(full, &st) < 0) {
        if (errno != ENOENT)
            return -errno;
        snprintf(out, out_len, "deleted");
        return 0;
    }
    struct cas_digest d;
    char hex[CAS_HEX_LEN + 1];
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(full, target, sizeof(target));
        if (n < 0)
            return -errno;
        cas_digest_of_bytes(target, (size_t)n, &d);
        snprintf(out, out_len, "link:%s", cas_digest_hex(&d, hex));
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {   /* an untracked directory git did not recurse into */
        snprintf(out, out_len, "dir");
        return 0;
    }
    int rc = cas_digest_of_file(full, &d);
    if (rc < 0)
        return rc;
    snprintf(out, out_len, "file:%s:%o", cas_digest_hex(&d, hex), (st.st_mode & 0111) ? 0755u : 0644u);
    return 0;
}

/* Every path git status reports under the inputs, with what the working tree holds. */
static int add_worktree(git_repository *repo, const struct ci_step *s, json_t *into)
{
    git_status_options opts;
    git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
                 GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    if (ci_step_pathspec(s, &opts.pathspec))
        opts.flags |= GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH;
    git_status_list *list = NULL;
    if (git_status_list_new(&list, repo, &opts) < 0) {
        udcs_log_error("ci: git status failed: %s", ci_git_error());
        return UDCS_EFOREIGN;
    }
    const char *top = git_repository_workdir(repo);
    int rc = 0;
    size_t n = git_status_list_entrycount(list);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const git_status_entry *e = git_status_byindex(list, i);
        if (e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
            continue;
        const git_diff_delta *d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
        const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
        char text[128];
        rc = worktree_text(top, path, text, sizeof(text));
        if (rc < 0) {
            udcs_log_error("ci: cannot read %s%s: %s", top, path, udcs_strerror(rc));
            break;
        }
        /* A rename also changes what is at the old path. */
        if (d->old_file.path && strcmp(d->old_file.path, path) != 0) {
            char old_text[128];
            rc = worktree_text(top, d->old_file.path, old_text, sizeof(old_text));
            if (rc == 0 && json_object_set_new(into, d->old_file.path, json_string(old_text)) < 0)
                rc = -ENOMEM;
        }
        if (rc == 0 && json_object_set_new(into, path, json_string(text)) < 0)
            rc = -ENOMEM;
    }
    git_status_list_free(list);
    return rc;
}

static int add_toolchains(const struct ci_step *s, json_t *into)
{
    if (s->n_toolchains == 0)
        return 0;
    json_t *found = NULL;
    int rc = agent_detect_toolchains(NULL, &found);
    for (size_t i = 0; rc == 0 && i < s->n_toolchains; i++) {
        size_t k;
        json_t *t, *match = NULL;
        json_array_foreach(found, k, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            if (name && strcmp(name, s->toolchains[i]) == 0) {
                match = t;
                break;
            }
        }
        if (!match) {
            udcs_log_error("ci: step %s names toolchain '%s', which is not on PATH here; "
                           "toolchains an agent detects are gcc, g++, clang, clang++, cc, c++, "
                           "povray, blender, ffmpeg, libavcodec, libavformat",
                           s->name, s->toolchains[i]);
            rc = UDCS_EUSAGE;
            break;
        }
        if (json_object_set(into, s->toolchains[i], json_object_get(match, "fingerprint")) < 0)
            rc = -ENOMEM;
    }
    json_decref(found);
    return rc;
}

int ci_key_compute(git_repository *repo, const struct ci_step *s, struct cas_digest *key,
                   json_t **desc)
{
    git_object *obj = NULL;
    if (git_revparse_single(&obj, repo, "HEAD^{tree}") < 0) {
        udcs_log_error("ci: step %s: HEAD names no commit (%s); commit first", s->name,
                       ci_git_error());
        return UDCS_EUSAGE;
    }
    git_tree *tree = (git_tree *)obj;
    json_t *j = json_object(), *inputs = json_object(), *wt = json_object();
    json_t *env = json_object(), *tc = json_object(), *step = ci_step_to_json(s);
    int rc = j && inputs && wt && env && tc && step ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < s->n_inputs; i++) {
        char text[128];
        rc = ci_tree_entry_text(tree, s->inputs[i], text, sizeof(text));
        if (rc == 0 && json_object_set_new(inputs, s->inputs[i], json_string(text)) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = add_worktree(repo, s, wt);
    for (size_t i = 0; rc == 0 && i < s->n_env; i++) {
        const char *v = getenv(s->env[i]);
        if (json_object_set_new(env, s->env[i], v ? json_string(v) : json_null()) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = add_toolchains(s, tc);
    struct utsname u;
    if (rc == 0 && uname(&u) < 0)
        rc = -errno;
    if (rc == 0) {
        int bad = json_object_set_new(j, "udcs_ci_key", json_integer(CI_KEY_VERSION));
        bad |= json_object_set(j, "inputs", inputs);
        bad |= json_object_set(j, "worktree", wt);
        bad |= json_object_set(j, "env", env);
        bad |= json_object_set(j, "toolchains", tc);
        bad |= json_object_set(j, "argv", json_object_get(step, "argv"));
        bad |= json_object_set(j, "outputs", json_object_get(step, "outputs"));
        bad |= json_object_set_new(j, "platform", json_pack("{s:s,s:s}", "os", u.sysname,
                                                               "architecture", u.machine));
        rc = bad ? -ENOMEM : 0;
    }
    struct udcs_buf text = UDCS_BUF_INIT(CI_STEP_MAX_BYTES * 64);
    if (rc == 0)
        rc = udcs_json_dump_canonical(j, &text);
    if (rc == 0)
        cas_digest_of_bytes(text.data, text.len, key);
    udcs_buf_release(&text);
    json_decref(inputs);
    json_decref(wt);
    json_decref(env);
    json_decref(tc);
    json_decref(step);
    if (rc == 0 && desc)
        *desc = j;
    else
        json_decref(j);
    git_object_free(obj);
    return rc;
}
