/* farm/udcs_main.c - udcs, the client: devices, jobs, job ID, submit, wait, cancel,
 * priority, retry, drain, enable, and run (a command on a farm agent, with its files
 * going through the store). Talks to the master's API; never to agents. */
#include "farm/client.h"
#include "ci/ci.h"
#include "cas/cas.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct udcs_setting settings[] = { CLIENT_SETTINGS };

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  devices [--json]                the agents, their hardware and state\n"
            "  jobs [--state S] [--json]       jobs, newest first\n"
            "  job ID [--json] [--all]         one job: its units and why any of them waits\n"
            "  submit FILE.json [--wait]       submit a job ('-' reads standard input)\n"
            "  wait ID [--json]                follow a job until it ends (exit 0 if done)\n"
            "  cancel ID                       cancel a job\n"
            "  priority ID N                   set a job's priority (1-10)\n"
            "  retry ID                        run a failed job's failed units again\n"
            "  drain AGENT | enable AGENT      stop giving an agent work (running units\n"
            "                                  finish), or give it work again\n"
            "  run [--arch A] [--os O] [--input F]... [--output F]... [--env K=V]...\n"
            "      [--timeout S] -- CMD ARGS   run a command on an agent; files named in ARGS\n"
            "                                  are sent, outputs come back, exit status too\n"
            "  kernel FILE.cl|FILE.cu --global X[,Y,Z] [--local ...] [--entry NAME]\n"
            "      [--arg NAME=VALUE]... [--out NAME=PATH[:COUNT]]... [--split N]\n"
            "                                  run a GPU kernel on an agent's OpenCL or CUDA\n"
            "                                  device; VALUE: a number, local:N or a file\n"
            "                                  (.npy or raw); outputs to PATH (.npy or raw)\n"
            "  ci step|affected|cache|report ...\n"
            "                                  CI pipeline steps cached by the git trees of\n"
            "                                  their inputs ('udcs ci help'; docs/CI.md)\n"
            "\n"
            "options (also settable by environment and config file):\n");
    udcs_config_print_flags(cfg, out);
    fprintf(out, "  --print-config         show every setting and where it came from\n"
                 "  --help, --version\n"
                 "\n"
                 "Settings precedence: flags, then environment, then ~/.config/udcs/config, then\n"
                 "/etc/udcs/config, then the built-in defaults.\n");
}

static int print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    printf("%s\n", text ? text : "null");
    free(text);
    return UDCS_EXIT_OK;
}

static int has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

/* Refuse options the command does not know. */
static int check_args(int argc, char **argv, const char *const *known, int positional)
{
    int pos = 0;
    for (int i = 0; i < argc; i++) {
        int ok = 0;
        for (int k = 0; known && known[k]; k++)
            ok |= strcmp(argv[i], known[k]) == 0;
        if (ok)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            udcs_log_error("unknown option '%s'; see 'udcs --help'", argv[i]);
            return -1;
        }
        if (++pos > positional) {
            udcs_log_error("unexpected argument '%s'; see 'udcs --help'", argv[i]);
            return -1;
        }
    }
    if (pos < positional) {
        udcs_log_error("missing argument; see 'udcs --help'");
        return -1;
    }
    return 0;
}

static const char *first_positional(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (argv[i][0] != '-' || !argv[i][1])
            return argv[i];
    return NULL;
}

/* ---- devices, jobs, job ----------------------------------------------------------------- */

static int cmd_devices(struct client *c, int argc, char **argv)
{
    static const char *const known[] = { "--json", NULL };
    if (check_args(argc, argv, known, 0) < 0)
        return UDCS_EXIT_USAGE;
    json_t *j;
    int rc = client_call_json(c, "GET", "/api/devices", NULL, &j);
    if (rc < 0)
        return client_status_of(rc);
    if (has_flag(argc, argv, "--json")) {
        print_json(j);
    } else {
        printf("%-4s %-20s %-8s %-6s %5s %7s %4s %-8s %7s  %s\n", "ID", "NAME", "ARCH", "OS",
               "CORES", "RAM GB", "GPUS", "STATUS", "RUNNING", "TOOLCHAINS");
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(j, "devices"), i, d) {
            struct udcs_buf tc = UDCS_BUF_INIT(4096);
            size_t k;
            json_t *t;
            json_array_foreach(json_object_get(d, "toolchains"), k, t)
                udcs_buf_appendf(&tc, "%s%s", k ? "," : "",
                                 json_string_value(json_object_get(t, "name")));
            printf("%-4lld %-20.20s %-8s %-6s %5lld %7.1f %4zu %-8s %3lld/%-3lld  %s\n",
                   (long long)json_integer_value(json_object_get(d, "id")),
                   json_string_value(json_object_get(d, "name")),
                   json_string_value(json_object_get(d, "architecture")),
                   json_string_value(json_object_get(d, "os")),
                   (long long)json_integer_value(json_object_get(d, "cpu_cores")),
                   json_number_value(json_object_get(d, "ram_gb")),
                   json_array_size(json_object_get(d, "gpus")),
                   json_string_value(json_object_get(d, "status")),
                   (long long)json_integer_value(json_object_get(d, "running")),
                   (long long)json_integer_value(json_object_get(d, "slots")),
                   tc.data ? tc.data : "");
            udcs_buf_release(&tc);
        }
    }
    json_decref(j);
    return UDCS_EXIT_OK;
}

static void print_job_line(json_t *j)
{
    json_t *u = json_object_get(j, "units");
    printf("%-6lld %-12s %4lld  %-9s %5lld/%-5lld %6lld %6lld %6lld\n",
           (long long)json_integer_value(json_object_get(j, "id")),
           json_string_value(json_object_get(j, "type")),
           (long long)json_integer_value(json_object_get(j, "priority")),
           json_string_value(json_object_get(j, "state")),
           (long long)json_integer_value(json_object_get(u, "done")),
           (long long)json_integer_value(json_object_get(j, "units_total")),
           (long long)json_integer_value(json_object_get(j, "cache_hits")),
           (long long)json_integer_value(json_object_get(u, "running")),
           (long long)json_integer_value(json_object_get(u, "failed")));
}

static int cmd_jobs(struct client *c, int argc, char **argv)
{
    const char *state = NULL;
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            state = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            udcs_log_error("jobs: unexpected '%s'; see 'udcs --help'", argv[i]);
            return UDCS_EXIT_USAGE;
        }
    }
    char path[256];
    snprintf(path, sizeof(path), "/api/jobs%s%s", state ? "?state=" : "", state ? state : "");
    json_t *j;
    int rc = client_call_json(c, "GET", path, NULL, &j);
    if (rc < 0)
        return client_status_of(rc);
    if (as_json) {
        print_json(j);
    } else {
        printf("%-6s %-12s %4s  %-9s %11s %6s %6s %6s\n", "ID", "TYPE", "PRIO", "STATE", "DONE",
               "CACHED", "RUN", "FAILED");
        size_t i;
        json_t *job;
        json_array_foreach(json_object_get(j, "jobs"), i, job)
            print_job_line(job);
    }
    json_decref(j);
    return UDCS_EXIT_OK;
}

static int cmd_job(struct client *c, int argc, char **argv)
{
    static const char *const known[] = { "--json", "--all", NULL };
    if (check_args(argc, argv, known, 1) < 0)
        return UDCS_EXIT_USAGE;
    const char *id = first_positional(argc, argv);
    char path[256];
    snprintf(path, sizeof(path), "/api/jobs/%s?limit=%s", id,
             has_flag(argc, argv, "--all") ? "100000" : "1000");
    json_t *j;
    int rc = client_call_json(c, "GET", path, NULL, &j);
    if (rc < 0)
        return client_status_of(rc);
    if (has_flag(argc, argv, "--json")) {
        print_json(j);
        json_decref(j);
        return UDCS_EXIT_OK;
    }
    json_t *u = json_object_get(j, "units");
    printf("job %lld (%s, priority %lld): %s\n", (long long)json_integer_value(json_object_get(j, "id")),
           json_string_value(json_object_get(j, "type")),
           (long long)json_integer_value(json_object_get(j, "priority")),
           json_string_value(json_object_get(j, "state")));
    printf("units: %lld total, %lld done (%lld from cache), %lld running, %lld queued, "
           "%lld waiting, %lld failed, %lld cancelled; %lld retries\n",
           (long long)json_integer_value(json_object_get(j, "units_total")),
           (long long)json_integer_value(json_object_get(u, "done")),
           (long long)json_integer_value(json_object_get(j, "cache_hits")),
           (long long)json_integer_value(json_object_get(u, "running")),
           (long long)json_integer_value(json_object_get(u, "queued")),
           (long long)json_integer_value(json_object_get(u, "waiting")),
           (long long)json_integer_value(json_object_get(u, "failed")),
           (long long)json_integer_value(json_object_get(u, "cancelled")),
           (long long)json_integer_value(json_object_get(j, "retries")));
    if (json_object_get(j, "error"))
        printf("error: %s\n", json_string_value(json_object_get(j, "error")));
    size_t i;
    json_t *unit;
    int shown = 0;
    json_array_foreach(json_object_get(j, "unit_list"), i, unit) {
        const char *state = json_string_value(json_object_get(unit, "state"));
        const char *why = json_string_value(json_object_get(unit, "why"));
        const char *err = json_string_value(json_object_get(unit, "error"));
        if (!has_flag(argc, argv, "--all") && strcmp(state, "done") == 0)
            continue;   /* the interesting ones: not yet done, or failed */
        if (!shown++)
            printf("%-6s %-10s %-16s %-8s %s\n", "UNIT", "STATE", "AGENT", "ATTEMPTS", "DETAIL");
        const char *name = json_string_value(json_object_get(unit, "name"));
        printf("%-6lld %-10s %-16.16s %3lld/%-4lld %s%s%s\n",
               (long long)json_integer_value(json_object_get(unit, "index")), state,
               json_string_value(json_object_get(unit, "agent_name"))
                   ? json_string_value(json_object_get(unit, "agent_name")) : "-",
               (long long)json_integer_value(json_object_get(unit, "attempts")),
               (long long)json_integer_value(json_object_get(unit, "max_attempts")),
               name ? name : "", name && (why || err) ? ": " : "", why ? why : err ? err : "");
    }
    json_decref(j);
    return UDCS_EXIT_OK;
}

/* ---- wait ------------------------------------------------------------------------------------- */

struct follow {
    char event[64];
    int tty, as_json, quiet;
    long long done, total, cached;
    char state[32];
    uint64_t start_ms;
};

static void show_progress(struct follow *f)
{
    if (f->as_json || !f->tty)
        return;
    int width = 30, filled = f->total ? (int)(width * f->done / f->total) : 0;
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    double elapsed = (double)(udcs_mono_ms() - f->start_ms) / 1000;
    double eta = f->done > 0 ? elapsed * (double)(f->total - f->done) / (double)f->done : 0;
    fprintf(stderr, "\r[%s] %lld/%lld units, %lld cached, %.0fs elapsed, ETA %.0fs   ", bar,
            f->done, f->total, f->cached, elapsed, eta);
}

static void take_event(struct follow *f, json_t *d)
{
    f->done = json_integer_value(json_object_get(d, "done"));
    f->total = json_integer_value(json_object_get(d, "total"));
    if (json_is_true(json_object_get(d, "cached")))
        f->cached++;
    if (strcmp(f->event, "job_finished") == 0)
        snprintf(f->state, sizeof(f->state), "%s", json_string_value(json_object_get(d, "state")));
    if (f->as_json) {
        json_object_set_new(d, "event", json_string(f->event));
        char *t = json_dumps(d, JSON_COMPACT);
        printf("%s\n", t ? t : "{}");
        fflush(stdout);
        free(t);
    } else if (f->quiet) {
        /* udcs run: the command's own output is all the user sees */
    } else if (!f->tty && (strcmp(f->event, "unit_failed") == 0 ||
                           strcmp(f->event, "unit_retry") == 0 ||
                           strcmp(f->event, "job_finished") == 0 ||
                           strcmp(f->event, "agent_blocklisted") == 0)) {
        const char *err = json_string_value(json_object_get(d, "error"));
        printf("%s: %lld/%lld done%s%s\n", f->event, f->done, f->total, err ? ": " : "",
               err ? err : "");
    } else if (!f->tty && strcmp(f->event, "unit_finished") == 0 &&
               (f->done == f->total || f->done % 100 == 0)) {
        printf("progress: %lld/%lld done, %lld cached\n", f->done, f->total, f->cached);
    }
    if (strcmp(f->event, "unit_failed") == 0 && f->tty)
        fprintf(stderr, "\nunit %lld failed: %s\n",
                (long long)json_integer_value(json_object_get(d, "index")),
                json_string_value(json_object_get(d, "error")));
    show_progress(f);
}

static int on_event(void *arg, const char *event, json_t *d)
{
    struct follow *f = arg;
    snprintf(f->event, sizeof(f->event), "%s", event);
    take_event(f, d);
    return 0;
}

/* Without progress for this long, `udcs wait` and `udcs run` say why the job waits: a
 * command line waits for one job, so sooner than udcs-render's 30 s. */
#define WAIT_QUIET_WARN_MS 10000

static int wait_job(struct client *c, long long id, enum wait_mode mode, int own)
{
    int as_json = mode == WAIT_JSON;
    struct follow f = { .tty = mode == WAIT_PROGRESS && isatty(STDERR_FILENO),
                        .quiet = mode == WAIT_QUIET, .as_json = as_json,
                        .start_ms = udcs_mono_ms() };
    struct client_watch w = { .c = c, .id = id, .program = own ? "udcs run" : "udcs",
                              .cancel_note = "its units are stopped", .json = as_json,
                              .tty = f.tty, .on_event = on_event, .arg = &f,
                              .quiet_warn_ms = WAIT_QUIET_WARN_MS, .not_owner = !own };
    int interrupted = client_watch(&w);
    if (f.tty && !as_json)
        fputc('\n', stderr);
    if (interrupted)
        return interrupted;
    if (w.failed)
        return client_status_of(w.follow_rc);
    if (mode == WAIT_PROGRESS)
        printf("job %lld %s\n", id, f.state);
    return strcmp(f.state, "done") == 0 ? UDCS_EXIT_OK : UDCS_EXIT_FAILED;
}

int client_wait_job(struct client *c, const char *id, enum wait_mode mode)
{
    char *end;
    long long n = strtoll(id, &end, 10);
    if (end == id || *end || n < 1) {
        fprintf(stderr, "udcs: '%s' is not a job id (a number, as 'udcs jobs' lists them)\n",
                id);
        return UDCS_EXIT_USAGE;
    }
    return wait_job(c, n, mode, 0);
}

int client_wait_own_job(struct client *c, long long id, enum wait_mode mode)
{
    return wait_job(c, id, mode, 1);
}

static int cmd_wait(struct client *c, int argc, char **argv)
{
    static const char *const known[] = { "--json", NULL };
    if (check_args(argc, argv, known, 1) < 0)
        return UDCS_EXIT_USAGE;
    return client_wait_job(c, first_positional(argc, argv),
                           has_flag(argc, argv, "--json") ? WAIT_JSON : WAIT_PROGRESS);
}

static int cmd_cancel(struct client *c, int argc, char **argv)
{
    if (check_args(argc, argv, NULL, 1) < 0)
        return UDCS_EXIT_USAGE;
    char path[256];
    snprintf(path, sizeof(path), "/api/jobs/%s", argv[0]);
    json_t *j;
    int rc = client_call_json(c, "DELETE", path, NULL, &j);
    if (rc < 0)
        return client_status_of(rc);
    printf("job %s %s\n", argv[0], json_string_value(json_object_get(j, "state")));
    json_decref(j);
    return UDCS_EXIT_OK;
}

/* The dashboard's actions: POST /api/jobs/ID/WHAT or /api/agents/ID/WHAT. */
static int post_action(struct client *c, const char *kind, const char *id, const char *what,
                       const char *body, json_t **answer)
{
    if (!*id || strspn(id, "0123456789") != strlen(id)) {
        udcs_log_error("'%s' is not a%s id (a number, as 'udcs %s' shows)", id,
                       strcmp(kind, "jobs") == 0 ? " job" : "n agent",
                       strcmp(kind, "jobs") == 0 ? "jobs" : "devices");
        return UDCS_EXIT_USAGE;
    }
    char path[256];
    snprintf(path, sizeof(path), "/api/%s/%s/%s", kind, id, what);
    int rc = client_call_json(c, "POST", path, body ? body : "", answer);
    return rc < 0 ? client_status_of(rc) : UDCS_EXIT_OK;
}

static int cmd_priority(struct client *c, int argc, char **argv)
{
    if (check_args(argc, argv, NULL, 2) < 0)
        return UDCS_EXIT_USAGE;
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || end == argv[1] || n < 1 || n > 10) {
        udcs_log_error("priority '%s' is not a whole number from 1 to 10", argv[1]);
        return UDCS_EXIT_USAGE;
    }
    char body[64];
    snprintf(body, sizeof(body), "{\"priority\": %ld}", n);
    json_t *j = NULL;
    int status = post_action(c, "jobs", argv[0], "priority", body, &j);
    if (status == UDCS_EXIT_OK)
        printf("job %s priority %lld\n", argv[0],
               (long long)json_integer_value(json_object_get(j, "priority")));
    json_decref(j);
    return status;
}

static int cmd_retry(struct client *c, int argc, char **argv)
{
    if (check_args(argc, argv, NULL, 1) < 0)
        return UDCS_EXIT_USAGE;
    json_t *j = NULL;
    int status = post_action(c, "jobs", argv[0], "retry", NULL, &j);
    if (status == UDCS_EXIT_OK)
        printf("job %s: %lld failed unit(s) retried\n", argv[0],
               (long long)json_integer_value(json_object_get(j, "retried")));
    json_decref(j);
    return status;
}

static int agent_action(struct client *c, int argc, char **argv, const char *what)
{
    if (check_args(argc, argv, NULL, 1) < 0)
        return UDCS_EXIT_USAGE;
    json_t *j = NULL;
    int status = post_action(c, "agents", argv[0], what, NULL, &j);
    if (status == UDCS_EXIT_OK)
        printf("agent %s (%s) %s\n", argv[0], json_string_value(json_object_get(j, "name")),
               json_string_value(json_object_get(j, "state")));
    json_decref(j);
    return status;
}

static int cmd_drain(struct client *c, int argc, char **argv)
{
    return agent_action(c, argc, argv, "drain");
}

static int cmd_enable(struct client *c, int argc, char **argv)
{
    return agent_action(c, argc, argv, "enable");
}

static int cmd_submit(struct client *c, int argc, char **argv)
{
    static const char *const known[] = { "--wait", "-", NULL };
    int wait = has_flag(argc, argv, "--wait");
    if (check_args(argc, argv, known, has_flag(argc, argv, "-") ? 0 : 1) < 0)
        return UDCS_EXIT_USAGE;
    const char *file = has_flag(argc, argv, "-") ? "-" : first_positional(argc, argv);
    struct udcs_buf body = UDCS_BUF_INIT(256u << 20);
    int rc = strcmp(file, "-") == 0 ? udcs_buf_read_fd(&body, STDIN_FILENO)
                                    : udcs_read_file(file, &body);
    if (rc < 0) {
        udcs_log_error("submit: cannot read %s: %s", file, udcs_strerror(rc));
        udcs_buf_release(&body);
        return UDCS_EXIT_FAILED;
    }
    long long id = 0;
    rc = client_submit(c, body.data ? body.data : "", &id);
    udcs_buf_release(&body);
    if (rc < 0)
        return client_status_of(rc);
    printf("%lld\n", id);
    fflush(stdout);
    if (!wait)
        return UDCS_EXIT_OK;
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    return client_wait_job(c, ids, WAIT_PROGRESS);
}

/* ---- main ------------------------------------------------------------------------------------ */

struct command {
    const char *name;
    int (*run)(struct client *c, int argc, char **argv);
};

static const struct command commands[] = {
    { "devices", cmd_devices }, { "jobs", cmd_jobs }, { "job", cmd_job },
    { "submit", cmd_submit }, { "wait", cmd_wait }, { "cancel", cmd_cancel }, { "run", cmd_run },
    { "kernel", cmd_kernel }, { "priority", cmd_priority }, { "retry", cmd_retry },
    { "drain", cmd_drain }, { "enable", cmd_enable }, { "ci", ci_main },
};

int main(int argc, char **argv)
{
    udcs_log_init("udcs", UDCS_LOG_WARN, UDCS_LOG_STYLE_CLI);
    struct client c = { 0 };
    if (udcs_config_init(&c.cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    struct udcs_cli cli = { .program = "udcs", .usage = usage };
    int status = udcs_cli_parse(&cli, &c.cfg, argc, argv);
    if (status <= 0) {
        status = status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    } else if (cli.n_rest == 0) {
        usage(stderr, &c.cfg);
        status = UDCS_EXIT_USAGE;
    } else {
        status = client_open(&c) < 0 ? UDCS_EXIT_USAGE : -1;
        for (size_t k = 0; status < 0 && k < sizeof(commands) / sizeof(commands[0]); k++)
            if (strcmp(cli.rest[0], commands[k].name) == 0)
                status = commands[k].run(&c, cli.n_rest - 1, cli.rest + 1);
        if (status < 0) {
            udcs_log_error("unknown command '%s'; commands are devices, jobs, job, submit, "
                           "wait, cancel, priority, retry, drain, enable, run, kernel, ci (see 'udcs --help')", cli.rest[0]);
            status = UDCS_EXIT_USAGE;
        }
    }
    client_close(&c);
    free(cli.rest);
    udcs_config_release(&c.cfg);
    return udcs_cli_finish(status);
}
