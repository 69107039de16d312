/* farm/api_agent.c - the agent protocol over HTTP, /api/agent/v1/ (the rules are in
 * protocol.c):
 *   POST register   {"key","name","slots","info"}          -> {"agent_id","lease_ttl_ms","heartbeat_ms"}
 *   POST heartbeat  {"agent_id","leases":[{"unit","epoch"}],"draining","refresh"}
 *                                                           -> {"cancel":[{"unit","epoch"}]}
 *   POST lease      {"agent_id","slots","wait_ms"}          -> {"units":[...]} (long poll)
 *   POST result     {"agent_id","unit","epoch","outcome":"ok"|"error","result","error"} */
#include "farm/farm_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Agent requests are small; results carry a record with output digests. */
#define AGENT_BODY_MAX (4u * 1024 * 1024)

static json_t *parse_body(struct udcs_http_req *req)
{
    json_t *j;
    char why[256];
    if (udcs_json_parse(req->body.data ? req->body.data : "", req->body.len, &j, why,
                        sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "the body is not JSON: %s", why);
        return NULL;
    }
    return j;
}

/* The agent a request speaks for (with the lock held); replies 404 when unknown. */
static struct agent *agent_of(struct farm *f, struct udcs_http_req *req, int64_t id)
{
    struct agent *a = farm_agent_seen(f, id);
    if (!a)
        udcs_http_reply_error(req, 404, "unknown agent %lld; register again", (long long)id);
    return a;
}

static void do_register(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    struct farm_register_req r;
    char why[512];
    if (!body)
        return;
    if (farm_parse_register(body, &r, why, sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "%s", why);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&f->lock);
    struct agent *a = NULL;
    int rc = farm_db_begin(f);
    if (rc == 0)
        rc = farm_agent_register(f, &r, &a);
    if (rc == 0)
        rc = farm_db_commit(f);
    else
        farm_db_commit(f);
    if (rc < 0)
        udcs_http_reply_error(req, 500, "registering failed: %s", udcs_strerror(rc));
    else
        udcs_http_reply_json(req, 200, json_pack("{s:I, s:I, s:I}", "agent_id",
                                                 (json_int_t)a->id, "lease_ttl_ms",
                                                 (json_int_t)f->opt.lease_ttl_ms,
                                                 "heartbeat_ms",
                                                 (json_int_t)f->opt.heartbeat_ms));
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
}

static void do_heartbeat(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    struct farm_heartbeat_req r;
    char why[512];
    if (!body)
        return;
    if (farm_parse_heartbeat(body, &r, why, sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "%s", why);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&f->lock);
    struct agent *a = agent_of(f, req, r.agent_id);
    if (a) {
        farm_db_begin(f);
        json_t *cancel = farm_agent_heartbeat(f, a, &r);
        if (farm_db_commit(f) < 0)
            udcs_http_reply_error(req, 500, "the master could not write its state");
        udcs_http_reply_json(req, 200, json_pack("{s:o, s:I}", "cancel", cancel, "lease_ttl_ms",
                                                 (json_int_t)f->opt.lease_ttl_ms));
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
}

/* Long poll: wait until a unit is there for this agent, the wait is over, the agent
 * drains or the master stops. Leases are durable before they are handed out. */
static void do_lease(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    struct farm_lease_req r;
    char why[512];
    if (!body)
        return;
    if (farm_parse_lease(body, &r, why, sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "%s", why);
        json_decref(body);
        return;
    }
    struct timespec deadline = udcs_deadline_after_ms(r.wait_ms);
    pthread_mutex_lock(&f->lock);
    struct agent *a = agent_of(f, req, r.agent_id);
    struct unit *got[FARM_LEASE_BATCH_MAX];
    size_t n = 0;
    while (a && !f->stopping && !a->draining) {
        farm_db_begin(f);
        n = farm_pick(f, a, got, r.slots);
        if (farm_db_commit(f) < 0 && n) {
            for (size_t i = 0; i < n; i++)   /* not durable: do not hand them out */
                farm_unit_failed(f, got[i], "the master could not record the lease", 0, 1);
            n = 0;
            udcs_http_reply_error(req, 500, "the master could not write its state");
            break;
        }
        if (n || pthread_cond_timedwait(&f->work_cv, &f->lock, &deadline) != 0)
            break;
        a = farm_agent(f, r.agent_id);
    }
    if (a && !req->replied) {
        json_t *units = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(units, farm_unit_offer(f, got[i]));
        udcs_http_reply_json(req, 200, json_pack("{s:o}", "units", units));
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
}

static void do_result(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    struct farm_result_req r;
    char why[1024];
    if (!body)
        return;
    if (farm_parse_result(body, &r, why, sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "%s", why);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&f->lock);
    struct agent *a = agent_of(f, req, r.agent_id);
    if (a) {
        int status = 500;
        farm_db_begin(f);
        int rc = farm_accept_result(f, a, &r, &status, why, sizeof(why));
        if (farm_db_commit(f) < 0)
            udcs_http_reply_error(req, 500, "the master could not write its state");
        else if (rc < 0)
            udcs_http_reply_error(req, (unsigned)status, "%s", why);
        else
            udcs_http_reply_json(req, 200, json_pack("{s:b}", "accepted", 1));
        pthread_cond_broadcast(&f->work_cv);
    }
    pthread_mutex_unlock(&f->lock);
    farm_result_req_release(&r);
    json_decref(body);
}

int farm_api_mount_agent(struct farm *f, struct udcs_http_server *srv)
{
    const char *paths[] = { "/api/agent/v1/register", "/api/agent/v1/heartbeat",
                            "/api/agent/v1/lease", "/api/agent/v1/result" };
    void (*handlers[])(struct udcs_http_req *) = { do_register, do_heartbeat, do_lease,
                                                   do_result };
    for (size_t i = 0; i < 4; i++) {
        struct udcs_http_route route = { .method = "POST", .path = paths[i],
                                         .auth = UDCS_HTTP_AUTH_WRITE,
                                         .roles = UDCS_HTTP_ROLE_AGENT, .max_body = AGENT_BODY_MAX,
                                         .handle = handlers[i], .ctx = f };
        int rc = udcs_http_server_add_route(srv, &route);
        if (rc < 0)
            return rc;
    }
    return 0;
}
