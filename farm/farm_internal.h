/* farm/farm_internal.h - the master's state, shared by the files of farm/ and by nothing
 * outside it. One mutex (farm.lock) guards everything here, the SQLite handle included:
 * handlers take it, change memory and the database in one transaction, and let go. */
#ifndef UDCS_FARM_INTERNAL_H
#define UDCS_FARM_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "cas/cas.h"
#include "common/buf.h"
#include "farm/farm.h"
#include "kernels/kernel_job.h"

enum unit_state {
    UNIT_WAITING = 0,   /* for units it depends on */
    UNIT_QUEUED,        /* runnable (or in backoff until not_before_ms) */
    UNIT_LEASED,        /* an agent holds it under a lease */
    UNIT_DONE,
    UNIT_FAILED,
    UNIT_CANCELLED,
    UNIT_STATE_COUNT
};

enum job_state { JOB_RUNNING = 0, JOB_DONE, JOB_FAILED, JOB_CANCELLED, JOB_STATE_COUNT };

enum agent_state { AGENT_IDLE = 0, AGENT_BUSY, AGENT_DRAINING, AGENT_LOST, AGENT_STATE_COUNT };

extern const char *const farm_unit_state_names[UNIT_STATE_COUNT];
extern const char *const farm_job_state_names[JOB_STATE_COUNT];
extern const char *const farm_agent_state_names[AGENT_STATE_COUNT];

/* What a unit needs of an agent. Units with equal requirements share a class, so
 * matching is decided once per (agent, class). */
struct req {
    char *architecture, *os;     /* NULL: any */
    int cores;
    double memory_gb;
    int gpu;                     /* needs a GPU */
    double gpu_memory_gb;
    char **toolchains;           /* names an agent must have ("gcc", "povray") */
    size_t n_toolchains;
};

struct req_class {
    struct req req;
    char *key;                   /* canonical JSON of the requirements */
    char *text;                  /* for people: "x86_64, linux, toolchain povray" */
};

struct job;
struct agent;
struct udcs_http_req;

struct unit {
    int64_t id;
    struct job *job;
    int index;                   /* position in its job */
    enum unit_state state;
    char *spec;                  /* the unit as submitted (normalized JSON text, see spec.c);
                                  * text, not a json_t: a master holds 100,000s of units */
    int class_id;
    int64_t *deps;               /* ids of units whose outputs this one takes */
    size_t n_deps, deps_left;
    int64_t *dependents;         /* units waiting on this one */
    size_t n_dependents;
    int has_action;
    struct cas_digest action_digest;
    char *action_json;           /* canonical, once resolved */
    int attempts, max_attempts;
    uint64_t not_before_ms;      /* backoff after a failure */
    int64_t agent_id;            /* holder of the lease, or who ran it last */
    uint64_t epoch;              /* fencing token of the current (last) lease */
    uint64_t lease_expires_ms;
    int cached;                  /* completed from the action cache */
    int exit_code;
    char *result_json;           /* the accepted action result */
    char *error;                 /* why it failed last */
    uint64_t queued_ms, started_ms, finished_ms;
    struct unit *next;           /* queue link */
};

struct job_queue {               /* runnable units of one class, oldest first */
    int class_id;
    struct unit *head, *tail;
    size_t n;
};

/* A job's event log for GET /api/jobs/{id}/events: a ring of the latest lines. */
#define JOB_EVENTS_KEPT 4096
struct job_event {
    uint64_t seq;
    char *text;                  /* "event: ...\ndata: {...}\n\n" */
};

struct job {
    int64_t id;
    char *type;
    int priority;
    enum job_state state;
    json_t *spec;                /* the submission, base64 payloads removed */
    char *callback_url;
    char *error;
    uint64_t created_ms, finished_ms;
    struct unit **units;
    size_t n_units;
    size_t counts[UNIT_STATE_COUNT];
    size_t cache_hits, retries;
    struct job_queue *queues;
    size_t n_queues;
    int in_bucket;               /* listed in its priority's bucket */
    int pin_pending;             /* units wait for the first agent to pin a toolchain */
    struct job_event events[JOB_EVENTS_KEPT];
    uint64_t next_event_seq;
    uint64_t run_event_seq;      /* first event of the current run (after a retry) */
    int callback_pending;
    int callback_tries;          /* failed so far (memory only: a restart tries afresh) */
    uint64_t callback_next_ms;   /* farm_now_ms() of the next try; 0: now */
    /* farm-wide events (events.c): what the last "job" event showed, and when */
    int events_dirty;            /* a unit changed state since */
    enum job_state event_state;
    uint64_t event_ms;
};

/* Failures of one job's units on an agent; at opt.blocklist_after it is kept off the job. */
struct blocked { int64_t job_id; int failures; };

struct agent {
    int64_t id;
    char *key;                   /* chosen by the agent, stable across restarts */
    char *name;
    json_t *info;                /* detection JSON (devices schema) */
    int slots;
    int running;                 /* units leased to it now: */
    int64_t *leases;             /* their ids */
    enum agent_state state;
    int draining;
    uint64_t last_seen_ms, registered_ms;
    signed char *class_match;    /* per class: -1 unknown, 0 no, 1 yes */
    size_t n_class_match;
    struct blocked *blocked;
    size_t n_blocked;
    uint64_t units_done, units_failed;
    int admin_drained;           /* drained from the dashboard or CLI; persisted */
    /* load, from heartbeats (not persisted) */
    double cpu;                  /* busy fraction of all cores; NAN: not reported */
    uint64_t traffic_in, traffic_out;   /* bytes the agent fetched from / sent to the store */
    struct agent_sample *series; /* ring of FARM_AGENT_SERIES_KEPT, NULL until the first */
    size_t series_next, series_n;
    uint64_t series_ms;          /* time of the newest sample */
    /* farm-wide events (events.c) */
    int events_dirty;            /* heard from since the last "agent" event */
    enum agent_state event_state;
    int event_drained;
    uint64_t event_ms;
};

/* One heartbeat's load, for GET /api/devices/{id}/series. At most one per
 * FARM_AGENT_SAMPLE_MS, kept for FARM_AGENT_SERIES_S; NAN: unknown. */
#define FARM_AGENT_SAMPLE_MS 2000
#define FARM_AGENT_SERIES_S (30 * 60)
#define FARM_AGENT_SERIES_KEPT (FARM_AGENT_SERIES_S * 1000 / FARM_AGENT_SAMPLE_MS)
#define FARM_SAMPLE_GPUS_MAX 8
struct agent_sample {
    uint64_t t_ms;
    float cpu, mem_used_gb;
    unsigned char n_gpus;
    float gpu_util[FARM_SAMPLE_GPUS_MAX], gpu_mem_used_gb[FARM_SAMPLE_GPUS_MAX];
};

/* The counters /metrics prints and the sampler keeps (metrics.c). */
struct farm_metrics {
    uint64_t t_ms;
    size_t agents[AGENT_STATE_COUNT], units[UNIT_STATE_COUNT], jobs[JOB_STATE_COUNT];
    uint64_t cache_hits, units_completed, units_failed, lease_expiries, retries,
             results_refused, leases_granted;
    uint64_t cas_bytes_in, cas_bytes_out, cas_bytes_stored;
};
/* The sampler's period and how much it keeps: one hour. */
#define FARM_METRICS_INTERVAL_S 5
#define FARM_METRICS_KEPT (3600 / FARM_METRICS_INTERVAL_S)

/* The farm-wide event stream (GET /api/events): a ring of the latest events. */
#define FARM_EVENTS_KEPT 8192
struct farm_event {
    uint64_t seq;
    int64_t unit_job;            /* a `unit` event's job, sent only to streams asking ?units= */
    char *text;                  /* "id: N\nevent: ...\ndata: {...}\n\n" */
};

#define FARM_DB_STMTS 16

struct farm {
    struct farm_options opt;
    pthread_mutex_t lock;
    pthread_cond_t work_cv;      /* units became runnable, or the farm is stopping */
    pthread_cond_t event_cv;     /* a job event was added */
    sqlite3 *db;
    sqlite3_stmt *stmt[FARM_DB_STMTS];   /* prepared statements, see db.c */
    struct cas_store *cs;
    int stopping;

    struct job **jobs;           /* by id; index 0 unused */
    size_t n_jobs, cap_jobs;
    struct unit **units;         /* by id */
    size_t n_units, cap_units;
    struct agent **agents;       /* by id */
    size_t n_agents, cap_agents;
    struct req_class *classes;
    size_t n_classes;

    struct job **buckets[11];    /* jobs with runnable units, per priority 1..10 */
    size_t n_bucket[11], cap_bucket[11], cursor[11];
    struct unit **delayed;       /* queued but in backoff */
    size_t n_delayed, cap_delayed;

    uint64_t cache_hits, units_completed, units_failed, lease_expiries, retries, results_refused;
    uint64_t leases_granted;
    pthread_t reaper;
    int reaper_started;
    pthread_t callbacker;
    int callbacker_started;
    /* Results waiting to be written to the action cache (background.c): the unit is
     * already durable in SQLite; the cache file is written off the result's path. */
    struct ac_pending { struct cas_digest action; char *result_json; } *ac_queue;
    size_t n_ac_queue, cap_ac_queue;
    pthread_cond_t ac_cv;
    pthread_t ac_writer;
    int ac_writer_started;
    struct udcs_http_server *api, *web;
    char *web_dir;               /* the built dashboard, or NULL */
    /* the metrics sampler (metrics.c) */
    struct farm_metrics *samples;   /* ring of FARM_METRICS_KEPT */
    size_t samples_next, samples_n;
    pthread_cond_t sampler_cv;   /* only for stopping it */
    pthread_t sampler;
    int sampler_started;
    /* farm-wide events (events.c) */
    struct farm_event fevents[FARM_EVENTS_KEPT];
    uint64_t next_fevent_seq;
};

/* ---- db.c: SQLite persistence ---------------------------------------------------------- */
int farm_db_open(struct farm *f, const char *path);
void farm_db_close(struct farm *f);
int farm_db_begin(struct farm *f);
int farm_db_commit(struct farm *f);          /* rolls back on failure */
int farm_db_insert_job(struct farm *f, struct job *j);
int farm_db_save_job(struct farm *f, const struct job *j);
int farm_db_insert_unit(struct farm *f, struct unit *u);
int farm_db_save_unit(struct farm *f, const struct unit *u);
/* The job's spec and every unit's, after they changed (a pinned toolchain). */
int farm_db_save_specs(struct farm *f, const struct job *j);
int farm_db_save_agent(struct farm *f, struct agent *a);   /* inserts when a->id == 0 */
int farm_db_save_blocklist(struct farm *f, const struct agent *a, int64_t job_id, int failures);
/* Rebuild memory from the database after a (re)start. */
int farm_db_load(struct farm *f);

/* ---- state.c: the model and its transitions (call with the lock held) ------------------- */
/* The unit's spec parsed (a new reference), or NULL when out of memory. */
json_t *farm_unit_spec(const struct unit *u);
uint64_t farm_now_ms(void);
struct job *farm_job(struct farm *f, int64_t id);
struct unit *farm_unit(struct farm *f, int64_t id);
struct agent *farm_agent(struct farm *f, int64_t id);
int farm_add_job(struct farm *f, struct job *j);
int farm_add_unit(struct farm *f, struct unit *u);
int farm_add_agent(struct farm *f, struct agent *a);
void farm_set_unit_state(struct farm *f, struct unit *u, enum unit_state s);
/* Make a unit runnable: resolve its action, and either complete it from the action
 * cache or queue it. Cascades to dependents that become ready. */
int farm_unit_ready(struct farm *f, struct unit *u);
/* A unit finished well: record, store in the action cache, release dependents. */
int farm_unit_done(struct farm *f, struct unit *u, const char *result_json, int cached);
/* How long a unit waits before attempt `attempts` + 1: opt->backoff_ms, doubled for each
 * attempt after the first, at most opt->backoff_max_ms. */
uint64_t farm_retry_delay_ms(const struct farm_options *o, int attempts);
/* A unit failed (or its agent vanished): retry with backoff while attempts remain and
 * `may_retry`, else fail it and its job. */
int farm_unit_failed(struct farm *f, struct unit *u, const char *why, int count_attempt,
                     int may_retry);
void farm_job_cancel(struct farm *f, struct job *j, const char *why);
void farm_job_event(struct farm *f, struct job *j, const char *event, json_t *data);
void farm_unit_event(struct farm *f, struct unit *u, const char *event, json_t *extra);
void farm_job_check_end(struct farm *f, struct job *j);
json_t *farm_job_json(struct farm *f, struct job *j, int with_units, size_t offset,
                      size_t limit, const char *unit_state);
json_t *farm_unit_json(struct farm *f, struct unit *u);
json_t *farm_agent_json(struct farm *f, struct agent *a);
/* The agent's load samples of the last FARM_AGENT_SERIES_S (GET /api/devices/{id}/series). */
json_t *farm_agent_series_json(const struct agent *a, uint64_t now);
void farm_agent_update_state(struct agent *a);
/* Record that `a` now holds unit `id` (the release is in farm_set_unit_state). */
int farm_agent_hold(struct agent *a, int64_t id);

/* ---- pin.c: pinning a toolchain ------------------------------------------------------------ */
/* The environment variable that carries a pinned toolchain ("NAME@FINGERPRINT") into a
 * unit's action, and so into its cache key. */
#define FARM_PINNED_TOOLCHAIN_ENV KERNEL_PINNED_ENV   /* kernels/kernel_job.h */
/* The fingerprint `a` reports for toolchain `name`, or NULL. Points into a->info. */
const char *farm_agent_toolchain_fingerprint(const struct agent *a, const char *name);
/* The fingerprint most live agents report for toolchain `name` (the smallest among
 * equals), or NULL when none has it. Points into an agent's detection JSON. */
const char *farm_common_fingerprint(struct farm *f, const char *name);
/* Whether a live agent offers toolchain `name` with fingerprint `fp`. */
int farm_toolchain_offered(struct farm *f, const char *name, const char *fp);
/* Pin a unit spec's "pin_toolchain" (if any) to `fingerprint`: its requirement becomes
 * NAME@FINGERPRINT, and FARM_PINNED_TOOLCHAIN_ENV is set. Returns 0 or -EINVAL. */
int farm_pin_spec(json_t *spec, const char *fingerprint);
/* Pin every unit of `j` still waiting for it to the build of the toolchain `a` offers, as
 * the first agent to take one of them: specs, classes and actions change, queued units
 * are looked up in the action cache again. Returns 0, or a negative code. */
int farm_job_pin(struct farm *f, struct job *j, struct agent *a);

/* ---- sched.c: requirement classes, queues, matching ---------------------------------------- */
int farm_class_for(struct farm *f, const json_t *requirements, int *class_id, char *why,
                   size_t why_len);
void farm_enqueue(struct farm *f, struct unit *u);
void farm_dequeue(struct farm *f, struct unit *u);   /* remove a queued unit (cancel) */
/* Pick up to `max` units for agent `a` and lease them. Returns how many. */
size_t farm_pick(struct farm *f, struct agent *a, struct unit **out, size_t max);
/* Why a queued or waiting unit is not running, for people. Caller frees. */
char *farm_unit_why(struct farm *f, struct unit *u);
int farm_agent_matches(struct farm *f, struct agent *a, int class_id);
/* Whether `a` failed enough of the job's units to be kept off it. */
int farm_agent_blocked(struct farm *f, const struct agent *a, int64_t job_id);
/* Count a failure of one of the job's units on `a`; blocklists it at the threshold. */
void farm_agent_note_failure(struct farm *f, struct agent *a, struct job *j);
/* Move units whose backoff ended back into the queues. Returns how many. */
size_t farm_release_delayed(struct farm *f, uint64_t now);

/* ---- spec.c: job submissions -------------------------------------------------------------- */
/* Parse and validate a submission into the job's settings and its normalized unit specs
 * (both new references). Creates nothing, but stores a NATIVE_EXEC's binary and payload
 * in the store. Returns 0 or UDCS_EPROTO with the reason in `why`. */
int farm_spec_parse(struct farm *f, const char *body, size_t len, json_t **job, json_t **units,
                    char *why, size_t why_len);
/* Parse and validate a submission, creating the job and its units (in memory and in the
 * database, in the caller's transaction). On a bad submission returns UDCS_EPROTO with
 * the reason in `why` and changes nothing. */
int farm_submit(struct farm *f, const char *body, size_t len, int64_t *job_id, char *why,
                size_t why_len);
/* Build the action of a unit whose dependencies are done. */
int farm_resolve_action(struct farm *f, struct unit *u, char *why, size_t why_len);

/* ---- protocol.c: the agent protocol's rules -------------------------------------------------- */
#define FARM_AGENT_KEY_MAX 200
#define FARM_AGENT_NAME_MAX 200
#define FARM_AGENT_SLOTS_MAX 1024
#define FARM_LEASE_BATCH_MAX 64          /* most units in one lease answer */
#define FARM_LEASE_WAIT_MAX_MS 60000     /* the longest a lease request waits */

struct farm_register_req { const char *key, *name; int slots; json_t *info; };
struct farm_heartbeat_req { int64_t agent_id; json_t *leases; int draining; json_t *refresh;
                            json_t *load; };
struct farm_lease_req { int64_t agent_id; size_t slots; uint64_t wait_ms; };
struct farm_result_req {
    int64_t agent_id, unit;
    uint64_t epoch;
    int ok;                        /* "ok": result holds the record; "error": error says why */
    struct cas_action_result result;
    char *result_json;             /* canonical text of result */
    const char *error;
    int infra;                     /* "infrastructure": the agent's own part failed */
};
/* Parse a request body (borrowing from it; nothing of the farm is touched). Returns 0 or
 * UDCS_EPROTO with the reason in `why`. */
int farm_parse_register(const json_t *body, struct farm_register_req *r, char *why, size_t why_len);
int farm_parse_heartbeat(const json_t *body, struct farm_heartbeat_req *r, char *why, size_t why_len);
int farm_parse_lease(const json_t *body, struct farm_lease_req *r, char *why, size_t why_len);
int farm_parse_result(const json_t *body, struct farm_result_req *r, char *why, size_t why_len);
void farm_result_req_release(struct farm_result_req *r);

/* Apply them (lock held, in a transaction). */
struct agent *farm_agent_seen(struct farm *f, int64_t id);   /* NULL when unknown */
int farm_agent_register(struct farm *f, const struct farm_register_req *r, struct agent **out);
json_t *farm_agent_heartbeat(struct farm *f, struct agent *a, const struct farm_heartbeat_req *r);
/* Take a unit's result, or refuse it (fencing, missing blobs) with the HTTP status to
 * answer in *status and the reason in `why`. */
int farm_accept_result(struct farm *f, struct agent *a, struct farm_result_req *r, int *status,
                       char *why, size_t why_len);
json_t *farm_unit_offer(struct farm *f, struct unit *u);

/* ---- events.c: the farm-wide event stream (lock held) --------------------------------------- */
/* Append one event; `data` is stolen. */
void farm_event_add(struct farm *f, const char *event, json_t *data);
/* A unit changed state: its grid letter goes out at once. */
void farm_event_unit(struct farm *f, const struct unit *u);
/* An agent's or a job's object goes out now (register, drain, submit, priority). */
void farm_event_agent(struct farm *f, struct agent *a);
void farm_event_job(struct farm *f, struct job *j);
/* Send what changed since the last events, within the throttles: agents on a state
 * change or at most every FARM_EVENT_AGENT_MS while heard from, jobs on a state change
 * or at most every FARM_EVENT_JOB_MS while they progress. The reaper calls it. */
#define FARM_EVENT_AGENT_MS 2000
#define FARM_EVENT_JOB_MS 250
void farm_events_flush(struct farm *f, uint64_t now);
void farm_events_init(struct farm *f);
void farm_events_release(struct farm *f);
/* The grid letter of a unit's state: w q l d c f x (see docs/FARM.md). */
char farm_unit_letter(const struct unit *u);

/* Text of an event stream not yet handed to libmicrohttpd (both event routes). */
struct farm_sse_text {
    char *text;
    size_t len, off;
};
/* Whether everything was handed over; then the text is freed and p is empty again. */
int farm_sse_drained(struct farm_sse_text *p);
/* Hand over up to `max` bytes into `buf`; returns how many. */
long farm_sse_copy(struct farm_sse_text *p, char *buf, size_t max);

/* ---- metrics.c: counters, the sampler -------------------------------------------------------- */
/* Gather the counters (takes the lock itself, so call without it). */
void farm_metrics_gather(struct farm *f, struct farm_metrics *m);
/* One sample as JSON (the fields of GET /api/metrics/series, one value each). */
json_t *farm_metrics_json(const struct farm_metrics *m);
/* GET /api/metrics/series: the samples, oldest first, one array per field (lock held). */
json_t *farm_metrics_series_json(struct farm *f);
int farm_sampler_start(struct farm *f);
void farm_sampler_stop(struct farm *f);

/* ---- actions.c: what the dashboard and the CLI change (lock held, in a transaction) -------- */
/* Set a job's priority (1..10) and move it in the queue. Returns 0 or -EINVAL. */
int farm_job_set_priority(struct farm *f, struct job *j, int priority);
/* Requeue a failed job's failed units (attempts reset) and the units its failure
 * cancelled, and run it again. Returns how many failed units were requeued (0: none,
 * nothing changed), or a negative code. */
int farm_job_retry(struct farm *f, struct job *j);
/* Drain (no new leases; running units finish) or enable an agent, persisted. */
int farm_agent_set_drained(struct farm *f, struct agent *a, int drained);
/* Record a heartbeat's load in the agent and its series. */
void farm_agent_note_load(struct farm *f, struct agent *a, const json_t *load, uint64_t now);

/* ---- api_*.c: HTTP ------------------------------------------------------------------------ */
int farm_api_mount_client(struct farm *f, struct udcs_http_server *srv, int web);
int farm_api_mount_agent(struct farm *f, struct udcs_http_server *srv);
/* The dashboard's routes (api_dash.c): grid, blobs, series, actions, farm events; on both
 * ports. */
int farm_api_mount_dash(struct farm *f, struct udcs_http_server *srv);
/* Answer GET /api/jobs/{id}/grid (lock held). */
void farm_reply_grid(struct udcs_http_req *req, struct farm *f, struct job *j);
/* Parsing what the dashboard sends (no farm state; tests/fuzz/fuzz_dash_request.c).
 * {"priority": 1..10}: 0, or UDCS_EPROTO with the reason in `why`. */
int farm_parse_priority(const char *body, size_t len, int *priority, char *why, size_t why_len);
/* A Last-Event-ID header: decimal digits only. 0 or -EINVAL. */
int farm_parse_event_id(const char *text, uint64_t *seq);
/* The Content-Type GET /api/blobs/ sends for ?type= (NULL or empty: octet-stream), or
 * NULL when the type is not one it serves. */
const char *farm_blob_type(const char *asked);
/* The web port's pages (api_web.c): the built dashboard from f->web_dir, or the plain
 * status page. */
int farm_api_mount_web(struct farm *f, struct udcs_http_server *srv);
void farm_status_page(struct udcs_http_req *req);
/* Check that `dir` (may be NULL: none) holds index.html; *out a copy of it, or NULL.
 * Returns 0, or UDCS_EUSAGE (logged) when it does not. */
int farm_web_dir_check(const char *dir, char **out);
/* Whether /assets/NAME may be served: a plain file name (letters, digits, '.', '-', '_',
 * not starting with '.'), never a path. */
int farm_web_name_ok(const char *name);
/* The Content-Type of a dashboard file, by its extension. */
const char *farm_web_content_type(const char *name);

/* ---- background.c: lease expiry, lost agents, backoff, callbacks, cache writes ------------ */
/* Queue a successful result for the action cache (lock held). */
void farm_ac_enqueue(struct farm *f, const struct cas_digest *action, const char *result_json);
/* The queued result for `action`, or NULL (lock held). */
const char *farm_ac_pending(struct farm *f, const struct cas_digest *action);
int farm_background_start(struct farm *f);
void farm_background_stop(struct farm *f);

#endif
