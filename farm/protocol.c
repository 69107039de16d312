/* farm/protocol.c - the agent protocol's rules, apart from HTTP: parsing each request
 * (no state touched: these are what the fuzz target feeds) and applying it to the
 * master's state (with the lock held, inside the caller's transaction). The fencing rule
 * lives here: a result counts only for the lease it belongs to, and only once. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malformed submission or message: the reason in why, UDCS_EPROTO returned. */
#define bad(why, why_len, ...) udcs_fail(UDCS_EPROTO, (why), (why_len), __VA_ARGS__)

/* Bytes of a failed unit's stderr quoted in its error. */
#define STDERR_QUOTE_BYTES 2048

static int agent_id_of(const json_t *body, int64_t *id, char *why, size_t why_len)
{
    json_t *v = json_object_get(body, "agent_id");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return bad(why, why_len, "'agent_id' must be the id registration gave");
    *id = json_integer_value(v);
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------- */

int farm_parse_register(const json_t *body, struct farm_register_req *r, char *why,
                        size_t why_len)
{
    memset(r, 0, sizeof(*r));
    json_t *slots = json_object_get(body, "slots"), *info = json_object_get(body, "info");
    r->key = json_string_value(json_object_get(body, "key"));
    r->name = json_string_value(json_object_get(body, "name"));
    if (!json_is_object(body) || !r->key || !*r->key || strlen(r->key) > FARM_AGENT_KEY_MAX ||
        !r->name || !*r->name || strlen(r->name) > FARM_AGENT_NAME_MAX ||
        !json_is_integer(slots) || json_integer_value(slots) < 1 ||
        json_integer_value(slots) > FARM_AGENT_SLOTS_MAX || !json_is_object(info) ||
        !json_is_string(json_object_get(info, "architecture")) ||
        !json_is_string(json_object_get(info, "os")))
        return bad(why, why_len, "register needs 'key' (a stable id of at most %d bytes), "
                   "'name', 'slots' (1-%d) and 'info' with at least 'architecture' and 'os'",
                   FARM_AGENT_KEY_MAX, FARM_AGENT_SLOTS_MAX);
    r->slots = (int)json_integer_value(slots);
    r->info = info;
    return 0;
}

int farm_parse_heartbeat(const json_t *body, struct farm_heartbeat_req *r, char *why,
                         size_t why_len)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(body))
        return bad(why, why_len, "a heartbeat must be a JSON object");
    if (agent_id_of(body, &r->agent_id, why, why_len) < 0)
        return UDCS_EPROTO;
    r->leases = json_object_get(body, "leases");
    if (r->leases && !json_is_array(r->leases))
        return bad(why, why_len, "'leases' must be an array of {\"unit\", \"epoch\"}");
    size_t i;
    json_t *l;
    json_array_foreach(r->leases, i, l)
        if (!json_is_integer(json_object_get(l, "unit")) ||
            !json_is_integer(json_object_get(l, "epoch")))
            return bad(why, why_len, "lease %zu is not {\"unit\": N, \"epoch\": N}", i);
    json_t *d = json_object_get(body, "draining");
    if (d && !json_is_boolean(d))
        return bad(why, why_len, "'draining' must be true or false");
    r->draining = d && json_is_true(d);
    r->refresh = json_object_get(body, "refresh");
    if (r->refresh && !json_is_object(r->refresh))
        return bad(why, why_len, "'refresh' must be an object");
    r->load = json_object_get(body, "load");
    if (r->load) {
        json_t *cpu = json_object_get(r->load, "cpu");
        json_t *in = json_object_get(r->load, "bytes_in"), *out = json_object_get(r->load, "bytes_out");
        if (!json_is_object(r->load) ||
            (cpu && !json_is_null(cpu) &&
             (!json_is_number(cpu) || json_number_value(cpu) < 0 || json_number_value(cpu) > 1)) ||
            (in && (!json_is_integer(in) || json_integer_value(in) < 0)) ||
            (out && (!json_is_integer(out) || json_integer_value(out) < 0)))
            return bad(why, why_len, "'load' must be {\"cpu\": 0..1 or null, \"bytes_in\": N, "
                       "\"bytes_out\": N}");
    }
    return 0;
}

int farm_parse_lease(const json_t *body, struct farm_lease_req *r, char *why, size_t why_len)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(body))
        return bad(why, why_len, "a lease request must be a JSON object");
    if (agent_id_of(body, &r->agent_id, why, why_len) < 0)
        return UDCS_EPROTO;
    json_t *slots = json_object_get(body, "slots"), *wait = json_object_get(body, "wait_ms");
    if (!json_is_integer(slots) || json_integer_value(slots) < 1 ||
        (wait && (!json_is_integer(wait) || json_integer_value(wait) < 0)))
        return bad(why, why_len, "lease needs 'slots' (free slots, at least 1) and "
                   "optionally 'wait_ms'");
    r->slots = json_integer_value(slots) > FARM_LEASE_BATCH_MAX
                   ? FARM_LEASE_BATCH_MAX : (size_t)json_integer_value(slots);
    r->wait_ms = wait ? (uint64_t)json_integer_value(wait) : 0;
    if (r->wait_ms > FARM_LEASE_WAIT_MAX_MS)
        r->wait_ms = FARM_LEASE_WAIT_MAX_MS;
    return 0;
}

int farm_parse_result(const json_t *body, struct farm_result_req *r, char *why, size_t why_len)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(body))
        return bad(why, why_len, "a result must be a JSON object");
    if (agent_id_of(body, &r->agent_id, why, why_len) < 0)
        return UDCS_EPROTO;
    json_t *uid = json_object_get(body, "unit"), *epoch = json_object_get(body, "epoch");
    const char *outcome = json_string_value(json_object_get(body, "outcome"));
    if (!json_is_integer(uid) || !json_is_integer(epoch) || json_integer_value(epoch) < 0 ||
        !outcome || (strcmp(outcome, "ok") && strcmp(outcome, "error")))
        return bad(why, why_len, "result needs 'unit', 'epoch' and 'outcome' (\"ok\" with "
                   "'result', or \"error\" with 'error')");
    r->unit = json_integer_value(uid);
    r->epoch = (uint64_t)json_integer_value(epoch);
    r->ok = strcmp(outcome, "ok") == 0;
    r->error = json_string_value(json_object_get(body, "error"));
    json_t *infra = json_object_get(body, "infrastructure");
    if (infra && !json_is_boolean(infra))
        return bad(why, why_len, "'infrastructure' must be true or false");
    r->infra = infra && json_is_true(infra);
    if (!r->ok)
        return 0;
    json_t *res = json_object_get(body, "result");
    char *text = res ? json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char reason[256];
    int rc = text ? cas_action_result_from_json(text, strlen(text), &r->result, reason,
                                                sizeof(reason)) : UDCS_EPROTO;
    if (rc < 0) {
        free(text);
        return bad(why, why_len, "'result' is not an action result: %s",
                   text ? reason : "missing");
    }
    r->result_json = text;
    return 0;
}

void farm_result_req_release(struct farm_result_req *r)
{
    cas_action_result_release(&r->result);
    free(r->result_json);
    r->result_json = NULL;
}

/* ---- applying ------------------------------------------------------------------------------ */

struct agent *farm_agent_seen(struct farm *f, int64_t id)
{
    struct agent *a = farm_agent(f, id);
    if (!a)
        return NULL;
    a->last_seen_ms = farm_now_ms();
    if (a->state == AGENT_LOST) {
        a->state = AGENT_IDLE;
        farm_agent_update_state(a);
        udcs_log_info("farm: agent %lld (%s) is back", (long long)a->id, a->name);
    }
    return a;
}

int farm_agent_register(struct farm *f, const struct farm_register_req *r, struct agent **out)
{
    struct agent *a = NULL;
    for (size_t i = 1; i < f->n_agents && !a; i++)
        if (f->agents[i] && strcmp(f->agents[i]->key, r->key) == 0)
            a = f->agents[i];
    uint64_t now = farm_now_ms();
    int fresh = !a;
    if (!a) {
        a = calloc(1, sizeof(*a));
        if (!a || !(a->key = strdup(r->key))) {
            free(a);
            return -ENOMEM;
        }
        a->registered_ms = now;
        a->cpu = NAN;
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
    char *name = strdup(r->name);
    if (!name)
        return -ENOMEM;
    free(a->name);
    a->name = name;
    json_decref(a->info);
    a->info = json_deep_copy(r->info);
    a->slots = r->slots;
    a->last_seen_ms = now;
    a->draining = 0;
    a->state = AGENT_IDLE;
    free(a->class_match);   /* its capabilities may have changed */
    a->class_match = NULL;
    a->n_class_match = 0;
    int rc = farm_db_save_agent(f, a);
    if (rc == 0 && fresh)
        rc = farm_add_agent(f, a);
    if (rc < 0)
        return rc;
    udcs_log_info("farm: agent %lld (%s, %s/%s, %d slots) registered%s", (long long)a->id,
                  a->name, json_string_value(json_object_get(r->info, "architecture")),
                  json_string_value(json_object_get(r->info, "os")), a->slots,
                  a->admin_drained ? "; drained by an operator, it gets no work until enabled"
                                   : "");
    farm_agent_update_state(a);
    farm_event_agent(f, a);
    pthread_cond_broadcast(&f->work_cv);
    *out = a;
    return 0;
}

json_t *farm_agent_heartbeat(struct farm *f, struct agent *a, const struct farm_heartbeat_req *r)
{
    a->draining = r->draining;
    farm_agent_update_state(a);
    if (r->refresh)
        json_object_update_existing(a->info, r->refresh);
    uint64_t now = farm_now_ms();
    json_t *cancel = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(r->leases, i, l) {
        struct unit *u = farm_unit(f, json_integer_value(json_object_get(l, "unit")));
        uint64_t epoch = (uint64_t)json_integer_value(json_object_get(l, "epoch"));
        if (u && u->state == UNIT_LEASED && u->agent_id == a->id && u->epoch == epoch) {
            u->lease_expires_ms = now + f->opt.lease_ttl_ms;   /* memory: a restart renews anyway */
            continue;
        }
        json_array_append(cancel, l);   /* superseded, cancelled or unknown: stop it */
    }
    farm_agent_note_load(f, a, r->load, now);
    a->events_dirty = 1;
    farm_db_save_agent(f, a);
    pthread_cond_broadcast(&f->work_cv);   /* a draining agent's lease requests end */
    return cancel;
}

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

/* Whether the result lacks a declared output; its name goes to `name`. */
static int missing_output(const struct unit *u, const struct cas_action_result *r, char *name,
                          size_t name_len)
{
    json_t *spec = farm_unit_spec(u);
    size_t i;
    json_t *o;
    int missing = 0;
    json_array_foreach(json_object_get(spec, "outputs"), i, o) {
        int found = 0;
        for (size_t k = 0; k < r->n_outputs && !found; k++)
            found = strcmp(r->outputs[k].path, json_string_value(o)) == 0;
        if (!found) {
            snprintf(name, name_len, "%s", json_string_value(o));
            missing = 1;
            break;
        }
    }
    json_decref(spec);
    return missing;
}

int farm_accept_result(struct farm *f, struct agent *a, struct farm_result_req *r, int *status,
                       char *why, size_t why_len)
{
    struct unit *u = farm_unit(f, r->unit);
    if (!u) {
        *status = 404;
        return bad(why, why_len, "no unit %lld", (long long)r->unit);
    }
    if (u->state != UNIT_LEASED || u->agent_id != a->id || u->epoch != r->epoch) {
        /* A superseded lease, a cancelled job, or a report already accepted: fencing. */
        f->results_refused++;
        *status = 409;
        return bad(why, why_len, "result refused: unit %lld is %s under lease epoch %llu%s; "
                   "this report is for epoch %llu", (long long)u->id,
                   farm_unit_state_names[u->state], (unsigned long long)u->epoch,
                   u->agent_id != a->id ? " of another agent" : "",
                   (unsigned long long)r->epoch);
    }
    if (r->ok) {
        const struct cas_digest *need[2] = { &r->result.stdout_digest, &r->result.stderr_digest };
        for (size_t i = 0; i < 2 + r->result.n_outputs; i++) {
            const struct cas_digest *d = i < 2 ? need[i] : &r->result.outputs[i - 2].digest;
            if (!cas_store_has(f->cs, d)) {
                char hex[CAS_HEX_LEN + 1];
                *status = 409;
                return bad(why, why_len, "the result names blob %s (%s), which the master does "
                           "not have; upload it first", cas_digest_hex(d, hex),
                           i == 0 ? "stdout" : i == 1 ? "stderr" : r->result.outputs[i - 2].path);
            }
        }
    }
    char msg[1024];
    *status = 200;
    if (!r->ok) {
        snprintf(msg, sizeof(msg), "on agent %s: %s", a->name, r->error ? r->error : "an error");
        if (!r->infra)   /* the agent's own trouble is not a sign the job's units fail there */
            farm_agent_note_failure(f, a, u->job);
        return farm_unit_failed(f, u, msg, 1, 1);
    }
    if (r->result.exit_code != 0) {
        char *text = failure_text(f, &r->result);
        /* Keep what the command said (not in the action cache): `udcs run` replays it. */
        free(u->result_json);
        u->result_json = r->result_json;
        r->result_json = NULL;
        u->exit_code = r->result.exit_code;
        /* A job may ask not to retry a command that failed: it would fail again. */
        int retry = !json_is_false(json_object_get(u->job->spec, "retry_failed_commands"));
        if (retry)
            farm_agent_note_failure(f, a, u->job);
        int rc = farm_unit_failed(f, u, text ? text : "non-zero exit status", 1, retry);
        free(text);
        return rc;
    }
    char missing[512];
    if (missing_output(u, &r->result, missing, sizeof(missing))) {
        snprintf(msg, sizeof(msg), "declared output '%s' was not produced", missing);
        farm_agent_note_failure(f, a, u->job);
        return farm_unit_failed(f, u, msg, 1, 1);
    }
    return farm_unit_done(f, u, r->result_json, 0);
}

json_t *farm_unit_offer(struct farm *f, struct unit *u)
{
    char hex[CAS_HEX_LEN + 1];
    json_t *action = json_loads(u->action_json, 0, NULL);
    return json_pack("{s:I, s:I, s:I, s:i, s:s, s:o, s:I}", "unit", (json_int_t)u->id, "epoch",
                     (json_int_t)u->epoch, "job", (json_int_t)u->job->id, "index", u->index,
                     "action_digest", cas_digest_hex(&u->action_digest, hex), "action",
                     action ? action : json_null(), "lease_ttl_ms",
                     (json_int_t)f->opt.lease_ttl_ms);
}
