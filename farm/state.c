/* farm/state.c - the master's model and its transitions: jobs, units, agents in memory,
 * each change also written to the database in the caller's transaction. Every function
 * here runs with farm.lock held. */
#include "farm/farm_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const farm_unit_state_names[UNIT_STATE_COUNT] = {
    "waiting", "queued", "running", "done", "failed", "cancelled"
};
const char *const farm_job_state_names[JOB_STATE_COUNT] = { "running", "done", "failed",
                                                            "cancelled" };
const char *const farm_agent_state_names[AGENT_STATE_COUNT] = { "idle", "busy", "draining",
                                                                "lost" };

uint64_t farm_now_ms(void)
{
    return udcs_wall_ms();   /* leases are stored, so they must survive a restart */
}

/* Grow a by-id table so index `id` exists. */
static int grow_table(void ***table, size_t *cap, int64_t id)
{
    if ((size_t)id < *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n <= (size_t)id)
        n *= 2;
    void **t = realloc(*table, n * sizeof(**table));
    if (!t)
        return -ENOMEM;
    memset(t + *cap, 0, (n - *cap) * sizeof(*t));
    *table = t;
    *cap = n;
    return 0;
}

struct job *farm_job(struct farm *f, int64_t id)
{
    return id > 0 && (size_t)id < f->cap_jobs ? f->jobs[id] : NULL;
}

struct unit *farm_unit(struct farm *f, int64_t id)
{
    return id > 0 && (size_t)id < f->cap_units ? f->units[id] : NULL;
}

struct agent *farm_agent(struct farm *f, int64_t id)
{
    return id > 0 && (size_t)id < f->cap_agents ? f->agents[id] : NULL;
}

int farm_add_job(struct farm *f, struct job *j)
{
    if (grow_table((void ***)&f->jobs, &f->cap_jobs, j->id) < 0)
        return -ENOMEM;
    f->jobs[j->id] = j;
    if ((size_t)j->id >= f->n_jobs)
        f->n_jobs = (size_t)j->id + 1;
    return 0;
}

int farm_add_agent(struct farm *f, struct agent *a)
{
    if (grow_table((void ***)&f->agents, &f->cap_agents, a->id) < 0)
        return -ENOMEM;
    f->agents[a->id] = a;
    if ((size_t)a->id >= f->n_agents)
        f->n_agents = (size_t)a->id + 1;
    return 0;
}

static int append_id(int64_t **v, size_t *n, int64_t id)
{
    int64_t *t = realloc(*v, (*n + 1) * sizeof(*t));
    if (!t)
        return -ENOMEM;
    t[(*n)++] = id;
    *v = t;
    return 0;
}

json_t *farm_unit_spec(const struct unit *u)
{
    return json_loads(u->spec, 0, NULL);
}

int farm_add_unit(struct farm *f, struct unit *u)
{
    struct job *j = u->job;
    char why[256];
    if (grow_table((void ***)&f->units, &f->cap_units, u->id) < 0)
        return -ENOMEM;
    json_t *spec = farm_unit_spec(u);
    int rc = spec ? farm_class_for(f, json_object_get(spec, "requirements"), &u->class_id, why,
                                   sizeof(why)) : -ENOMEM;
    if (json_object_get(spec, "pin_toolchain"))
        j->pin_pending = 1;
    json_decref(spec);
    if (rc < 0) {
        udcs_log_error("farm: unit %lld: %s", (long long)u->id, rc == -ENOMEM ? "out of memory" : why);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    struct unit **units = realloc(j->units, (j->n_units + 1) * sizeof(*units));
    if (!units)
        return -ENOMEM;
    j->units = units;
    j->units[j->n_units++] = u;
    f->units[u->id] = u;
    if ((size_t)u->id >= f->n_units)
        f->n_units = (size_t)u->id + 1;
    j->counts[u->state]++;
    u->deps_left = 0;
    for (size_t i = 0; i < u->n_deps; i++) {
        struct unit *d = farm_unit(f, u->deps[i]);
        if (!d)
            return -EINVAL;
        if (append_id(&d->dependents, &d->n_dependents, u->id) < 0)
            return -ENOMEM;
        if (d->state != UNIT_DONE)
            u->deps_left++;
    }
    return 0;
}

void farm_agent_update_state(struct agent *a)
{
    if (a->state == AGENT_LOST)
        return;
    a->state = a->draining || a->admin_drained ? AGENT_DRAINING
               : a->running                       ? AGENT_BUSY : AGENT_IDLE;
}

int farm_agent_hold(struct agent *a, int64_t id)
{
    int64_t *l = realloc(a->leases, (size_t)(a->running + 1) * sizeof(*l));
    if (!l)
        return -ENOMEM;
    a->leases = l;
    a->leases[a->running++] = id;
    farm_agent_update_state(a);
    return 0;
}

static void agent_release(struct agent *a, int64_t id)
{
    for (int i = 0; i < a->running; i++) {
        if (a->leases[i] == id) {
            a->leases[i] = a->leases[--a->running];
            break;
        }
    }
    farm_agent_update_state(a);
}

void farm_set_unit_state(struct farm *f, struct unit *u, enum unit_state s)
{
    if (u->state == s)
        return;
    if (u->state == UNIT_LEASED) {
        struct agent *a = farm_agent(f, u->agent_id);
        if (a)
            agent_release(a, u->id);
    }
    u->job->counts[u->state]--;
    u->job->counts[s]++;
    u->state = s;
    if (s == UNIT_DONE || s == UNIT_FAILED || s == UNIT_CANCELLED) {
        free(u->action_json);   /* only lease offers need it; the database keeps it */
        u->action_json = NULL;
    }
    farm_event_unit(f, u);
}

/* ---- events ------------------------------------------------------------------------------ */

void farm_job_event(struct farm *f, struct job *j, const char *event, json_t *data)
{
    if (!data)
        data = json_object();
    json_object_set_new(data, "job", json_integer(j->id));
    json_object_set_new(data, "done", json_integer((json_int_t)j->counts[UNIT_DONE]));
    json_object_set_new(data, "total", json_integer((json_int_t)j->n_units));
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (!text)
        return;
    uint64_t seq = j->next_event_seq++;
    struct job_event *e = &j->events[seq % JOB_EVENTS_KEPT];
    free(e->text);
    e->seq = seq;
    e->text = NULL;
    if (asprintf(&e->text, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)seq, event,
                 text) < 0)
        e->text = NULL;
    free(text);
    pthread_cond_broadcast(&f->event_cv);
}

void farm_unit_event(struct farm *f, struct unit *u, const char *event, json_t *extra)
{
    json_t *d = extra ? extra : json_object();
    json_object_set_new(d, "unit", json_integer(u->id));
    json_object_set_new(d, "index", json_integer(u->index));
    json_t *spec = farm_unit_spec(u);
    if (json_object_get(spec, "name"))
        json_object_set(d, "name", json_object_get(spec, "name"));
    json_decref(spec);
    json_object_set_new(d, "state", json_string(farm_unit_state_names[u->state]));
    if (u->agent_id)
        json_object_set_new(d, "agent", json_integer(u->agent_id));
    farm_job_event(f, u->job, event, d);
}

/* ---- transitions ---------------------------------------------------------------------------- */

static void finish_job(struct farm *f, struct job *j, enum job_state s, const char *why)
{
    if (j->state != JOB_RUNNING)
        return;
    j->state = s;
    j->finished_ms = farm_now_ms();
    free(j->error);
    j->error = why ? strdup(why) : NULL;
    for (size_t i = 0; i < j->n_units; i++) {
        struct unit *u = j->units[i];
        if (u->state == UNIT_QUEUED)
            farm_dequeue(f, u);
        if (u->state == UNIT_WAITING || u->state == UNIT_QUEUED || u->state == UNIT_LEASED) {
            farm_set_unit_state(f, u, UNIT_CANCELLED);
            farm_db_save_unit(f, u);
        }
    }
    j->callback_pending = j->callback_url != NULL;
    farm_db_save_job(f, j);
    json_t *d = json_pack("{s:s}", "state", farm_job_state_names[s]);
    if (why)
        json_object_set_new(d, "error", json_string(why));
    farm_job_event(f, j, "job_finished", d);
    udcs_log_info("farm: job %lld %s (%zu units, %zu from cache)%s%s", (long long)j->id,
                  farm_job_state_names[s], j->n_units, j->cache_hits, why ? ": " : "",
                  why ? why : "");
    pthread_cond_broadcast(&f->work_cv);   /* wakes the callback sender */
}

void farm_job_check_end(struct farm *f, struct job *j)
{
    if (j->state == JOB_RUNNING && j->counts[UNIT_DONE] == j->n_units)
        finish_job(f, j, JOB_DONE, NULL);
}

void farm_job_cancel(struct farm *f, struct job *j, const char *why)
{
    finish_job(f, j, JOB_CANCELLED, why);
}

static int exit_code_of(const char *result_json);

/* Queue a successful result for the master's action cache, so the same action anywhere
 * later completes without running. */
static void remember_result(struct farm *f, struct unit *u, const char *result_json)
{
    if (u->has_action && exit_code_of(result_json) == 0)
        farm_ac_enqueue(f, &u->action_digest, result_json);
}

static int exit_code_of(const char *result_json)
{
    json_t *j = json_loads(result_json, 0, NULL);
    int code = json_is_integer(json_object_get(j, "exit_code"))
                   ? (int)json_integer_value(json_object_get(j, "exit_code")) : -1;
    json_decref(j);
    return code;
}

/* Units whose last dependency just finished become ready, breadth first (a long chain
 * must not recurse). */
static void release_dependents(struct farm *f, struct unit *done)
{
    struct unit **work = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < done->n_dependents; i++) {
        struct unit *d = farm_unit(f, done->dependents[i]);
        if (!d || d->deps_left == 0 || --d->deps_left > 0 || d->state != UNIT_WAITING)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct unit **w = realloc(work, cap * sizeof(*w));
            if (!w)
                break;
            work = w;
        }
        work[n++] = d;
    }
    for (size_t i = 0; i < n; i++)
        farm_unit_ready(f, work[i]);
    free(work);
}

int farm_unit_done(struct farm *f, struct unit *u, const char *result_json, int cached)
{
    struct job *j = u->job;
    char *copy = strdup(result_json);
    if (!copy)
        return -ENOMEM;
    free(u->result_json);
    u->result_json = copy;
    u->exit_code = exit_code_of(result_json);
    u->cached = cached;
    u->finished_ms = farm_now_ms();
    free(u->error);
    u->error = NULL;
    struct agent *a = cached ? NULL : farm_agent(f, u->agent_id);
    farm_set_unit_state(f, u, UNIT_DONE);
    if (cached) {
        j->cache_hits++;
        f->cache_hits++;
    } else {
        remember_result(f, u, result_json);
        if (a)
            a->units_done++;   /* written with the agent's next heartbeat */
    }
    f->units_completed++;
    farm_db_save_unit(f, u);
    if (cached)
        farm_db_save_job(f, j);   /* the job's own row changes only for its counters */
    /* with the outputs, so a client can fetch them without asking for the unit */
    json_t *result = json_loads(result_json, 0, NULL), *extra;
    extra = json_pack("{s:b, s:i}", "cached", cached, "exit_code", u->exit_code);
    if (extra && json_object_get(result, "outputs"))
        json_object_set(extra, "outputs", json_object_get(result, "outputs"));
    json_decref(result);
    farm_unit_event(f, u, "unit_finished", extra);
    release_dependents(f, u);
    farm_job_check_end(f, j);
    return 0;
}

int farm_unit_ready(struct farm *f, struct unit *u)
{
    char why[512];
    if (u->job->state != JOB_RUNNING)
        return 0;
    if (farm_resolve_action(f, u, why, sizeof(why)) < 0)
        return farm_unit_failed(f, u, why, 0, 0);   /* the inputs are not there: no retry */
    const char *pending = farm_ac_pending(f, &u->action_digest);
    if (pending)   /* done moments ago, not yet in the cache file */
        return farm_unit_done(f, u, pending, 1);
    struct cas_action_result r;
    if (cas_store_ac_get(f->cs, &u->action_digest, &r) == 0) {
        int complete = cas_store_has(f->cs, &r.stdout_digest) &&
                       cas_store_has(f->cs, &r.stderr_digest);
        for (size_t i = 0; complete && i < r.n_outputs; i++)
            complete = cas_store_has(f->cs, &r.outputs[i].digest);
        struct udcs_buf text = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
        int rc = complete ? cas_action_result_to_json(&r, &text) : -ENOENT;
        cas_action_result_release(&r);
        if (rc == 0) {
            rc = farm_unit_done(f, u, text.data, 1);
            udcs_buf_release(&text);
            return rc;
        }
        udcs_buf_release(&text);
    }
    farm_set_unit_state(f, u, UNIT_QUEUED);
    u->queued_ms = farm_now_ms();
    farm_enqueue(f, u);
    farm_db_save_unit(f, u);
    pthread_cond_broadcast(&f->work_cv);
    return 0;
}

uint64_t farm_retry_delay_ms(const struct farm_options *o, int attempts)
{
    /* Doubles with each attempt: 1 s, 2 s, 4 s ... by default, up to the cap. The cap
     * is checked before each doubling, so no shift can overflow. */
    uint64_t delay = o->backoff_ms, max = o->backoff_max_ms;
    for (int i = 1; i < attempts && delay < max; i++)
        delay = delay > max / 2 ? max : delay * 2;
    return delay < max ? delay : max;
}

int farm_unit_failed(struct farm *f, struct unit *u, const char *why, int count_attempt,
                     int may_retry)
{
    struct job *j = u->job;
    if (count_attempt)
        u->attempts++;
    free(u->error);
    u->error = strdup(why);
    u->finished_ms = farm_now_ms();
    if (may_retry && u->attempts < u->max_attempts && j->state == JOB_RUNNING) {
        uint64_t delay = farm_retry_delay_ms(&f->opt, u->attempts);
        farm_set_unit_state(f, u, UNIT_QUEUED);
        u->not_before_ms = farm_now_ms() + delay;
        u->queued_ms = farm_now_ms();
        j->retries++;
        f->retries++;
        if (f->n_delayed == f->cap_delayed) {
            size_t cap = f->cap_delayed ? f->cap_delayed * 2 : 64;
            struct unit **d = realloc(f->delayed, cap * sizeof(*d));
            if (!d)
                return -ENOMEM;
            f->delayed = d;
            f->cap_delayed = cap;
        }
        f->delayed[f->n_delayed++] = u;
        farm_db_save_unit(f, u);
        farm_db_save_job(f, j);
        farm_unit_event(f, u, "unit_retry",
                        json_pack("{s:s, s:i, s:i, s:I}", "error", why, "attempt", u->attempts,
                                  "max_attempts", u->max_attempts, "retry_in_ms",
                                  (json_int_t)delay));
        return 0;
    }
    farm_set_unit_state(f, u, UNIT_FAILED);
    f->units_failed++;
    farm_db_save_unit(f, u);
    farm_unit_event(f, u, "unit_failed", json_pack("{s:s, s:i}", "error", why, "attempts",
                                                   u->attempts));
    char msg[1024];
    snprintf(msg, sizeof(msg), "unit %d failed after %d attempt%s: %s", u->index, u->attempts,
             u->attempts == 1 ? "" : "s", why);
    finish_job(f, j, JOB_FAILED, msg);
    return 0;
}
