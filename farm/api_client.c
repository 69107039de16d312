/* farm/api_client.c - the API people and tools use:
 *   POST   /api/submit             a job (see spec.c)            -> 201 {"job_id": N, ...}
 *   GET    /api/jobs               jobs, newest first (?state=&type=&limit=&offset=)
 *   GET    /api/jobs/{id}          one job and its units (?state=&limit=&offset=)
 *   DELETE /api/jobs/{id}          cancel
 *   GET    /api/jobs/{id}/events   server-sent events until the job ends
 *   GET    /api/jobs/{id}/grid     one letter per unit (api_dash.c)
 *   GET    /api/devices            every agent, with its hardware and toolchains
 *   GET    /metrics                Prometheus text
 * The dashboard's routes are in api_dash.c, the web port's pages in api_web.c. */
#include "farm/farm_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Submissions larger than this are followed by malloc_trim(). */
#define SUBMIT_TRIM_BYTES (1u << 20)
#define DEFAULT_UNIT_PAGE 1000
#define MAX_UNIT_PAGE 100000
#define DEFAULT_JOB_PAGE 100
/* Seconds between keep-alive comments on an idle event stream. */
#define EVENTS_KEEPALIVE_S 15

static size_t query_size(struct udcs_http_req *req, const char *name, size_t def, size_t max)
{
    const char *v = udcs_http_req_query(req, name);
    if (!v || !*v)
        return def;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end)
        return def;
    return n > max ? max : (size_t)n;
}

/* The job named by the path ("/api/jobs/17" or "/api/jobs/17/events"); replies 404. */
static struct job *job_of(struct farm *f, struct udcs_http_req *req, const char **rest)
{
    char *end;
    long long id = strtoll(req->subpath, &end, 10);
    struct job *j = end != req->subpath && id > 0 ? farm_job(f, id) : NULL;
    if (!j)
        udcs_http_reply_error(req, 404, "no job '%s'", req->subpath);
    else if (rest)
        *rest = end;
    return j;
}

static void do_submit(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    char why[1024];
    int64_t id = 0;
    pthread_mutex_lock(&f->lock);
    int rc = farm_db_begin(f);
    if (rc == 0)
        rc = farm_submit(f, req->body.data ? req->body.data : "", req->body.len, &id, why,
                         sizeof(why));
    if (rc == 0)
        rc = farm_db_commit(f);
    else
        farm_db_commit(f);   /* nothing was written for a refused job */
    if (rc == UDCS_EPROTO) {
        udcs_http_reply_error(req, 400, "job refused: %s", why);
    } else if (rc < 0) {
        udcs_http_reply_error(req, 500, "the job could not be stored: %s", udcs_strerror(rc));
    } else {
        json_t *j = farm_job_json(f, farm_job(f, id), 0, 0, 0, NULL);
        json_object_set_new(j, "job_id", json_integer(id));
        udcs_http_reply_json(req, 201, j);
    }
    pthread_mutex_unlock(&f->lock);
    /* A large submission was parsed into many short-lived objects: give that memory back
     * to the system instead of keeping it in this thread's arena. */
    if (req->body.len > SUBMIT_TRIM_BYTES)
        malloc_trim(0);
}

static void do_jobs(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    const char *state = udcs_http_req_query(req, "state");
    const char *type = udcs_http_req_query(req, "type");   /* a kind: EXEC, RENDER, ... */
    size_t limit = query_size(req, "limit", DEFAULT_JOB_PAGE, MAX_UNIT_PAGE);
    size_t offset = query_size(req, "offset", 0, SIZE_MAX);
    pthread_mutex_lock(&f->lock);
    json_t *list = json_array();
    size_t seen = 0, total = 0;
    for (size_t i = f->n_jobs; i-- > 1;) {
        struct job *j = f->jobs[i];
        if (!j || (state && strcmp(state, farm_job_state_names[j->state]) != 0) ||
            (type && (!j->type || strcmp(type, j->type) != 0)))
            continue;
        total++;
        if (seen++ < offset || json_array_size(list) >= limit)
            continue;
        json_array_append_new(list, farm_job_json(f, j, 0, 0, 0, NULL));
    }
    pthread_mutex_unlock(&f->lock);
    udcs_http_reply_json(req, 200, json_pack("{s:o, s:I}", "jobs", list, "total",
                                             (json_int_t)total));
}

/* ---- events ----------------------------------------------------------------------------- */

struct event_stream {
    struct farm *f;
    struct job *job;
    uint64_t next;         /* next event sequence to send */
    int finished;          /* the job_finished event went out */
    struct farm_sse_text pending;
};

static long events_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct event_stream *s = arg;
    struct farm *f = s->f;
    if (farm_sse_drained(&s->pending)) {
        if (s->finished)
            return 0;   /* the job ended: close the stream */
        pthread_mutex_lock(&f->lock);
        struct job *j = s->job;
        for (;;) {
            if (s->next + JOB_EVENTS_KEPT < j->next_event_seq)
                s->next = j->next_event_seq - JOB_EVENTS_KEPT;   /* too slow: skip ahead */
            if (s->next < j->next_event_seq || f->stopping)
                break;
            struct timespec t = udcs_deadline_after_ms(EVENTS_KEEPALIVE_S * 1000);
            if (pthread_cond_timedwait(&f->event_cv, &f->lock, &t) != 0)
                break;
        }
        struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
        while (s->next < j->next_event_seq) {
            struct job_event *e = &j->events[s->next % JOB_EVENTS_KEPT];
            if (e->seq == s->next && e->text) {
                udcs_buf_append_str(&out, e->text);
                if (strstr(e->text, "event: job_finished\n"))
                    s->finished = 1;
            }
            s->next++;
        }
        int stopping = f->stopping;
        pthread_mutex_unlock(&f->lock);
        if (!out.len)
            udcs_buf_append_str(&out, stopping ? "" : ": keep-alive\n\n");
        if (!out.len) {
            udcs_buf_release(&out);
            return 0;
        }
        s->pending.text = udcs_buf_detach(&out, &s->pending.len);
    }
    return farm_sse_copy(&s->pending, buf, max);
}

static void events_done(void *arg)
{
    struct event_stream *s = arg;
    free(s->pending.text);
    free(s);
}

static void do_events(struct udcs_http_req *req, struct job *j)
{
    struct farm *f = req->ctx;
    struct event_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        udcs_http_reply_error(req, 500, "out of memory");
        return;
    }
    s->f = f;
    s->job = j;
    const char *last = udcs_http_req_header(req, "Last-Event-ID");
    pthread_mutex_lock(&f->lock);
    s->next = j->next_event_seq > JOB_EVENTS_KEPT ? j->next_event_seq - JOB_EVENTS_KEPT : 0;
    if (s->next < j->run_event_seq)
        s->next = j->run_event_seq;   /* retried: an earlier run's end is not this one's */
    if (last && *last)
        s->next = strtoull(last, NULL, 10) + 1;   /* a reconnecting client resumes */
    if (j->state != JOB_RUNNING && s->next >= j->next_event_seq) {
        /* Finished and nothing left to tell: say so once. */
        json_t *d = json_pack("{s:I, s:s}", "job", (json_int_t)j->id, "state",
                              farm_job_state_names[j->state]);
        char *text = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        if (asprintf(&s->pending.text, "event: job_finished\ndata: %s\n\n",
                     text ? text : "{}") >= 0)
            s->pending.len = strlen(s->pending.text);
        free(text);
        s->finished = 1;
    }
    pthread_mutex_unlock(&f->lock);
    udcs_http_add_header(req, "Cache-Control", "no-cache");
    udcs_http_reply_stream(req, 200, "text/event-stream", UDCS_HTTP_SIZE_UNKNOWN, events_read,
                           events_done, s);
}

static void do_job(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    const char *rest = "";
    pthread_mutex_lock(&f->lock);
    struct job *j = job_of(f, req, &rest);
    if (!j) {
        pthread_mutex_unlock(&f->lock);
        return;
    }
    if (strcmp(rest, "/events") == 0) {
        pthread_mutex_unlock(&f->lock);
        do_events(req, j);
        return;
    }
    if (strcmp(rest, "/grid") == 0) {
        farm_reply_grid(req, f, j);
    } else if (*rest) {
        udcs_http_reply_error(req, 404, "no such endpoint: %s", req->url);
    } else {
        size_t limit = query_size(req, "limit", DEFAULT_UNIT_PAGE, MAX_UNIT_PAGE);
        size_t offset = query_size(req, "offset", 0, SIZE_MAX);
        udcs_http_reply_json(req, 200, farm_job_json(f, j, 1, offset, limit,
                                                     udcs_http_req_query(req, "state")));
    }
    pthread_mutex_unlock(&f->lock);
}

static void do_cancel(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    pthread_mutex_lock(&f->lock);
    struct job *j = job_of(f, req, NULL);
    if (j && j->state != JOB_RUNNING) {
        udcs_http_reply_error(req, 409, "job %lld already %s", (long long)j->id,
                              farm_job_state_names[j->state]);
    } else if (j) {
        farm_db_begin(f);
        farm_job_cancel(f, j, "cancelled by a client");
        if (farm_db_commit(f) < 0)
            udcs_http_reply_error(req, 500, "the master could not write its state");
        else
            udcs_http_reply_json(req, 200, farm_job_json(f, j, 0, 0, 0, NULL));
    }
    pthread_mutex_unlock(&f->lock);
}

static void do_devices(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    pthread_mutex_lock(&f->lock);
    json_t *list = json_array();
    for (size_t i = 1; i < f->n_agents; i++)
        if (f->agents[i])
            json_array_append_new(list, farm_agent_json(f, f->agents[i]));
    pthread_mutex_unlock(&f->lock);
    udcs_http_reply_json(req, 200, json_pack("{s:o}", "devices", list));
}

/* ---- metrics --------------------------------------------------------------------------- */

static void do_metrics(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    struct udcs_buf b = UDCS_BUF_INIT(1 << 20);
    struct farm_metrics m;
    farm_metrics_gather(f, &m);
    const size_t *agents = m.agents, *units = m.units, *jobs = m.jobs;

    udcs_buf_append_str(&b, "# HELP udcs_agents Agents by state.\n# TYPE udcs_agents gauge\n");
    for (int s = 0; s < AGENT_STATE_COUNT; s++)
        udcs_buf_appendf(&b, "udcs_agents{state=\"%s\"} %zu\n", farm_agent_state_names[s],
                         agents[s]);
    udcs_buf_append_str(&b, "# HELP udcs_units Units by state.\n# TYPE udcs_units gauge\n");
    for (int s = 0; s < UNIT_STATE_COUNT; s++)
        udcs_buf_appendf(&b, "udcs_units{state=\"%s\"} %zu\n", farm_unit_state_names[s], units[s]);
    udcs_buf_append_str(&b, "# HELP udcs_jobs Jobs by state.\n# TYPE udcs_jobs gauge\n");
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        udcs_buf_appendf(&b, "udcs_jobs{state=\"%s\"} %zu\n", farm_job_state_names[s], jobs[s]);
    udcs_buf_appendf(&b,
                     "# HELP udcs_queue_depth Units waiting for an agent.\n"
                     "# TYPE udcs_queue_depth gauge\nudcs_queue_depth %zu\n"
                     "# HELP udcs_cache_hits_total Units completed from the action cache.\n"
                     "# TYPE udcs_cache_hits_total counter\nudcs_cache_hits_total %llu\n"
                     "# HELP udcs_units_completed_total Units completed (run or cached).\n"
                     "# TYPE udcs_units_completed_total counter\nudcs_units_completed_total %llu\n"
                     "# HELP udcs_units_failed_total Units that failed for good.\n"
                     "# TYPE udcs_units_failed_total counter\nudcs_units_failed_total %llu\n"
                     "# HELP udcs_retries_total Unit attempts that were retried.\n"
                     "# TYPE udcs_retries_total counter\nudcs_retries_total %llu\n"
                     "# HELP udcs_lease_expiries_total Leases that ran out (agent lost).\n"
                     "# TYPE udcs_lease_expiries_total counter\nudcs_lease_expiries_total %llu\n"
                     "# HELP udcs_leases_granted_total Units handed to agents.\n"
                     "# TYPE udcs_leases_granted_total counter\nudcs_leases_granted_total %llu\n"
                     "# HELP udcs_results_refused_total Late or superseded results refused.\n"
                     "# TYPE udcs_results_refused_total counter\nudcs_results_refused_total %llu\n"
                     "# HELP udcs_cas_bytes_in_total Raw bytes of new blobs received.\n"
                     "# TYPE udcs_cas_bytes_in_total counter\nudcs_cas_bytes_in_total %llu\n"
                     "# HELP udcs_cas_bytes_out_total Raw bytes of blobs sent.\n"
                     "# TYPE udcs_cas_bytes_out_total counter\nudcs_cas_bytes_out_total %llu\n"
                     "# HELP udcs_cas_stored_bytes Bytes held by the master's store.\n"
                     "# TYPE udcs_cas_stored_bytes gauge\nudcs_cas_stored_bytes %llu\n",
                     units[UNIT_QUEUED], (unsigned long long)m.cache_hits,
                     (unsigned long long)m.units_completed, (unsigned long long)m.units_failed,
                     (unsigned long long)m.retries, (unsigned long long)m.lease_expiries,
                     (unsigned long long)m.leases_granted, (unsigned long long)m.results_refused,
                     (unsigned long long)m.cas_bytes_in, (unsigned long long)m.cas_bytes_out,
                     (unsigned long long)m.cas_bytes_stored);
    udcs_http_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    udcs_buf_release(&b);
}

int farm_api_mount_client(struct farm *f, struct udcs_http_server *srv, int web)
{
    const struct udcs_http_route routes[] = {
        { .method = "POST", .path = "/api/submit", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_CLIENT, .max_body = f->opt.max_submit_bytes,
          .handle = do_submit, .ctx = f },
        { .method = "GET", .path = "/api/jobs", .auth = UDCS_HTTP_AUTH_READ, .handle = do_jobs,
          .ctx = f },
        { .method = "GET", .path = "/api/jobs/", .auth = UDCS_HTTP_AUTH_READ, .handle = do_job,
          .ctx = f },
        { .method = "DELETE", .path = "/api/jobs/", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_CLIENT, .handle = do_cancel, .ctx = f },
        { .method = "GET", .path = "/api/devices", .auth = UDCS_HTTP_AUTH_READ,
          .handle = do_devices, .ctx = f },
        { .method = "GET", .path = "/metrics", .auth = UDCS_HTTP_AUTH_READ, .handle = do_metrics,
          .ctx = f },
    };
    (void)web;   /* both ports serve all of it, writes included (token-gated alike) */
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = udcs_http_server_add_route(srv, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
