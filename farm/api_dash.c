/* farm/api_dash.c - the routes the dashboard adds to the API (both ports):
 *   GET  /api/jobs/{id}/grid            one letter per unit (see farm_unit_letter)
 *   POST /api/jobs/{id}/priority        {"priority": 1..10}       -> the job summary
 *   POST /api/jobs/{id}/retry           requeue the failed units  -> {"job", "retried"}
 *   POST /api/agents/{id}/drain|enable  operator drain, persisted -> the agent
 *   GET  /api/devices/{id}/series       an agent's load over the last 30 minutes
 *   GET  /api/metrics/series            the sampler's last hour (metrics.c)
 *   GET  /api/blobs/{digest}            a blob's raw bytes, for stdout/stderr and thumbnails
 *                                       (one Range of bytes: 206 with that part)
 *   GET  /api/events                    farm-wide server-sent events (events.c feeds them);
 *                                       ?units=JOB adds that job's `unit` events
 * The grid is answered from api_client.c's GET /api/jobs/ route, which owns that prefix. */
#include "farm/farm_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Action bodies are one small object. */
#define ACTION_BODY_MAX 4096
/* The largest blob GET /api/blobs/ sends: logs and thumbnails, not renders' payloads. */
#define BLOB_SEND_MAX (64u * 1024 * 1024)
/* Seconds between ": ping" comments on an idle farm event stream. */
#define FARM_EVENTS_PING_S 15
/* The most one read of a farm event stream gathers from the ring; the rest waits for the
 * next read. Without it a stream that fell the whole ring behind (8,192 events of up to a
 * few KB) copied tens of MB into one buffer per stalled client. */
#define FARM_EVENTS_READ_MAX (256u * 1024)

/* ---- parsing (no farm state: the fuzz target feeds these) ----------------------------------- */

int farm_parse_priority(const char *body, size_t len, int *priority, char *why, size_t why_len)
{
    json_t *j;
    if (udcs_json_parse(body, len, &j, why, why_len) < 0)
        return UDCS_EPROTO;
    json_t *p = json_object_get(j, "priority");
    int rc = 0;
    if (!json_is_object(j) || !json_is_integer(p) || json_integer_value(p) < 1 ||
        json_integer_value(p) > 10)
        rc = udcs_fail(UDCS_EPROTO, why, why_len,
                       "the body must be {\"priority\": N} with N a whole number from 1 to 10");
    else
        *priority = (int)json_integer_value(p);
    json_decref(j);
    return rc;
}

int farm_parse_event_id(const char *text, uint64_t *seq)
{
    if (!text || !*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 19)
        return -EINVAL;
    *seq = strtoull(text, NULL, 10);
    return 0;
}

const char *farm_blob_type(const char *asked)
{
    static const char *const allowed[] = { "text/plain", "image/png", "image/jpeg" };
    for (size_t i = 0; asked && i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (strcmp(asked, allowed[i]) == 0)
            return allowed[i];
    return asked && *asked ? NULL : "application/octet-stream";
}

/* One byte range of a Range header ("bytes=A-B", "bytes=A-", "bytes=-N") over a blob of
 * `size` bytes: 0 with *first and *len set, 1 when the header is absent or not one range
 * of bytes (the whole blob is sent, as RFC 9110 allows), -1 when it is unsatisfiable. */
static int range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 1;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {   /* the last N bytes */
        if (!isdigit((unsigned char)p[1]))
            return 1;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end)
            return 1;
        if (n == 0 || size == 0)
            return -1;
        *len = n < size ? n : size;
        *first = size - *len;
        return 0;
    }
    if (!isdigit((unsigned char)*p))
        return 1;
    unsigned long long a = strtoull(p, &end, 10), b = size ? size - 1 : 0;
    if (*end != '-')
        return 1;
    if (end[1]) {
        if (!isdigit((unsigned char)end[1]))
            return 1;
        b = strtoull(end + 1, &end, 10);
        if (*end || b < a)
            return 1;
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *first = a;
    *len = b - a + 1;
    return 0;
}

/* "17/priority" -> 17 and "/priority"; 0 when the path does not start with an id. */
static int64_t id_of(const char *subpath, const char **rest)
{
    char *end;
    long long id = strtoll(subpath, &end, 10);
    if (end == subpath || id < 1 || subpath[0] == '-' || subpath[0] == '+')
        return 0;
    *rest = end;
    return id;
}

/* ---- the grid ---------------------------------------------------------------------------- */

void farm_reply_grid(struct udcs_http_req *req, struct farm *f, struct job *j)
{
    char *states = malloc(j->n_units + 1);
    if (!states) {
        udcs_http_reply_error(req, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < j->n_units; i++)
        states[j->units[i]->index >= 0 && (size_t)j->units[i]->index < j->n_units
                   ? (size_t)j->units[i]->index : i] = farm_unit_letter(j->units[i]);
    states[j->n_units] = '\0';
    /* "seq": the first farm event this grid does not show, so that a page applies only the
     * unit events from there on (events.c runs under the same lock). */
    udcs_http_reply_json(req, 200, json_pack("{s:I, s:I, s:s, s:I}", "job", (json_int_t)j->id,
                                             "n_units", (json_int_t)j->n_units, "states", states,
                                             "seq", (json_int_t)f->next_fevent_seq));
    free(states);
}

/* ---- actions ------------------------------------------------------------------------------- */

static void do_job_action(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    const char *rest = "";
    int64_t id = id_of(req->subpath, &rest);
    int priority = 0;
    char why[512];
    if (id && strcmp(rest, "/priority") == 0 &&
        farm_parse_priority(req->body.data ? req->body.data : "", req->body.len, &priority, why,
                            sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "priority not changed: %s", why);
        return;
    }
    pthread_mutex_lock(&f->lock);
    struct job *j = farm_job(f, id);
    if (!id || (strcmp(rest, "/priority") != 0 && strcmp(rest, "/retry") != 0)) {
        udcs_http_reply_error(req, 404, "no such endpoint: POST %s", req->url);
    } else if (!j) {
        udcs_http_reply_error(req, 404, "no job %lld", (long long)id);
    } else if (priority) {
        int old = j->priority;
        farm_db_begin(f);
        farm_job_set_priority(f, j, priority);
        farm_db_save_job(f, j);
        if (farm_db_commit(f) < 0) {
            farm_job_set_priority(f, j, old);
            udcs_http_reply_error(req, 500, "the master could not write its state");
        } else {
            udcs_log_info("farm: job %lld priority %d -> %d", (long long)j->id, old, priority);
            farm_event_job(f, j);
            pthread_cond_broadcast(&f->work_cv);
            udcs_http_reply_json(req, 200, farm_job_json(f, j, 0, 0, 0, NULL));
        }
    } else if (j->state != JOB_FAILED || j->counts[UNIT_FAILED] == 0) {
        udcs_http_reply_error(req, 409, "job %lld has no failed unit to retry (it is %s)",
                              (long long)j->id, farm_job_state_names[j->state]);
    } else {
        farm_db_begin(f);
        int n = farm_job_retry(f, j);
        if (farm_db_commit(f) < 0 || n < 0)
            udcs_http_reply_error(req, 500, "the master could not write its state");
        else
            udcs_http_reply_json(req, 200, json_pack("{s:I, s:i}", "job", (json_int_t)j->id,
                                                     "retried", n));
    }
    pthread_mutex_unlock(&f->lock);
}

static void do_agent_action(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    const char *rest = "";
    int64_t id = id_of(req->subpath, &rest);
    int drain = strcmp(rest, "/drain") == 0;
    pthread_mutex_lock(&f->lock);
    struct agent *a = farm_agent(f, id);
    if (!id || (!drain && strcmp(rest, "/enable") != 0)) {
        udcs_http_reply_error(req, 404, "no such endpoint: POST %s", req->url);
    } else if (!a) {
        udcs_http_reply_error(req, 404, "no agent %lld", (long long)id);
    } else {
        int was = a->admin_drained;
        farm_db_begin(f);
        int rc = farm_agent_set_drained(f, a, drain);
        if (farm_db_commit(f) < 0 || rc < 0) {
            farm_agent_set_drained(f, a, was);
            udcs_http_reply_error(req, 500, "the master could not write its state");
        } else {
            udcs_http_reply_json(req, 200, farm_agent_json(f, a));
        }
    }
    pthread_mutex_unlock(&f->lock);
}

/* ---- series ------------------------------------------------------------------------------ */

static void do_device(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    const char *rest = "";
    int64_t id = id_of(req->subpath, &rest);
    pthread_mutex_lock(&f->lock);
    struct agent *a = farm_agent(f, id);
    if (!id || strcmp(rest, "/series") != 0)
        udcs_http_reply_error(req, 404, "no such endpoint: %s", req->url);
    else if (!a)
        udcs_http_reply_error(req, 404, "no agent %lld", (long long)id);
    else
        udcs_http_reply_json(req, 200, farm_agent_series_json(a, farm_now_ms()));
    pthread_mutex_unlock(&f->lock);
}

static void do_metrics_series(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    pthread_mutex_lock(&f->lock);
    json_t *j = farm_metrics_series_json(f);
    pthread_mutex_unlock(&f->lock);
    udcs_http_reply_json(req, 200, j);
}

/* ---- blobs -------------------------------------------------------------------------------- */

static void do_blob(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    struct cas_digest d;
    const char *type = farm_blob_type(udcs_http_req_query(req, "type"));
    if (cas_digest_parse(req->subpath, &d, NULL) < 0) {
        udcs_http_reply_error(req, 400, "'%s' is not a digest: expected %d lowercase hex "
                              "characters (XXH3-128), optionally /SIZE", req->subpath,
                              CAS_HEX_LEN);
        return;
    }
    if (!type) {
        udcs_http_reply_error(req, 400, "type '%s' is not served: text/plain, image/png or "
                              "image/jpeg", udcs_http_req_query(req, "type"));
        return;
    }
    /* The header says the raw size: refuse a large blob before reading any of it. */
    int fd = -1;
    struct cas_blob_header hdr;
    int rc = cas_store_open_stored(f->cs, &d, &fd, &hdr);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && hdr.digest.size > BLOB_SEND_MAX) {
        udcs_http_reply_error(req, 413, "blob %s holds %llu bytes; this route sends at most "
                              "%u (fetch it with udcs-cas get)", req->subpath,
                              (unsigned long long)hdr.digest.size, BLOB_SEND_MAX);
        return;
    }
    struct udcs_buf bytes = UDCS_BUF_INIT(BLOB_SEND_MAX);
    if (rc == 0)
        rc = cas_store_get_bytes(f->cs, &d, &bytes);
    if (rc == -ENOENT || rc == UDCS_ECORRUPT) {
        udcs_http_reply_error(req, 404, "no blob %s in the master's store", req->subpath);
    } else if (rc == UDCS_ETOOBIG) {
        udcs_http_reply_error(req, 413, "blob %s is over %u bytes", req->subpath, BLOB_SEND_MAX);
    } else if (rc < 0) {
        udcs_http_reply_error(req, 500, "reading blob %s failed: %s", req->subpath,
                              udcs_strerror(rc));
    } else {
        /* A digest names its bytes for ever. */
        udcs_http_add_header(req, "Cache-Control", "max-age=31536000, immutable");
        udcs_http_add_header(req, "X-Content-Type-Options", "nosniff");
        udcs_http_add_header(req, "Accept-Ranges", "bytes");
        /* A range: the page shows the tail of a long log without taking all of it. */
        uint64_t first = 0, len = bytes.len;
        int r = range_parse(udcs_http_req_header(req, "Range"), bytes.len, &first, &len);
        char cr[80];
        if (r < 0) {
            snprintf(cr, sizeof(cr), "bytes */%zu", bytes.len);
            udcs_http_add_header(req, "Content-Range", cr);
            udcs_http_reply_error(req, 416, "blob %s holds %zu bytes: range '%s' is outside "
                                  "it", req->subpath, bytes.len,
                                  udcs_http_req_header(req, "Range"));
        } else if (r == 0) {
            snprintf(cr, sizeof(cr), "bytes %llu-%llu/%zu", (unsigned long long)first,
                     (unsigned long long)(first + len - 1), bytes.len);
            udcs_http_add_header(req, "Content-Range", cr);
            udcs_http_reply(req, 206, type, bytes.data + first, (size_t)len);
        } else {
            udcs_http_reply(req, 200, type, bytes.data ? bytes.data : "", bytes.len);
        }
    }
    udcs_buf_release(&bytes);
}

/* ---- farm-wide events -------------------------------------------------------------------------- */

/* Sent, without an id, to a stream that missed events (it fell more than the ring behind,
 * or resumed from an event the ring no longer holds): the page re-reads its data. A gap
 * in the ids says nothing, since a stream skips the other jobs' `unit` events. */
#define FARM_EVENTS_RESYNC "event: resync\ndata: {}\n\n"

struct farm_stream {
    struct farm *f;
    int64_t units_job;     /* ?units=: the job whose `unit` events this stream wants, or 0 */
    uint64_t next;         /* next event sequence to send */
    struct farm_sse_text pending;
};

static long farm_events_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct farm_stream *s = arg;
    struct farm *f = s->f;
    if (farm_sse_drained(&s->pending)) {
        struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
        pthread_mutex_lock(&f->lock);
        struct timespec t = udcs_deadline_after_ms(FARM_EVENTS_PING_S * 1000);
        while (s->next >= f->next_fevent_seq && !f->stopping &&
               pthread_cond_timedwait(&f->event_cv, &f->lock, &t) == 0)
            ;
        if (s->next + FARM_EVENTS_KEPT < f->next_fevent_seq) {
            s->next = f->next_fevent_seq - FARM_EVENTS_KEPT;   /* too slow: skip ahead */
            udcs_buf_append_str(&out, FARM_EVENTS_RESYNC);
        }
        while (s->next < f->next_fevent_seq && out.len < FARM_EVENTS_READ_MAX) {
            const struct farm_event *e = &f->fevents[s->next % FARM_EVENTS_KEPT];
            if (e->seq == s->next && e->text && (!e->unit_job || e->unit_job == s->units_job))
                udcs_buf_append_str(&out, e->text);
            s->next++;
        }
        int stopping = f->stopping;
        pthread_mutex_unlock(&f->lock);
        if (stopping) {   /* the farm stops: end the stream, the browser reconnects later */
            udcs_buf_release(&out);
            return 0;
        }
        if (!out.len)   /* also how a client that went away is noticed: the write fails */
            udcs_buf_append_str(&out, ": ping\n\n");
        s->pending.text = udcs_buf_detach(&out, &s->pending.len);
        if (!s->pending.text)
            return -1;
    }
    return farm_sse_copy(&s->pending, buf, max);
}

static void farm_events_done(void *arg)
{
    struct farm_stream *s = arg;
    free(s->pending.text);
    free(s);
}

static void do_farm_events(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    struct farm_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        udcs_http_reply_error(req, 500, "out of memory");
        return;
    }
    s->f = f;
    const char *units = udcs_http_req_query(req, "units");
    const char *rest = "";
    if (units && (!(s->units_job = id_of(units, &rest)) || *rest)) {
        free(s);
        udcs_http_reply_error(req, 400, "units=%s is not a job id (a whole number from 1)",
                              units);
        return;
    }
    uint64_t last;
    int resume = farm_parse_event_id(udcs_http_req_header(req, "Last-Event-ID"), &last) == 0;
    pthread_mutex_lock(&f->lock);
    /* A new client starts from now (it reads the state from the API first); a client
     * that reconnects goes on after the last event it saw, from the oldest kept if it
     * was away too long, or from now if that number is not from this ring. */
    s->next = f->next_fevent_seq;
    if (resume && last < f->next_fevent_seq)
        s->next = last + 1;
    pthread_mutex_unlock(&f->lock);
    udcs_http_add_header(req, "Cache-Control", "no-cache");
    udcs_http_add_header(req, "X-Accel-Buffering", "no");
    /* "retry" tells EventSource how soon to reconnect after the master restarts */
    s->pending.text = strdup("retry: 2000\n\n");
    s->pending.len = s->pending.text ? strlen(s->pending.text) : 0;
    udcs_http_reply_stream(req, 200, "text/event-stream", UDCS_HTTP_SIZE_UNKNOWN,
                           farm_events_read, farm_events_done, s);
}

int farm_api_mount_dash(struct farm *f, struct udcs_http_server *srv)
{
    const struct udcs_http_route routes[] = {
        { .method = "POST", .path = "/api/jobs/", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_CLIENT, .max_body = ACTION_BODY_MAX,
          .handle = do_job_action, .ctx = f },
        { .method = "POST", .path = "/api/agents/", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_CLIENT, .max_body = ACTION_BODY_MAX,
          .handle = do_agent_action, .ctx = f },
        { .method = "GET", .path = "/api/devices/", .auth = UDCS_HTTP_AUTH_READ,
          .handle = do_device, .ctx = f },
        { .method = "GET", .path = "/api/metrics/series", .auth = UDCS_HTTP_AUTH_READ,
          .handle = do_metrics_series, .ctx = f },
        { .method = "GET", .path = "/api/blobs/", .auth = UDCS_HTTP_AUTH_READ,
          .handle = do_blob, .ctx = f },
        /* EventSource sends no headers: under --auth-reads the token may come as ?token= */
        { .method = "GET", .path = "/api/events", .auth = UDCS_HTTP_AUTH_READ,
          .query_token = 1, .handle = do_farm_events, .ctx = f },
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = udcs_http_server_add_route(srv, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
