/* ci/ci_step.c - `udcs ci step`: look the step's key up in the action cache; on a hit
 * restore its outputs, replay stdout and stderr and return its exit status without
 * running anything; on a miss run the command here, keep its outputs (one archive blob),
 * stdout and stderr in the store and its result in the action cache. Every run adds one
 * line to the step log. */
#include "ci/ci_internal.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The exit status of a command that could not be started, as shells report it. */
#define CI_EXIT_NOT_RUN 127
/* The exit status of a command ended by signal N is CI_EXIT_SIGNAL_BASE + N. */
#define CI_EXIT_SIGNAL_BASE 128
/* `udcs run`'s status when the farm could not run the command at all (farm/udcs_run.c). */
#define CI_EXIT_FARM_FAILED 125
#define CI_COPY_BYTES (64 * 1024)
/* The step's private directory, and a file in it (the directory and a short name). */
#define CI_TMP_MAX 4096
#define CI_FILE_MAX (CI_TMP_MAX + 64)
/* zstd level of stored outputs: the store's default, quick enough for large outputs. */
#define CI_ZSTD_LEVEL 3

struct step_run {
    const struct ci_step *s;
    struct cas *cas;
    const char *cache_dir;
    char tmp[CI_TMP_MAX];     /* a private directory for the step's files */
    struct cas_digest key;
    char key_hex[CAS_HEX_LEN + 1];
    char commit[GIT_OID_HEXSZ + 1];
    uint64_t start_ms;
    git_repository *repo;     /* --remote: lists the input files to send */
    char *const *farm_env;    /* --remote: the farm settings for udcs run */
    const char *where;        /* "local" or "farm", for the step log */
    long long job;            /* --remote: the farm job that ran it; 0: none */
};

/* ---- arguments -------------------------------------------------------------------------- */

static int take_list(int argc, char **argv, int *i, char ***list, size_t *n)
{
    const char *opt = argv[*i];
    while (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0) {
        char **grown = realloc(*list, (*n + 2) * sizeof(**list));
        if (!grown)
            return -ENOMEM;
        *list = grown;
        (*list)[*n] = strdup(argv[++*i]);
        if (!(*list)[*n])
            return -ENOMEM;
        (*list)[++*n] = NULL;
    }
    if (*n == 0) {
        udcs_log_error("ci step: %s needs at least one value", opt);
        return UDCS_EUSAGE;
    }
    return 0;
}

/* Inputs are given relative to the current directory; the key names them relative to the
 * repository's top, so the same step run from elsewhere in the checkout has the same key. */
static int inputs_from_top(struct ci_step *s, const char *prefix)
{
    for (size_t i = 0; i < s->n_inputs; i++) {
        const char *in = s->inputs[i];
        int here = strcmp(in, ".") == 0;
        if (!here && !udcs_path_is_contained(in)) {
            udcs_log_error("ci step: input '%s' must be a relative path inside the checkout "
                           "(no '..', no '/' at either end), or '.'", in);
            return UDCS_EUSAGE;
        }
        size_t n = strlen(prefix) + strlen(in) + 1;
        char *top = malloc(n);
        if (!top)
            return -ENOMEM;
        if (here) {
            snprintf(top, n, "%s", prefix);
            if (top[0])
                top[strlen(top) - 1] = '\0';   /* "sub/" -> "sub" */
        } else {
            snprintf(top, n, "%s%s", prefix, in);
        }
        free(s->inputs[i]);
        s->inputs[i] = top;
    }
    return 0;
}

/* Where results are kept besides the local store: a CAS server (udcs-cas serve) that
 * every runner and developer shares. Flags win over the environment. */
struct step_cache {
    const char *url;          /* --cache-url, UDCS_CI_CACHE_URL; NULL: local only */
    const char *token_file;   /* --cache-token-file, UDCS_CI_CACHE_TOKEN_FILE */
    int remote;               /* --remote: a miss runs on the farm (udcs run) */
};

static int parse_step_args(int argc, char **argv, struct ci_step *s, struct step_cache *sc)
{
    sc->remote = 0;
    sc->url = getenv("UDCS_CI_CACHE_URL");
    sc->token_file = getenv("UDCS_CI_CACHE_TOKEN_FILE");
    if (sc->url && !sc->url[0])
        sc->url = NULL;
    memset(s, 0, sizeof(*s));
    int rc = 0, i;
    for (i = 0; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "--name") == 0 && i + 1 < argc) {
            free(s->name);
            s->name = strdup(argv[++i]);
            rc = s->name ? 0 : -ENOMEM;
        } else if (strcmp(a, "--cache-url") == 0 && i + 1 < argc) {
            sc->url = argv[++i];
        } else if (strcmp(a, "--cache-token-file") == 0 && i + 1 < argc) {
            sc->token_file = argv[++i];
        } else if (strcmp(a, "--remote") == 0) {
            sc->remote = 1;
        } else if (strcmp(a, "--inputs") == 0) {
            rc = take_list(argc, argv, &i, &s->inputs, &s->n_inputs);
        } else if (strcmp(a, "--outputs") == 0) {
            rc = take_list(argc, argv, &i, &s->outputs, &s->n_outputs);
        } else if (strcmp(a, "--env") == 0) {
            rc = take_list(argc, argv, &i, &s->env, &s->n_env);
        } else if (strcmp(a, "--toolchain") == 0) {
            rc = take_list(argc, argv, &i, &s->toolchains, &s->n_toolchains);
        } else {
            udcs_log_error("ci step: unknown option or missing value '%s'; see docs/CI.md", a);
            rc = UDCS_EUSAGE;
        }
    }
    if (rc < 0)
        return rc;
    if (!s->name || !ci_step_name_ok(s->name)) {
        udcs_log_error("ci step: --name NAME is required: 1 to 128 characters of "
                       "A-Z a-z 0-9 . _ -");
        return UDCS_EUSAGE;
    }
    if (s->n_inputs == 0 || i >= argc - 1) {
        udcs_log_error("ci step %s: --inputs PATH... and '-- COMMAND ARGS' are required",
                       s->name);
        return UDCS_EUSAGE;
    }
    for (size_t k = 0; k < s->n_outputs; k++)
        if (!udcs_path_is_contained(s->outputs[k])) {
            udcs_log_error("ci step %s: output '%s' must be a relative path below the "
                           "current directory", s->name, s->outputs[k]);
            return UDCS_EUSAGE;
        }
    for (size_t k = 0; k < s->n_env; k++)
        if (!s->env[k][0] || strchr(s->env[k], '=')) {
            udcs_log_error("ci step %s: --env takes variable names, not '%s'", s->name,
                           s->env[k]);
            return UDCS_EUSAGE;
        }
    s->argc = (size_t)(argc - i - 1);
    s->argv = calloc(s->argc + 1, sizeof(*s->argv));
    if (!s->argv)
        return -ENOMEM;
    for (size_t k = 0; k < s->argc; k++)
        if (!(s->argv[k] = strdup(argv[i + 1 + (int)k])))
            return -ENOMEM;
    return 0;
}

/* ---- files ----------------------------------------------------------------------------- */

static void tmp_file(const struct step_run *r, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", r->tmp, name);
}

/* Copy the file at `path` to descriptor `fd`. */
static int copy_file_to_fd(const char *path, int fd)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    char buf[CI_COPY_BYTES];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = udcs_read_full(in, buf, sizeof(buf))) > 0)
        rc = udcs_write_full(fd, buf, (size_t)n);
    if (rc == 0 && n < 0)
        rc = (int)n;
    close(in);
    return rc;
}

/* ---- the step log ---------------------------------------------------------------------- */

static void log_outcome(const struct step_run *r, const char *outcome, int exit_code,
                        uint64_t run_ms)
{
    uint64_t elapsed = udcs_mono_ms() - r->start_ms;
    uint64_t saved = strcmp(outcome, "hit") == 0 && run_ms > elapsed ? run_ms - elapsed : 0;
    json_t *rec = json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:s,s:s,s:o}", "name",
                            r->s->name, "key", r->key_hex, "outcome", outcome, "exit_code",
                            exit_code, "run_ms", (json_int_t)run_ms, "elapsed_ms",
                            (json_int_t)elapsed, "saved_ms", (json_int_t)saved, "when_ms",
                            (json_int_t)udcs_wall_ms(), "where", r->where, "commit", r->commit,
                            "step", ci_step_to_json(r->s));
    if (rec && r->job > 0)
        json_object_set_new(rec, "job", json_integer(r->job));
    if (rec)
        ci_log_append(r->cache_dir, rec);
    json_decref(rec);
}

/* ---- hit ----------------------------------------------------------------------------- */

static int replay(struct step_run *r, const struct cas_action_result *res)
{
    const struct cas_digest *archive = NULL;
    for (size_t i = 0; i < res->n_outputs; i++)
        if (strcmp(res->outputs[i].path, CI_OUTPUTS_NAME) == 0)
            archive = &res->outputs[i].digest;
    if (!archive) {
        udcs_log_warn("ci step %s: the cached result %s holds no outputs archive; running "
                      "the step", r->s->name, r->key_hex);
        return -ENOENT;
    }
    char path[CI_FILE_MAX];
    tmp_file(r, CI_OUTPUTS_NAME, path, sizeof(path));
    int rc = cas_get_to_file(r->cas, archive, path, 0600);
    if (rc < 0) {
        udcs_log_warn("ci step %s: the outputs of cached result %s cannot be read (%s); "
                      "running the step", r->s->name, r->key_hex, udcs_strerror(rc));
        return -ENOENT;
    }
    /* What the step makes replaces what is there, as running it would have. */
    for (size_t i = 0; rc == 0 && i < r->s->n_outputs; i++)
        rc = udcs_remove_tree(r->s->outputs[i]);
    if (rc < 0) {
        udcs_log_error("ci step %s: cannot clear an old output before restoring: %s",
                       r->s->name, udcs_strerror(rc));
        return rc;
    }
    rc = ci_archive_extract(path);
    if (rc < 0)
        return rc;
    fflush(stdout);
    fflush(stderr);
    int out_rc = cas_get_to_fd(r->cas, &res->stdout_digest, STDOUT_FILENO);
    int err_rc = cas_get_to_fd(r->cas, &res->stderr_digest, STDERR_FILENO);
    if (out_rc < 0 || err_rc < 0)
        udcs_log_warn("ci step %s: the cached %s of result %s cannot be read (%s)",
                      r->s->name, out_rc < 0 ? "stdout" : "stderr", r->key_hex,
                      udcs_strerror(out_rc < 0 ? out_rc : err_rc));
    return 0;
}

/* ---- miss ---------------------------------------------------------------------------- */

static int store_result(struct step_run *r, const struct udcs_proc *p, const char *out_path,
                        const char *err_path)
{
    char archive[CI_FILE_MAX];
    tmp_file(r, CI_OUTPUTS_NAME, archive, sizeof(archive));
    struct cas_action_result res = { .exit_code = p->exit_code, .executor = (char *)r->where,
                                     .duration_ms = p->duration_ms,
                                     .created_ms = udcs_wall_ms() };
    struct cas_digest d;
    int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : ci_archive_write(r->s->outputs, r->s->n_outputs, fd);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0)
        rc = cas_put_file(r->cas, archive, &d);
    if (rc == 0)
        rc = cas_action_result_add_output(&res, CI_OUTPUTS_NAME, &d, 0);
    if (rc == 0)
        rc = cas_put_file(r->cas, out_path, &res.stdout_digest);
    if (rc == 0)
        rc = cas_put_file(r->cas, err_path, &res.stderr_digest);
    if (rc == 0)
        rc = cas_ac_put(r->cas, &r->key, &res);
    res.executor = NULL;   /* not ours to free */
    cas_action_result_release(&res);
    if (rc < 0)
        udcs_log_warn("ci step %s: the result could not be cached (%s); the step ran and "
                      "its exit status stands", r->s->name, udcs_strerror(rc));
    return rc;
}

/* The command's streams, stored and replayed, and the result cached unless a signal
 * ended it (it did not finish, so that is not the step's result). */
static int finish_run(struct step_run *r, const struct udcs_proc *p, const char *out_path,
                      const char *err_path)
{
    int status = p->term_signal ? CI_EXIT_SIGNAL_BASE + p->term_signal : p->exit_code;
    if (!p->term_signal)
        store_result(r, p, out_path, err_path);
    else
        udcs_log_warn("ci step %s: the command was ended by signal %d; nothing was cached",
                      r->s->name, p->term_signal);
    fflush(stdout);
    fflush(stderr);
    copy_file_to_fd(out_path, STDOUT_FILENO);
    copy_file_to_fd(err_path, STDERR_FILENO);
    log_outcome(r, "miss", status, p->duration_ms);
    return status;
}

/* A child with no input whose stdout and stderr go to files. */
static void proc_to_files(struct udcs_proc *p, char *const *argv, const char *out_path,
                          const char *err_path)
{
    p->argv = argv;
    p->in.mode = UDCS_PROC_NULL;
    p->out.mode = UDCS_PROC_FILE;
    p->out.path = out_path;
    p->err.mode = UDCS_PROC_FILE;
    p->err.path = err_path;
}

static int run_here(struct step_run *r)
{
    char out_path[CI_FILE_MAX], err_path[CI_FILE_MAX];
    tmp_file(r, "stdout", out_path, sizeof(out_path));
    tmp_file(r, "stderr", err_path, sizeof(err_path));
    struct udcs_proc p = UDCS_PROC_INIT;
    proc_to_files(&p, r->s->argv, out_path, err_path);
    r->where = "local";
    int rc = udcs_proc_run(&p);
    if (rc < 0 && rc != -ETIMEDOUT) {
        udcs_log_error("ci step %s: cannot run '%s': %s", r->s->name, r->s->argv[0],
                       udcs_strerror(rc));
        return CI_EXIT_NOT_RUN;
    }
    return finish_run(r, &p, out_path, err_path);
}

/* ---- miss, on the farm ---------------------------------------------------------------- */

static int argv_add(char ***v, size_t *n, const char *a, const char *b)
{
    char **t = realloc(*v, (*n + 3) * sizeof(*t));
    if (!t)
        return -ENOMEM;
    *v = t;
    t[(*n)++] = (char *)a;
    if (b)
        t[(*n)++] = (char *)b;
    t[*n] = NULL;
    return 0;
}

/* `udcs run` with every file under the inputs that git does not ignore (tracked or not),
 * the outputs, and the whitelisted variables that are set. The strings stay owned by the
 * step and by `list`. */
static int remote_argv(struct step_run *r, git_pathspec_match_list *list, const char *prefix,
                       char ***out)
{
    char **v = NULL;
    size_t n = 0;
    int rc = argv_add(&v, &n, "/proc/self/exe", "run");
    size_t count = git_pathspec_match_list_entrycount(list), plen = strlen(prefix);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *path = git_pathspec_match_list_entry(list, i);
        struct stat st;
        /* The command runs in this directory, so paths are sent relative to it. */
        if (strncmp(path, prefix, plen) != 0 || lstat(path + plen, &st) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        rc = argv_add(&v, &n, "--input", path + plen);
    }
    for (size_t i = 0; rc == 0 && i < r->s->n_outputs; i++)
        rc = argv_add(&v, &n, "--output", r->s->outputs[i]);
    for (size_t i = 0; rc == 0 && i < r->s->n_env; i++) {
        const char *val = getenv(r->s->env[i]);
        if (!val)
            continue;
        size_t len = strlen(r->s->env[i]) + strlen(val) + 2;
        char *kv = malloc(len);
        if (!kv) {
            rc = -ENOMEM;
            break;
        }
        snprintf(kv, len, "%s=%s", r->s->env[i], val);
        rc = argv_add(&v, &n, "--env", kv);
        if (rc < 0)
            free(kv);
    }
    if (rc == 0)
        rc = argv_add(&v, &n, "--", NULL);
    for (size_t i = 0; rc == 0 && i < r->s->argc; i++)
        rc = argv_add(&v, &n, r->s->argv[i], NULL);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static void free_remote_argv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], "--env") == 0 && v[i + 1])
            free(v[++i]);
        else if (strcmp(v[i], "--") == 0)
            break;
    free(v);
}

/* This process's environment with the NAME=VALUE entries of `extra` put in place of
 * any of the same names: a new array of borrowed strings (free the array only). */
static char **env_with(char *const *extra)
{
    extern char **environ;
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    char **env = calloc(n + k + 1, sizeof(*env));
    if (!env)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < k && !replaced; j++) {
            size_t len = strcspn(extra[j], "=");
            replaced = strncmp(environ[i], extra[j], len) == 0 && environ[i][len] == '=';
        }
        if (!replaced)
            env[used++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        env[used++] = extra[j];
    return env;
}

/* Run the command on an agent through `udcs run` (farm/udcs_run.c), as a child so its
 * replayed streams land in files like a local run's. A farm that cannot run it (udcs
 * run's status 125) is a WARN and the step runs here. */
static int run_on_farm(struct step_run *r, const char *prefix)
{
    git_pathspec *ps = NULL;
    git_pathspec_match_list *list = NULL;
    git_strarray spec;
    ci_step_pathspec(r->s, &spec);   /* empty for the whole tree: matches every file */
    char **argv = NULL;
    int rc = git_pathspec_new(&ps, &spec);
    if (rc == 0)
        rc = git_pathspec_match_workdir(&list, r->repo, GIT_PATHSPEC_NO_GLOB, ps);
    if (rc < 0)
        udcs_log_error("ci step %s: cannot list the input files: %s", r->s->name,
                       ci_git_error());
    if (rc == 0)
        rc = remote_argv(r, list, prefix, &argv);
    if (rc < 0) {
        git_pathspec_match_list_free(list);
        git_pathspec_free(ps);
        return CI_EXIT_NOT_RUN;
    }
    char out_path[CI_FILE_MAX], err_path[CI_FILE_MAX];
    tmp_file(r, "stdout", out_path, sizeof(out_path));
    tmp_file(r, "stderr", err_path, sizeof(err_path));
    struct udcs_proc p = UDCS_PROC_INIT;
    proc_to_files(&p, argv, out_path, err_path);
    /* udcs run writes its job's id there, for the step log and the report. */
    char job_path[CI_FILE_MAX], job_env[CI_FILE_MAX + 32];
    tmp_file(r, "job", job_path, sizeof(job_path));
    snprintf(job_env, sizeof(job_env), "UDCS_RUN_JOB_FILE=%s", job_path);
    size_t n_farm = 0;
    while (r->farm_env && r->farm_env[n_farm])
        n_farm++;
    char **extra = calloc(n_farm + 2, sizeof(*extra));
    if (extra) {
        for (size_t i = 0; i < n_farm; i++)
            extra[i] = r->farm_env[i];
        extra[n_farm] = job_env;
    }
    char **env = extra ? env_with(extra) : NULL;
    p.env = env;
    r->where = "farm";
    rc = env ? udcs_proc_run(&p) : -ENOMEM;
    free(env);
    free(extra);
    struct udcs_buf job_text = UDCS_BUF_INIT(64);
    if (udcs_read_file(job_path, &job_text) == 0 && udcs_buf_append(&job_text, "", 1) == 0)
        r->job = strtoll(job_text.data, NULL, 10);
    udcs_buf_release(&job_text);
    free_remote_argv(argv);
    git_pathspec_match_list_free(list);
    git_pathspec_free(ps);
    if (rc < 0 || p.exit_code == CI_EXIT_FARM_FAILED) {
        if (rc == 0)
            copy_file_to_fd(err_path, STDERR_FILENO);   /* udcs run's own reasons */
        udcs_log_warn("ci step %s: the farm could not run the step (%s); running it here",
                      r->s->name, rc < 0 ? udcs_strerror(rc) : "see the messages above");
        return run_here(r);
    }
    return finish_run(r, &p, out_path, err_path);
}

/* ---- the command ------------------------------------------------------------------------ */

/* The local store, layered over the shared cache when one is named. */
static int open_store(const char *cache_dir, const struct step_cache *sc, struct cas **cas)
{
    char *token = NULL;
    int rc = sc->url && sc->token_file ? udcs_config_read_token(sc->token_file, &token) : 0;
    struct cas_options co = { .local = { .root = cache_dir,
                                         .encode = { .level = CI_ZSTD_LEVEL, .workers = 1 } },
                              .remote_url = sc->url, .remote_token = token };
    if (rc == 0) {
        rc = cas_open(&co, cas);
        if (rc < 0)
            udcs_log_error("ci: cannot open the store %s%s%s: %s", cache_dir,
                           sc->url ? " with the shared cache " : "", sc->url ? sc->url : "",
                           udcs_strerror(rc));
    }
    free(token);
    return rc;
}

int ci_cmd_step(const char *cache_dir, char *const *farm_env, int argc, char **argv)
{
    struct step_run r = { .cache_dir = cache_dir, .farm_env = farm_env,
                          .start_ms = udcs_mono_ms() };
    struct ci_step s;
    struct step_cache sc;
    git_repository *repo = NULL;
    char *prefix = NULL;
    int rc = parse_step_args(argc, argv, &s, &sc);
    r.s = &s;
    if (rc == 0)
        rc = ci_repo_open(&repo, &prefix);
    if (rc == 0)
        rc = inputs_from_top(&s, prefix);
    if (rc == 0)
        rc = ci_key_compute(repo, &s, &r.key, NULL);
    git_oid head;
    if (rc == 0 && git_reference_name_to_id(&head, repo, "HEAD") == 0)
        git_oid_tostr(r.commit, sizeof(r.commit), &head);
    r.repo = repo;
    r.where = "local";
    if (rc < 0) {
        git_repository_free(repo);
        free(prefix);
        ci_step_release(&s);
        return rc == UDCS_EUSAGE ? UDCS_EXIT_USAGE : UDCS_EXIT_FAILED;
    }
    cas_digest_hex(&r.key, r.key_hex);
    if (open_store(cache_dir, &sc, &r.cas) < 0) {
        git_repository_free(repo);
        free(prefix);
        ci_step_release(&s);
        return UDCS_EXIT_FAILED;
    }

    snprintf(r.tmp, sizeof(r.tmp), "%s/tmp", cache_dir);
    rc = udcs_mkdir_p(r.tmp, 0777);
    snprintf(r.tmp, sizeof(r.tmp), "%s/tmp/ci-%s-XXXXXX", cache_dir, s.name);
    if (rc < 0 || !mkdtemp(r.tmp)) {
        udcs_log_error("ci step %s: cannot make a directory under %s/tmp: %s", s.name,
                       cache_dir, strerror(rc < 0 ? -rc : errno));
        git_repository_free(repo);
        free(prefix);
        ci_step_release(&s);
        cas_close(r.cas);
        return UDCS_EXIT_FAILED;
    }

    struct cas_action_result res;
    int status;
    rc = cas_ac_get(r.cas, &r.key, &res);
    if (rc == 0) {
        rc = replay(&r, &res);
        status = res.exit_code;
        if (rc == 0) {
            udcs_log_info("ci step %s: hit %s", s.name, r.key_hex);
            /* A hit reports where its result was made: "local", "farm". */
            r.where = res.executor ? res.executor : "unknown";
            log_outcome(&r, "hit", status, res.duration_ms);
        }
        cas_action_result_release(&res);
        if (rc == -ENOENT)
            rc = 1;    /* go on and run it */
        else if (rc < 0)
            status = UDCS_EXIT_FAILED;
    } else {
        if (rc != -ENOENT)
            udcs_log_warn("ci step %s: the action cache could not be read (%s); running the "
                          "step", s.name, udcs_strerror(rc));
        rc = 1;
    }
    if (rc == 1) {
        udcs_log_info("ci step %s: miss %s; running it", s.name, r.key_hex);
        status = sc.remote ? run_on_farm(&r, prefix) : run_here(&r);
    }
    udcs_remove_tree(r.tmp);
    git_repository_free(repo);
    free(prefix);
    ci_step_release(&s);
    cas_close(r.cas);
    return status;
}
