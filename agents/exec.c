/* agents/exec.c - the exec executor: a unit directory filled from the store, the command
 * run in it (own process group, whitelisted environment, rlimits, timeout), and what it
 * produced stored back: stdout, stderr and the declared outputs. */
#include "agents/agent.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* PATH for commands whose action does not set one, when the agent itself has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Between SIGTERM and SIGKILL when a unit times out or is cancelled. */
#define KILL_GRACE_MS 2000

/* The agent's own settings of the machine's devices and libraries, which detection saw
 * when it found the devices it offers, passed on to units whose action does not set them
 * (like PATH): without them a unit could open another device than the one the agent
 * advertised (and its results are cached under), or not find a driver library. They are
 * not in the action, so not in a cache key: the device class is, through the pinned
 * toolchain. */
static const char *const machine_env[] = {
    "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "UDCS_CUDA_DEVICE", "UDCS_OPENCL_DEVICE",
    "OCL_ICD_VENDORS", "OCL_ICD_FILENAMES", "POCL_CACHE_DIR", NULL
};
#define N_MACHINE_ENV (sizeof(machine_env) / sizeof(machine_env[0]) - 1)

static int action_sets(const struct cas_action *a, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < a->n_env; i++)
        if (strncmp(a->env[i], name, len) == 0 && a->env[i][len] == '=')
            return 1;
    return 0;
}

/* The environment: exactly the action's, plus PATH, HOME and TMPDIR when it sets none,
 * and the machine_env[] the agent has. PATH is then the agent's own, where detection found
 * the toolchains it offers; HOME and TMPDIR point into the unit's own directory.
 * NULL-terminated; free with free_env(). */
static char **build_env(const struct cas_action *a, const char *root, const char *tmp)
{
    char **env = calloc(a->n_env + 4 + N_MACHINE_ENV, sizeof(*env));
    if (!env)
        return NULL;
    size_t n = 0;
    int has_path = 0, has_home = 0, has_tmp = 0;
    for (size_t i = 0; i < a->n_env; i++) {
        env[n++] = strdup(a->env[i]);
        has_path |= strncmp(a->env[i], "PATH=", 5) == 0;
        has_home |= strncmp(a->env[i], "HOME=", 5) == 0;
        has_tmp |= strncmp(a->env[i], "TMPDIR=", 7) == 0;
    }
    for (size_t i = 0; machine_env[i]; i++) {
        const char *v = getenv(machine_env[i]);
        if (v && !action_sets(a, machine_env[i]) &&
            asprintf(&env[n], "%s=%s", machine_env[i], v) >= 0)
            n++;
    }
    const char *path = getenv("PATH");
    if (!has_path && asprintf(&env[n], "PATH=%s", path && *path ? path : DEFAULT_PATH) >= 0)
        n++;
    if (!has_home && asprintf(&env[n], "HOME=%s", root) >= 0)
        n++;
    if (!has_tmp && asprintf(&env[n], "TMPDIR=%s", tmp) >= 0)
        n++;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/* Fill `root` with the action's input tree. */
static int restore_inputs(struct cas *c, const struct cas_action *a, const char *root,
                          char *why, size_t why_len)
{
    int rc = 0;
    if (!a->has_input_root)
        return 0;
    struct udcs_buf text = UDCS_BUF_INIT(CAS_TREE_MAX_BYTES);
    rc = cas_get_bytes(c, &a->input_root, &text);
    struct cas_tree tree;
    char reason[512];
    if (rc < 0) {
        char hex[CAS_HEX_LEN + 1];
        snprintf(why, why_len, "the input tree %s could not be fetched: %s",
                 cas_digest_hex(&a->input_root, hex),
                 rc == -ENOENT ? "not in the store" : udcs_strerror(rc));
    } else if ((rc = cas_tree_parse(text.data, text.len, &tree, reason, sizeof(reason))) < 0) {
        snprintf(why, why_len, "the input tree is not usable: %s", reason);
    } else {
        rc = cas_tree_restore(c, &tree, root, reason, sizeof(reason));
        if (rc < 0)
            snprintf(why, why_len, "restoring the inputs failed: %s", reason);
        cas_tree_release(&tree);
    }
    udcs_buf_release(&text);
    return rc;
}

/* restore_inputs(), waiting for the master while it cannot be reached (it may be
 * restarting): a transport failure is not the unit's, and must not cost it an attempt.
 * Gives up after AGENT_MASTER_PATIENCE_MS, or when the master cancels the lease. */
static int restore_inputs_patiently(struct agent_daemon *d, struct agent_slot *slot,
                                    struct cas *c, const struct cas_action *a,
                                    const char *root, int64_t unit, char *why, size_t why_len)
{
    uint64_t give_up = udcs_mono_ms() + AGENT_MASTER_PATIENCE_MS, delay_ms = AGENT_RETRY_MIN_MS;
    for (int tries = 0;; tries++) {
        int rc = restore_inputs(c, a, root, why, why_len);
        pthread_mutex_lock(&d->lock);
        int cancelled = slot->cancelled;
        pthread_mutex_unlock(&d->lock);
        if (rc == 0 || !*cas_last_remote_error(c) || cancelled || udcs_mono_ms() > give_up)
            return rc;
        if (!tries)
            udcs_log_warn("agent: waiting for the master to fetch the inputs of unit %lld: %s",
                          (long long)unit, why);
        struct timespec t = { (time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000 };
        while (nanosleep(&t, &t) < 0 && errno == EINTR)
            ;
        delay_ms = delay_ms * 2 > AGENT_RETRY_MAX_MS ? AGENT_RETRY_MAX_MS : delay_ms * 2;
        cas_remote_retry(c);
        if ((rc = udcs_empty_dir(root)) < 0) {
            snprintf(why, why_len, "cannot empty the unit's directory %s: %s", root,
                     udcs_strerror(rc));
            return rc;
        }
    }
}

/* Store the declared outputs that exist (the master decides whether a missing one is a
 * failure), with their executable bit. */
static int collect_outputs(struct cas *c, const struct cas_action *a, const char *cwd,
                           struct cas_action_result *r, char *why, size_t why_len)
{
    for (size_t i = 0; i < a->n_outputs; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", cwd, a->outputs[i]);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        struct cas_digest d;
        int rc = cas_put_file(c, path, &d);
        if (rc == 0)
            rc = cas_action_result_add_output(r, a->outputs[i], &d, (st.st_mode & 0100) != 0);
        if (rc < 0) {
            snprintf(why, why_len, "storing output %s failed: %s", a->outputs[i],
                     udcs_strerror(rc));
            return rc;
        }
    }
    return 0;
}

int agent_exec_run(struct agent_daemon *d, struct agent_slot *slot, struct cas *c,
                   const struct cas_action *a, int64_t unit, uint64_t epoch,
                   struct cas_action_result *r, int *is_infra, char *why, size_t why_len)
{
    /* Each slot keeps its directory and empties it between units: on slow disks
     * creating and removing directories costs more than a trivial unit's whole run. */
    char dir[PATH_MAX], root[PATH_MAX], tmp[PATH_MAX], cwd[PATH_MAX], out_path[PATH_MAX],
        err_path[PATH_MAX], in_path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/slots/%d", d->cfg.work_dir, slot->index);
    snprintf(root, sizeof(root), "%s/root", dir);
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    snprintf(cwd, sizeof(cwd), "%s%s%s", root, a->cwd ? "/" : "", a->cwd ? a->cwd : "");
    snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    (void)epoch;

    *is_infra = 1;   /* until the command itself is started */
    int rc = udcs_empty_dir(root);
    if (rc == 0)
        rc = udcs_empty_dir(tmp);
    if (rc < 0)
        snprintf(why, why_len, "cannot prepare the unit's directory %s: %s", dir,
                 udcs_strerror(rc));
    if (rc == 0)
        rc = restore_inputs_patiently(d, slot, c, a, root, unit, why, why_len);
    if (rc == 0 && a->cwd && (rc = udcs_mkdir_p(cwd, 0755)) < 0)
        snprintf(why, why_len, "cannot create the working directory: %s", udcs_strerror(rc));
    char **env = rc == 0 ? build_env(a, root, tmp) : NULL;
    if (rc == 0 && !env)
        rc = -ENOMEM;

    /* a shipped toolchain: the command runs inside it, isolated (toolchain.c) */
    char tc_root[PATH_MAX];
    char **tc_argv = NULL;
    if (rc == 0 && a->has_toolchain &&
        (rc = agent_toolchain_prepare(d, c, &a->toolchain, tc_root, sizeof(tc_root), why,
                                      why_len)) == 0 &&
        !(tc_argv = agent_toolchain_argv(tc_root, root, a->cwd, a->argv)))
        rc = -ENOMEM;

    struct udcs_proc p = UDCS_PROC_INIT;
    if (rc == 0) {
        p.argv = tc_argv ? tc_argv : a->argv;
        p.env = env;
        p.cwd = cwd;
        p.timeout_ms = a->timeout_ms;
        p.kill_grace_ms = KILL_GRACE_MS;
        p.limits.cpu_s = a->limits.cpu_s;
        p.limits.as_bytes = a->limits.mem_bytes;
        p.limits.fsize_bytes = a->limits.fsize_bytes;
        p.limits.nproc = a->limits.nproc;
        p.out.mode = p.err.mode = UDCS_PROC_FILE;
        p.out.path = out_path;
        p.err.path = err_path;
        if (a->stdin_path) {
            snprintf(in_path, sizeof(in_path), "%s/%s", cwd, a->stdin_path);
            p.in.mode = UDCS_PROC_FILE;
            p.in.path = in_path;
        } else {
            p.in.mode = UDCS_PROC_NULL;
        }
        pthread_mutex_lock(&d->lock);
        int cancelled = slot->cancelled;
        rc = cancelled ? -ECANCELED : udcs_proc_start(&p);
        *is_infra = cancelled;   /* a command that cannot start is the unit's failure */
        if (rc == 0)
            slot->proc = &p;
        pthread_mutex_unlock(&d->lock);
        if (rc == -ECANCELED)
            snprintf(why, why_len, "cancelled by the master before it started");
        else if (rc < 0)
            snprintf(why, why_len, "cannot start %s: %s", a->argv[0], udcs_strerror(rc));
    }
    if (rc == 0) {
        rc = udcs_proc_wait(&p);
        pthread_mutex_lock(&d->lock);
        slot->proc = NULL;
        int cancelled = slot->cancelled;
        pthread_mutex_unlock(&d->lock);
        if (cancelled) {
            rc = -ECANCELED;
            snprintf(why, why_len, "cancelled by the master");
        } else if (rc == -ETIMEDOUT) {
            snprintf(why, why_len, "timed out after %llu ms and was killed with its process "
                     "group", (unsigned long long)a->timeout_ms);
        } else if (rc < 0) {
            *is_infra = 1;
            snprintf(why, why_len, "waiting for the command failed: %s", udcs_strerror(rc));
        }
    }
    if (rc == 0) {
        *is_infra = 1;   /* storing what it produced is the agent's part again */
        /* A signal ends a command as a shell reports it: 128 + the signal number. */
        r->exit_code = p.term_signal ? 128 + p.term_signal : p.exit_code;
        r->duration_ms = p.duration_ms;
        if ((rc = cas_put_file(c, out_path, &r->stdout_digest)) < 0 ||
            (rc = cas_put_file(c, err_path, &r->stderr_digest)) < 0)
            snprintf(why, why_len, "storing stdout/stderr failed: %s", udcs_strerror(rc));
        else
            rc = collect_outputs(c, a, cwd, r, why, why_len);
    }
    /* Whatever did not reach the master is in the local store: report() uploads it. */
    free_env(env);
    agent_toolchain_argv_free(tc_argv);
    if (!d->cfg.keep_units) {   /* outputs are in the store: leave nothing large behind */
        udcs_empty_dir(root);
        udcs_empty_dir(tmp);
    }
    return rc;
}
