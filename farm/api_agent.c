/* farm/api_agent.c - the agent protocol, /api/agent/v1/:
 *   POST register   {"key","name","slots","info"}          -> {"agent_id","lease_ttl_ms","heartbeat_ms"}
 *   POST heartbeat  {"agent_id","leases":[{"unit","epoch"}],"draining","refresh"}
 *                                                           -> {"cancel":[{"unit","epoch"}]}
 *   POST lease      {"agent_id","slots","wait_ms"}          -> {"units":[...]} (long poll)
 *   POST result     {"agent_id","unit","epoch","outcome":"ok"|"error","result","error"}
 * Every lease carries an epoch; a result is accepted only for the lease it belongs to,
 * and only once, so a late or repeated report can never overwrite the accepted one. */
#include "farm/farm_internal.h"
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
/* The longest a lease request may wait for work. */
#define LEASE_WAIT_MAX_MS 60000
/* Most units handed out in one lease answer. */
#define LEASE_BATCH_MAX 64
/* Most slots an agent may declare. */
#define AGENT_SLOTS_MAX 1024
/* Bytes of a failed unit's stderr quoted in its error. */
#define STDERR_QUOTE_BYTES 2048

static json_t *parse_body(struct udcs_http_req *req)
{
    json_t *j;
    char why[256];
    if (udcs_json_parse(req->body.data ? req->body.data : "", req->body.len, &j, why,
                        sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "the body is not JSON: %s", why);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        udcs_http_reply_error(req, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* The agent a request speaks for; replies 404 (register again) when unknown. */
static struct agent *agent_of(struct farm *f, struct udcs_http_req *req, const json_t *body)
{
    json_t *id = json_object_get(body, "agent_id");
    struct agent *a = json_is_integer(id) ? farm_agent(f, json_integer_value(id)) : NULL;
    if (!a) {
        udcs_http_reply_error(req, 404, "unknown agent %s; register again",
                              json_is_integer(id) ? "id" : "(no agent_id given)");
        return NULL;
    }
    a->last_seen_ms = farm_now_ms();
    if (a->state == AGENT_LOST) {
        a->state = AGENT_IDLE;
        farm_agent_update_state(a);
        udcs_log_info("farm: agent %lld (%s) is back", (long long)a->id, a->name);
    }
    return a;
}

static void commit_or_500(struct farm *f, struct udcs_http_req *req)
{
    if (farm_db_commit(f) < 0)
        udcs_http_reply_error(req, 500, "the master could not write its state; see its log");
}

/* ---- register ----------------------------------------------------------------------------- */

static void do_register(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    if (!body)
        return;
    const char *key = json_string_value(json_object_get(body, "key"));
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *slots = json_object_get(body, "slots"), *info = json_object_get(body, "info");
    if (!key || !*key || strlen(key) > 200 || !name || !json_is_integer(slots) ||
        json_integer_value(slots) < 1 || json_integer_value(slots) > AGENT_SLOTS_MAX ||
        !json_is_object(info) || !json_is_string(json_object_get(info, "architecture")) ||
        !json_is_string(json_object_get(info, "os"))) {
        udcs_http_reply_error(req, 400, "register needs 'key' (a stable id), 'name', 'slots' "
                              "(1-%d) and 'info' with at least 'architecture' and 'os'",
                              AGENT_SLOTS_MAX);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&f->lock);
    farm_db_begin(f);
    struct agent *a = NULL;
    for (size_t i = 1; i < f->n_agents && !a; i++)
        if (f->agents[i] && strcmp(f->agents[i]->key, key) == 0)
            a = f->agents[i];
    uint64_t now = farm_now_ms();
    int fresh = !a;
    if (!a) {
        a = calloc(1, sizeof(*a));
        a->key = strdup(key);
        a->registered_ms = now;
    } else {
        /* A new process under a known identity: whatever its last life held is gone. */
        while (a->running > 0) {
            struct unit *u = farm_unit(f, a->leases[0]);
            if (!u || u->state != UNIT_LEASED) {
                a->leases[0] = a->leases[--a->running];
                continue;
            }
            farm_unit_failed(f, u, "the agent restarted while running it", 1, 1);
        }
    }
    free(a->name);
    a->name = strdup(name);
    json_decref(a->info);
    a->info = json_incref(info);
    a->slots = (int)json_integer_value(slots);
    a->last_seen_ms = now;
    a->draining = 0;
    a->state = AGENT_IDLE;
    free(a->class_match);   /* its capabilities may have changed */
    a->class_match = NULL;
    a->n_class_match = 0;
    int rc = farm_db_save_agent(f, a);
    if (rc == 0 && fresh)
        rc = farm_add_agent(f, a);
    if (rc < 0) {
        farm_db_commit(f);
        pthread_mutex_unlock(&f->lock);
        udcs_http_reply_error(req, 500, "registering failed: %s", udcs_strerror(rc));
        json_decref(body);
        return;
    }
    commit_or_500(f, req);
    udcs_log_info("farm: agent %lld (%s, %s/%s, %d slots) registered", (long long)a->id, a->name,
                  json_string_value(json_object_get(info, "architecture")),
                  json_string_value(json_object_get(info, "os")), a->slots);
    udcs_http_reply_json(req, 200, json_pack("{s:I, s:I, s:I}", "agent_id", (json_int_t)a->id,
                                             "lease_ttl_ms", (json_int_t)f->opt.lease_ttl_ms,
                                             "heartbeat_ms", (json_int_t)f->opt.heartbeat_ms));
    pthread_cond_broadcast(&f->work_cv);
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
}

/* ---- heartbeat ----------------------------------------------------------------------------- */

static void do_heartbeat(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    if (!body)
        return;
    json_t *leases = json_object_get(body, "leases");
    if (leases && !json_is_array(leases)) {
        udcs_http_reply_error(req, 400, "'leases' must be an array of {\"unit\",\"epoch\"}");
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&f->lock);
    struct agent *a = agent_of(f, req, body);
    if (!a) {
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return;
    }
    farm_db_begin(f);
    a->draining = json_is_true(json_object_get(body, "draining"));
    farm_agent_update_state(a);
    json_t *refresh = json_object_get(body, "refresh");
    if (json_is_object(refresh))
        json_object_update_existing(a->info, refresh);
    uint64_t now = farm_now_ms();
    json_t *cancel = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(leases, i, l) {
        json_t *id = json_object_get(l, "unit"), *epoch = json_object_get(l, "epoch");
        struct unit *u = json_is_integer(id) ? farm_unit(f, json_integer_value(id)) : NULL;
        if (u && json_is_integer(epoch) && u->state == UNIT_LEASED && u->agent_id == a->id &&
            u->epoch == (uint64_t)json_integer_value(epoch)) {
            u->lease_expires_ms = now + f->opt.lease_ttl_ms;
            continue;   /* renewed in memory: a restart extends leases anyway */
        }
        json_array_append(cancel, l);   /* superseded, cancelled or unknown: stop it */
    }
    farm_db_save_agent(f, a);
    commit_or_500(f, req);
    pthread_cond_broadcast(&f->work_cv);
    pthread_mutex_unlock(&f->lock);
    udcs_http_reply_json(req, 200, json_pack("{s:o, s:I}", "cancel", cancel, "lease_ttl_ms",
                                             (json_int_t)f->opt.lease_ttl_ms));
    json_decref(body);
}

/* ---- lease (long poll) --------------------------------------------------------------------- */

static json_t *unit_offer(struct farm *f, struct unit *u)
{
    char hex[CAS_HEX_LEN + 1];
    json_t *action = json_loads(u->action_json, 0, NULL);
    return json_pack("{s:I, s:I, s:I, s:i, s:s, s:o, s:I}", "unit", (json_int_t)u->id, "epoch",
                     (json_int_t)u->epoch, "job", (json_int_t)u->job->id, "index", u->index,
                     "action_digest", cas_digest_hex(&u->action_digest, hex), "action",
                     action ? action : json_null(), "lease_ttl_ms",
                     (json_int_t)f->opt.lease_ttl_ms);
}

static void do_lease(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    if (!body)
        return;
    json_t *slots = json_object_get(body, "slots"), *wait = json_object_get(body, "wait_ms");
    if (!json_is_integer(slots) || json_integer_value(slots) < 1 ||
        (wait && (!json_is_integer(wait) || json_integer_value(wait) < 0))) {
        udcs_http_reply_error(req, 400, "lease needs 'slots' (free slots, at least 1) and "
                              "optionally 'wait_ms'");
        json_decref(body);
        return;
    }
    size_t want = (size_t)json_integer_value(slots);
    if (want > LEASE_BATCH_MAX)
        want = LEASE_BATCH_MAX;
    uint64_t wait_ms = wait ? (uint64_t)json_integer_value(wait) : 0;
    if (wait_ms > LEASE_WAIT_MAX_MS)
        wait_ms = LEASE_WAIT_MAX_MS;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(wait_ms / 1000);
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&f->lock);
    struct agent *a = agent_of(f, req, body);
    struct unit *got[LEASE_BATCH_MAX];
    size_t n = 0;
    while (a && !f->stopping && !a->draining) {
        {
            farm_db_begin(f);
            n = farm_pick(f, a, got, want);
            if (n && farm_db_commit(f) < 0) {
                for (size_t i = 0; i < n; i++)   /* not durable: do not hand them out */
                    farm_unit_failed(f, got[i], "the master could not record the lease", 0, 1);
                n = 0;
                udcs_http_reply_error(req, 500, "the master could not write its state");
                break;
            }
            if (!n)
                farm_db_commit(f);
        }
        if (n || pthread_cond_timedwait(&f->work_cv, &f->lock, &deadline) != 0)
            break;
        a = farm_agent(f, a->id);
    }
    if (a && !req->replied) {
        json_t *units = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(units, unit_offer(f, got[i]));
        udcs_http_reply_json(req, 200, json_pack("{s:o}", "units", units));
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
}

/* ---- result ---------------------------------------------------------------------------------- */

void farm_agent_note_failure(struct farm *f, struct agent *a, struct job *j)
{
    if (!a)
        return;
    a->units_failed++;
    struct blocked *b = NULL;
    for (size_t i = 0; i < a->n_blocked && !b; i++)
        if (a->blocked[i].job_id == j->id)
            b = &a->blocked[i];
    if (!b) {
        struct blocked *v = realloc(a->blocked, (a->n_blocked + 1) * sizeof(*v));
        if (!v)
            return;
        a->blocked = v;
        b = &a->blocked[a->n_blocked++];
        b->job_id = j->id;
        b->failures = 0;
    }
    b->failures++;
    farm_db_save_blocklist(f, a, j->id, b->failures);
    farm_db_save_agent(f, a);
    if (b->failures == f->opt.blocklist_after) {
        udcs_log_warn("farm: agent %lld (%s) failed %d units of job %lld and is kept off it",
                      (long long)a->id, a->name, b->failures, (long long)j->id);
        farm_job_event(f, j, "agent_blocklisted",
                       json_pack("{s:I, s:s}", "agent", (json_int_t)a->id, "name", a->name));
    }
}

/* "exit status 2; stderr: ..." from a result that failed. */
static char *failure_text(struct farm *f, const struct cas_action_result *r)
{
    struct udcs_buf err = UDCS_BUF_INIT(64 * 1024 * 1024);
    struct udcs_buf msg = UDCS_BUF_INIT(STDERR_QUOTE_BYTES + 256);
    udcs_buf_appendf(&msg, "exit status %d", r->exit_code);
    if (r->stderr_digest.size && cas_store_get_bytes(f->cs, &r->stderr_digest, &err) == 0) {
        size_t n = err.len > STDERR_QUOTE_BYTES ? STDERR_QUOTE_BYTES : err.len;
        while (n && (err.data[n - 1] == '\n' || err.data[n - 1] == ' '))
            n--;
        udcs_buf_appendf(&msg, "; stderr: %.*s%s", (int)n, err.data,
                         err.len > STDERR_QUOTE_BYTES ? " [...]" : "");
    }
    udcs_buf_release(&err);
    return udcs_buf_detach(&msg, NULL);
}

/* Check the result record and that the master has every blob it names. */
static int check_result(struct farm *f, struct udcs_http_req *req, const json_t *result,
                        struct cas_action_result *r, char **text)
{
    char why[256];
    *text = result ? json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!*text || cas_action_result_from_json(*text, strlen(*text), r, why, sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "'result' is not an action result: %s",
                              *text ? why : "missing");
        return -1;
    }
    const struct cas_digest *need[2] = { &r->stdout_digest, &r->stderr_digest };
    for (size_t i = 0; i < 2 + r->n_outputs; i++) {
        const struct cas_digest *d = i < 2 ? need[i] : &r->outputs[i - 2].digest;
        if (!cas_store_has(f->cs, d)) {
            char hex[CAS_HEX_LEN + 1];
            udcs_http_reply_error(req, 409, "the result names blob %s (%s), which the master "
                                  "does not have; upload it first", cas_digest_hex(d, hex),
                                  i == 0 ? "stdout" : i == 1 ? "stderr" : r->outputs[i - 2].path);
            return -1;
        }
    }
    return 0;
}

/* The declared outputs the result lacks, or NULL. */
static const char *missing_output(const struct unit *u, const struct cas_action_result *r)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(u->spec, "outputs"), i, o) {
        int found = 0;
        for (size_t k = 0; k < r->n_outputs && !found; k++)
            found = strcmp(r->outputs[k].path, json_string_value(o)) == 0;
        if (!found)
            return json_string_value(o);
    }
    return NULL;
}

static void do_result(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    json_t *body = parse_body(req);
    if (!body)
        return;
    json_t *uid = json_object_get(body, "unit"), *epoch = json_object_get(body, "epoch");
    const char *outcome = json_string_value(json_object_get(body, "outcome"));
    if (!json_is_integer(uid) || !json_is_integer(epoch) || !outcome ||
        (strcmp(outcome, "ok") && strcmp(outcome, "error"))) {
        udcs_http_reply_error(req, 400, "result needs 'unit', 'epoch' and 'outcome' (\"ok\" "
                              "with 'result', or \"error\" with 'error')");
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&f->lock);
    struct agent *a = agent_of(f, req, body);
    struct unit *u = a ? farm_unit(f, json_integer_value(uid)) : NULL;
    if (a && !u)
        udcs_http_reply_error(req, 404, "no unit %lld", (long long)json_integer_value(uid));
    if (!u) {
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return;
    }
    uint64_t e = (uint64_t)json_integer_value(epoch);
    if (u->state != UNIT_LEASED || u->agent_id != a->id || u->epoch != e) {
        /* A superseded lease, a cancelled job, or a report already accepted: fencing. */
        f->results_refused++;
        udcs_http_reply_error(req, 409, "result refused: unit %lld is %s under lease epoch "
                              "%llu%s; this report is for epoch %llu", (long long)u->id,
                              farm_unit_state_names[u->state], (unsigned long long)u->epoch,
                              u->agent_id != a->id ? " of another agent" : "",
                              (unsigned long long)e);
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return;
    }
    struct cas_action_result r = { 0 };
    char *text = NULL;
    if (strcmp(outcome, "ok") == 0 && check_result(f, req, json_object_get(body, "result"), &r,
                                                   &text) < 0) {
        pthread_mutex_unlock(&f->lock);
        free(text);
        json_decref(body);
        return;
    }
    farm_db_begin(f);
    if (strcmp(outcome, "error") == 0) {
        const char *why = json_string_value(json_object_get(body, "error"));
        char msg[1024];
        snprintf(msg, sizeof(msg), "on agent %s: %s", a->name, why ? why : "an error");
        farm_agent_note_failure(f, a, u->job);
        farm_unit_failed(f, u, msg, 1, 1);
    } else if (r.exit_code != 0) {
        char *why = failure_text(f, &r);
        /* Keep what the command said (not in the action cache): `udcs run` replays it. */
        free(u->result_json);
        u->result_json = text;
        text = NULL;
        u->exit_code = r.exit_code;
        /* A job may ask not to retry a command that failed: it would fail again. */
        int retry = !json_is_false(json_object_get(u->job->spec, "retry_failed_commands"));
        if (retry)
            farm_agent_note_failure(f, a, u->job);
        farm_unit_failed(f, u, why ? why : "non-zero exit status", 1, retry);
        free(why);
    } else if (missing_output(u, &r)) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "declared output '%s' was not produced", missing_output(u, &r));
        farm_agent_note_failure(f, a, u->job);
        farm_unit_failed(f, u, msg, 1, 1);
    } else {
        farm_unit_done(f, u, text, 0);
    }
    commit_or_500(f, req);
    if (!req->replied)
        udcs_http_reply_json(req, 200, json_pack("{s:b}", "accepted", 1));
    pthread_cond_broadcast(&f->work_cv);
    pthread_mutex_unlock(&f->lock);
    cas_action_result_release(&r);
    free(text);
    json_decref(body);
}

int farm_api_mount_agent(struct farm *f, struct udcs_http_server *srv)
{
    const struct udcs_http_route routes[] = {
        { .method = "POST", .path = "/api/agent/v1/register", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_AGENT, .max_body = AGENT_BODY_MAX, .handle = do_register,
          .ctx = f },
        { .method = "POST", .path = "/api/agent/v1/heartbeat", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_AGENT, .max_body = AGENT_BODY_MAX, .handle = do_heartbeat,
          .ctx = f },
        { .method = "POST", .path = "/api/agent/v1/lease", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_AGENT, .max_body = AGENT_BODY_MAX, .handle = do_lease,
          .ctx = f },
        { .method = "POST", .path = "/api/agent/v1/result", .auth = UDCS_HTTP_AUTH_WRITE,
          .roles = UDCS_HTTP_ROLE_AGENT, .max_body = AGENT_BODY_MAX, .handle = do_result,
          .ctx = f },
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = udcs_http_server_add_route(srv, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
