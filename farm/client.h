/* farm/client.h - what the programs that talk to the master share (udcs, udcs-render):
 * the connection to the master and the calls every command makes (farm/client.c). */
#ifndef UDCS_FARM_CLIENT_H
#define UDCS_FARM_CLIENT_H

#include <jansson.h>
#include <stdio.h>
#include <stdint.h>

#include "common/config.h"
#include "common/http_client.h"

/* The settings of every client program (a udcs_setting table's rows). */
#define CLIENT_SETTINGS \
    UDCS_SETTING(farm,       "--farm",       "UDCS_FARM",       "farm.url",        "http://127.0.0.1:8080", STRING, \
                 "the master's API, http://HOST:PORT"), \
    UDCS_SETTING(token,      "--token",      "UDCS_TOKEN",      NULL,              NULL,                    STRING, \
                 "the client token itself"), \
    UDCS_SETTING(token_file, "--token-file", "UDCS_TOKEN_FILE", "farm.token_file", NULL,                    PATH, \
                 "file holding the client token (first line)"), \
    UDCS_SETTING(cache_dir,  "--cache-dir",  "UDCS_CACHE_DIR",  "cas.dir",         "~/.cache/udcs",         PATH, \
                 "local store for files sent and fetched"), \
    UDCS_SETTING(log_level,  "--log-level",  "UDCS_LOG_LEVEL",  "log.level",       "warn",                  STRING, \
                 "error, warn, info or debug")

/* The main() of a program that submits jobs (udcs-render, udcs-encode): the settings
 * (CLIENT_SETTINGS) from the command line, environment and config file, then parse() on
 * the arguments left, the connection, and run(). Returns the exit status for main. */
struct client;
struct client_program {
    const char *name;                                       /* "udcs-render" */
    void (*usage)(FILE *out, const struct udcs_config *cfg);
    int (*parse)(int argc, char **argv, void *opts);         /* 0, or -1 having said why */
    int (*run)(struct client *c, void *opts);                /* an exit status */
    void *opts;
};
int client_program_main(const struct client_program *p, int argc, char **argv);

struct client {
    struct udcs_config cfg;
    char *url;                      /* the master, http://HOST:PORT */
    char *token;                    /* the client token, or NULL */
    struct udcs_http_client *http;
};

/* Connect as the settings in c->cfg say (farm, token, token_file). Returns 0, or
 * UDCS_EUSAGE / -ENOMEM after saying what was wrong. */
int client_open(struct client *c);
void client_close(struct client *c);

/* A JSON call to the master; *answer (may be NULL to ignore) is the parsed reply. Logs
 * and returns an error code (common/err.h) on failure. */
int client_call_json(struct client *c, const char *method, const char *path, const char *body,
                     json_t **answer);
/* Put the file at `path` into the store (and so the master's) and write its digest as
 * "HEX/SIZE" to `text`. Logs what went wrong. */
struct cas;
#define CLIENT_DIGEST_TEXT 64
int client_send_file(struct cas *cas, const char *path, char text[CLIENT_DIGEST_TEXT]);

/* The client's store: the local one (--cache-dir, 5 GiB) layered on the master's. Says
 * what went wrong and returns an error code, or 0 with *cas (cas_close it). */
int client_open_store(struct client *c, struct cas **cas);

/* The seconds the rest of a job should take: `done` of its `total` units finished in
 * `elapsed_s`, `cached` of those answered by the action cache. Cached units took no time
 * and say nothing about the rate, so the rate is that of the units that ran. < 0 (not
 * known yet) until one has run. */
static inline double client_eta_s(double elapsed_s, size_t done, size_t cached, size_t total)
{
    size_t ran = done > cached ? done - cached : 0;
    size_t left = total > done ? total - done : 0;
    return ran ? elapsed_s * (double)left / (double)ran : -1;
}

/* Draw a progress bar on stderr (a terminal's line, redrawn): done of total, then `text`,
 * the time since start_ms and the ETA (seconds; < 0: not known yet). */
void client_draw_progress(size_t done, size_t total, const char *text, uint64_t start_ms,
                          double eta);

/* The exit status for a call's error code. */
int client_status_of(int rc);
/* POST /api/submit; the job's id goes to *id. */
int client_submit(struct client *c, const char *text, long long *id);

/* Follow a job's server-sent events until job_finished, calling fn(arg, event, data) for
 * each (data is the event's JSON text). A stream that breaks is followed again (events
 * are then seen again from the start of what the master keeps). Returns 0 once the job
 * ended, what fn returned when it stopped the stream (negative), or an error code. */
typedef int client_event_fn(void *arg, const char *event, const char *data);
int client_follow(struct client *c, const char *id, client_event_fn *fn, void *arg);

/* Watching a job whose results a program writes as they come (farm/client_watch.c). */
typedef int client_json_event_fn(void *arg, const char *event, json_t *data);
typedef int client_unit_fn(void *arg, const char *name, json_t *outputs, int cached);
struct client_watch {
    struct client *c;
    long long id;
    const char *program;          /* for messages: "udcs-render" */
    const char *cancel_note;      /* said after ^C: what stays cached */
    int json, tty;                /* --json events; progress drawn on a terminal */
    client_json_event_fn *on_event;   /* every event, parsed */
    void *arg;
    uint64_t quiet_warn_ms;       /* 0: CLIENT_QUIET_WARN_MS */
    int not_owner;                /* a job of someone else: ^C ends the program, not the job */
    /* set while watching: */
    char state[32], error[1024];  /* of job_finished */
    volatile uint64_t last_event_ms;
    volatile int finished, failed;
    int follow_rc;                /* client_follow's error when the master was lost */
};
/* Say why a job waits after this long without an event. */
#define CLIENT_QUIET_WARN_MS 30000
/* Follow w->id's events in a thread (calling on_event) until the job ends; ^C (or SIGTERM)
 * cancels the job, a second one exits (unless w->not_owner: then signals act as usual).
 * Every quiet_warn_ms without an event (and without --json), says on stderr what the
 * first waiting unit waits for. Returns 130 when interrupted, 0 otherwise (w->failed and
 * w->follow_rc when the master was lost). */
int client_watch(struct client_watch *w);
/* For each unit of the job that finished well: fn(w->arg, name, outputs, cached), page by
 * page (the master keeps only the latest events: this finds what the stream missed). */
int client_watch_sweep(struct client_watch *w, client_unit_fn *fn);

/* Print one JSON event (an object, taken) as a line on stdout, and flush. */
void client_print_event(json_t *event);

/* Say that a unit failed or will be retried (event unit_failed, unit_retry, data d): one
 * JSON line on stdout with --json, else a line on stderr (after the progress bar's). */
void client_say_unit_trouble(const char *event, json_t *d, int json, int tty);

enum wait_mode { WAIT_PROGRESS, WAIT_JSON, WAIT_QUIET };
/* Follow a job's events until it ends. Returns UDCS_EXIT_OK when it is done,
 * UDCS_EXIT_FAILED when it failed or was cancelled (or the master was lost). */
int client_wait_job(struct client *c, const char *id, enum wait_mode mode);
/* The same for a job the caller submitted (udcs run): SIGINT or SIGTERM cancels it, says
 * so on stderr, and 130 is returned once the master has ended it. */
int client_wait_own_job(struct client *c, long long id, enum wait_mode mode);

/* udcs run (udcs_run.c). */
int cmd_run(struct client *c, int argc, char **argv);
/* udcs kernel (udcs_kernel.c). */
int cmd_kernel(struct client *c, int argc, char **argv);

#endif
