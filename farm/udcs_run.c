/* farm/udcs_run.c - `udcs run`: a command on a farm agent as if it ran here. Local files
 * named on the command line (or with --input) go to the store and into the unit's
 * directory under the same relative path; the --output files come back; stdout, stderr
 * and the exit status are replayed. This is the original design's NATIVE_EXEC task. */
#include "farm/client.h"
#include "cas/cas.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit status when the command could not be run on the farm at all (docker run's). */
#define RUN_EXIT_FARM_FAILED 125
/* Interrupted by SIGINT or SIGTERM, the job cancelled: as a shell reports SIGINT. */
#define RUN_EXIT_INTERRUPTED 130

struct run_opts {
    const char *arch, *os;
    const char **inputs, **outputs, **env;
    size_t n_inputs, n_outputs, n_env;
    long long timeout_s;
    long long priority;
    char **argv;
    int argc;
};

static int add(const char ***v, size_t *n, const char *s)
{
    const char **t = realloc(*v, (*n + 1) * sizeof(*t));
    if (!t)
        return -ENOMEM;
    t[(*n)++] = s;
    *v = t;
    return 0;
}

static int parse_run(int argc, char **argv, struct run_opts *o)
{
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-')
            break;
        if (!v) {
            udcs_log_error("run: option %s needs a value", a);
            return -1;
        }
        if (strcmp(a, "--arch") == 0)
            o->arch = v;
        else if (strcmp(a, "--os") == 0)
            o->os = v;
        else if (strcmp(a, "--input") == 0)
            add(&o->inputs, &o->n_inputs, v);
        else if (strcmp(a, "--output") == 0)
            add(&o->outputs, &o->n_outputs, v);
        else if (strcmp(a, "--env") == 0 && strchr(v, '=') && v[0] != '=')
            add(&o->env, &o->n_env, v);
        else if (strcmp(a, "--timeout") == 0 && atoll(v) > 0)
            o->timeout_s = atoll(v);
        else if (strcmp(a, "--priority") == 0 && atoll(v) >= 1 && atoll(v) <= 10)
            o->priority = atoll(v);
        else {
            udcs_log_error("run: unknown option or bad value: %s %s (see 'udcs --help')", a, v);
            return -1;
        }
        i++;
    }
    o->argv = argv + i;
    o->argc = argc - i;
    if (o->argc == 0) {
        udcs_log_error("run: name the command: udcs run [OPTIONS] -- CMD ARGS...");
        return -1;
    }
    for (size_t k = 0; k < o->n_inputs + o->n_outputs; k++) {
        const char *p = k < o->n_inputs ? o->inputs[k] : o->outputs[k - o->n_inputs];
        if (!udcs_path_is_contained(p)) {
            udcs_log_error("run: '%s' must be a path below the current directory (no '..', "
                           "not absolute): the unit's directory mirrors this one", p);
            return -1;
        }
    }
    return 0;
}

static int is_local_file(const char *p)
{
    struct stat st;
    return udcs_path_is_contained(p) && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Send one input; add it to `inputs` as {"digest","executable"}. */
static int send_input(struct cas *cas, json_t *inputs, const char *path)
{
    if (json_object_get(inputs, path))
        return 0;
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        udcs_log_error("run: input %s is not a readable file", path);
        return -ENOENT;
    }
    char text[CLIENT_DIGEST_TEXT];
    int rc = client_send_file(cas, path, text);
    if (rc < 0)
        return rc;
    json_object_set_new(inputs, path, json_pack("{s:s, s:b}", "digest", text, "executable",
                                                (st.st_mode & 0100) != 0));
    return 0;
}

/* UDCS_RUN_JOB_FILE names a file to get the submitted job's id (`udcs ci step --remote`
 * records it in its step log). */
static void note_job_id(long long id)
{
    const char *path = getenv("UDCS_RUN_JOB_FILE");
    if (!path || !*path)
        return;
    char text[32];
    int len = snprintf(text, sizeof(text), "%lld\n", id);
    int rc = udcs_write_atomic(path, text, (size_t)len, 0644);
    if (rc < 0)
        udcs_log_warn("run: cannot write the job id to %s: %s", path, udcs_strerror(rc));
}

static json_t *build_job(struct client *c, struct cas *cas, const struct run_opts *o)
{
    json_t *inputs = json_object(), *argv = json_array(), *outputs = json_array(),
           *env = json_object();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->n_inputs; i++)
        rc = send_input(cas, inputs, o->inputs[i]);
    for (int i = 0; rc == 0 && i < o->argc; i++) {
        json_array_append_new(argv, json_string(o->argv[i]));
        if (is_local_file(o->argv[i]))   /* a file named on the command line goes along */
            rc = send_input(cas, inputs, o->argv[i]);
    }
    for (size_t i = 0; i < o->n_outputs; i++)
        json_array_append_new(outputs, json_string(o->outputs[i]));
    for (size_t i = 0; i < o->n_env; i++) {
        const char *eq = strchr(o->env[i], '=');
        char *key = strndup(o->env[i], (size_t)(eq - o->env[i]));
        json_object_set_new(env, key, json_string(eq + 1));
        free(key);
    }
    json_t *unit = json_pack("{s:o, s:o, s:o, s:o}", "argv", argv, "inputs", inputs, "outputs",
                             outputs, "env", env);
    if (o->timeout_s)
        json_object_set_new(unit, "timeout_ms", json_integer(o->timeout_s * 1000));
    if (o->arch || o->os) {
        json_t *p = json_object();
        if (o->arch)
            json_object_set_new(p, "architecture", json_string(o->arch));
        if (o->os)
            json_object_set_new(p, "os", json_string(o->os));
        json_object_set_new(unit, "platform", p);
    }
    (void)c;
    if (rc < 0) {
        json_decref(unit);
        return NULL;
    }
    /* A command that fails fails the same way again: do not retry it, only retry lost
     * agents and other infrastructure trouble. */
    return json_pack("{s:s, s:I, s:b, s:[o]}", "type", "EXEC", "priority",
                     o->priority ? o->priority : 5LL, "retry_failed_commands", 0, "units", unit);
}

/* Write the unit's stdout, stderr and outputs here, as the command would have. */
static int replay(struct cas *cas, json_t *result, const struct run_opts *o)
{
    struct cas_digest d;
    const char *streams[2] = { "stdout", "stderr" };
    for (int i = 0; i < 2; i++) {
        const char *text = json_string_value(json_object_get(result, streams[i]));
        fflush(stdout);
        if (text && cas_digest_parse(text, &d, NULL) == 0 &&
            cas_get_to_fd(cas, &d, i == 0 ? STDOUT_FILENO : STDERR_FILENO) < 0)
            udcs_log_warn("run: the command's %s could not be fetched", streams[i]);
    }
    size_t i;
    json_t *out;
    json_array_foreach(json_object_get(result, "outputs"), i, out) {
        const char *path = json_string_value(json_object_get(out, "path"));
        const char *digest = json_string_value(json_object_get(out, "digest"));
        int exe = json_is_true(json_object_get(out, "executable"));
        if (!path || !digest || cas_digest_parse(digest, &d, NULL) < 0 ||
            !udcs_path_is_contained(path))
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            udcs_mkdir_p(dir, 0755);
        }
        int rc = cas_get_to_file(cas, &d, path, exe ? 0755 : 0644);
        if (rc < 0) {
            udcs_log_error("run: fetching output %s failed: %s", path, udcs_strerror(rc));
            return rc;
        }
    }
    (void)o;
    return 0;
}

int cmd_run(struct client *c, int argc, char **argv)
{
    struct run_opts o = { 0 };
    if (parse_run(argc, argv, &o) < 0) {
        free(o.inputs);
        free(o.outputs);
        free(o.env);
        return UDCS_EXIT_USAGE;
    }
    struct cas *cas;
    int status = RUN_EXIT_FARM_FAILED;
    int rc = client_open_store(c, &cas);
    json_t *job = rc == 0 ? build_job(c, cas, &o) : NULL;
    char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
    long long id = 0;
    /* From the submission on, SIGINT and SIGTERM wait for client_watch, which cancels the
     * job: a signal in between would leave it orphaned on the farm. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    rc = text ? client_submit(c, text, &id) : -ENOMEM;
    if (rc < 0)
        pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    else
        note_job_id(id);
    if (rc == 0 && client_wait_own_job(c, id, WAIT_QUIET) == RUN_EXIT_INTERRUPTED) {
        status = RUN_EXIT_INTERRUPTED;   /* cancelled: client_watch said so */
    } else if (rc == 0) {
        char path[64];
        snprintf(path, sizeof(path), "/api/jobs/%lld", id);
        json_t *j = NULL;
        if (client_call_json(c, "GET", path, NULL, &j) == 0) {
            json_t *unit = json_array_get(json_object_get(j, "unit_list"), 0);
            json_t *result = json_object_get(unit, "result");
            if (result && replay(cas, result, &o) == 0) {
                status = (int)json_integer_value(json_object_get(result, "exit_code"));
            } else {
                const char *err = json_string_value(json_object_get(unit, "error"));
                if (!err)
                    err = json_string_value(json_object_get(j, "error"));
                udcs_log_error("run: job %lld could not run the command: %s", id,
                               err ? err : json_string_value(json_object_get(j, "state")));
            }
        }
        json_decref(j);
    }
    free(text);
    json_decref(job);
    cas_close(cas);
    free(o.inputs);
    free(o.outputs);
    free(o.env);
    return status;
}
