/* farm/background.c - the master's own threads: the reaper (leases that ran out, agents
 * gone quiet, retries whose backoff ended) and the callback sender (POSTs a finished job
 * to the callback_url its submitter gave, with a few bounded retries). */
#include "farm/farm_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often the reaper looks. */
#define REAPER_TICK_MS 200
#define CALLBACK_ATTEMPTS 5
#define CALLBACK_TIMEOUT_MS 5000
/* The wait before the second try, doubled before each further one. */
#define CALLBACK_FIRST_BACKOFF_MS 2000u
/* How often the sender looks for a job that ended when none is waiting for a try. */
#define CALLBACK_IDLE_MS 1000

static void wait_ms(struct farm *f, uint64_t ms)
{
    struct timespec t = udcs_deadline_after_ms(ms);
    pthread_cond_timedwait(&f->work_cv, &f->lock, &t);
}

/* One pass: expire leases, notice lost agents, wake retries. Returns 1 if it changed
 * anything (a transaction was written). */
static int reap(struct farm *f, uint64_t now)
{
    int changed = 0;
    for (size_t i = 1; i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        if (!a)
            continue;
        if (a->state != AGENT_LOST && a->last_seen_ms + f->opt.lease_ttl_ms < now) {
            a->state = AGENT_LOST;
            udcs_log_warn("farm: agent %lld (%s) has not been heard from for %llu ms; lost",
                          (long long)a->id, a->name,
                          (unsigned long long)(now - a->last_seen_ms));
        }
        for (int k = 0; k < a->running;) {
            struct unit *u = farm_unit(f, a->leases[k]);
            if (!u || u->state != UNIT_LEASED || u->lease_expires_ms > now) {
                k++;
                continue;
            }
            if (!changed)
                farm_db_begin(f);
            changed = 1;
            f->lease_expiries++;
            char why[256];
            snprintf(why, sizeof(why), "agent %s stopped renewing its lease (lost or killed)",
                     a->name);
            udcs_log_warn("farm: unit %lld of job %lld: %s", (long long)u->id,
                          (long long)u->job->id, why);
            farm_unit_failed(f, u, why, 1, 1);   /* releases the lease: do not advance k */
        }
    }
    if (farm_release_delayed(f, now))
        pthread_cond_broadcast(&f->work_cv);
    if (changed)
        farm_db_commit(f);
    farm_events_flush(f, now);   /* after the changes above, so they go out this tick */
    return changed;
}

static void *reaper_main(void *arg)
{
    struct farm *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        reap(f, farm_now_ms());
        wait_ms(f, REAPER_TICK_MS);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* ---- callbacks ------------------------------------------------------------------------------ */

/* Each job keeps its own time for the next try: the wait below also ends at every
 * broadcast of work_cv (heartbeats, results), so a plain wait would not keep the backoff. */
static void *callbacker_main(void *arg)
{
    struct farm *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        struct job *due = NULL;
        uint64_t now = farm_now_ms(), next = now + CALLBACK_IDLE_MS;
        for (size_t i = 1; i < f->n_jobs && !due; i++) {
            struct job *j = f->jobs[i];
            if (!j || !j->callback_pending)
                continue;
            if (j->callback_next_ms <= now)
                due = j;
            else if (j->callback_next_ms < next)
                next = j->callback_next_ms;
        }
        if (!due) {
            wait_ms(f, next - now);
            continue;
        }
        char *url = strdup(due->callback_url);
        json_t *body = farm_job_json(f, due, 0, 0, 0, NULL);
        int64_t id = due->id;
        pthread_mutex_unlock(&f->lock);

        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        struct udcs_http_client *c = NULL;
        int rc = url && text ? udcs_http_client_new(url, NULL, &c) : -ENOMEM;
        struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
        if (rc == 0) {
            call.method = "POST";
            call.path = "";
            call.content_type = "application/json";
            call.body = text;
            call.body_len = strlen(text);
            call.timeout_ms = CALLBACK_TIMEOUT_MS;
            rc = udcs_http_client_call(c, &call);
        }
        udcs_http_client_free(c);
        free(text);

        pthread_mutex_lock(&f->lock);
        struct job *j = farm_job(f, id);
        if (j && (rc == 0 || ++j->callback_tries >= CALLBACK_ATTEMPTS)) {
            if (rc < 0)
                udcs_log_warn("farm: callback for job %lld to %s failed %d times, giving up: %s",
                              (long long)id, url, CALLBACK_ATTEMPTS, call.error);
            j->callback_pending = 0;
            farm_db_begin(f);
            farm_db_save_job(f, j);
            farm_db_commit(f);
        } else if (j) {
            /* 2, 4, 8, 16 s: about 30 s in all before giving up */
            j->callback_next_ms = farm_now_ms() +
                                  (CALLBACK_FIRST_BACKOFF_MS << (j->callback_tries - 1));
        }
        free(url);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* ---- action cache writes ------------------------------------------------------------------ */

void farm_ac_enqueue(struct farm *f, const struct cas_digest *action, const char *result_json)
{
    char *copy = strdup(result_json);
    if (!copy)
        return;
    if (f->n_ac_queue == f->cap_ac_queue) {
        size_t cap = f->cap_ac_queue ? f->cap_ac_queue * 2 : 64;
        struct ac_pending *q = realloc(f->ac_queue, cap * sizeof(*q));
        if (!q) {
            free(copy);
            return;
        }
        f->ac_queue = q;
        f->cap_ac_queue = cap;
    }
    f->ac_queue[f->n_ac_queue].action = *action;
    f->ac_queue[f->n_ac_queue].result_json = copy;
    f->n_ac_queue++;
    pthread_cond_signal(&f->ac_cv);
}

const char *farm_ac_pending(struct farm *f, const struct cas_digest *action)
{
    for (size_t i = f->n_ac_queue; i-- > 0;)
        if (memcmp(f->ac_queue[i].action.hash, action->hash, CAS_HASH_BYTES) == 0)
            return f->ac_queue[i].result_json;
    return NULL;
}

/* Write one queued result; the lock is not held (the store is safe across threads). */
static void write_ac(struct farm *f, const struct ac_pending *p)
{
    struct cas_action_result r;
    char why[256];
    if (cas_action_result_from_json(p->result_json, strlen(p->result_json), &r, why,
                                    sizeof(why)) == 0) {
        int rc = cas_store_ac_put(f->cs, &p->action, &r);
        if (rc < 0)
            udcs_log_warn("farm: writing the action cache failed: %s", udcs_strerror(rc));
        cas_action_result_release(&r);
    }
}

static void *ac_writer_main(void *arg)
{
    struct farm *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (f->n_ac_queue == 0 && !f->stopping)
            pthread_cond_wait(&f->ac_cv, &f->lock);
        if (f->n_ac_queue == 0)
            break;   /* stopping, and everything is written */
        struct ac_pending p = f->ac_queue[0];
        pthread_mutex_unlock(&f->lock);
        write_ac(f, &p);
        pthread_mutex_lock(&f->lock);
        /* Only now leave the queue: until the file exists, lookups find it here. */
        memmove(f->ac_queue, f->ac_queue + 1, (f->n_ac_queue - 1) * sizeof(*f->ac_queue));
        f->n_ac_queue--;
        free(p.result_json);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

int farm_background_start(struct farm *f)
{
    if (pthread_create(&f->ac_writer, NULL, ac_writer_main, f) != 0)
        return -EAGAIN;
    f->ac_writer_started = 1;
    if (pthread_create(&f->reaper, NULL, reaper_main, f) != 0)
        return -EAGAIN;
    f->reaper_started = 1;
    if (pthread_create(&f->callbacker, NULL, callbacker_main, f) != 0)
        return -EAGAIN;
    f->callbacker_started = 1;
    return 0;
}

void farm_background_stop(struct farm *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_broadcast(&f->work_cv);
    pthread_cond_broadcast(&f->event_cv);
    pthread_cond_broadcast(&f->ac_cv);
    pthread_mutex_unlock(&f->lock);
    if (f->ac_writer_started)
        pthread_join(f->ac_writer, NULL);   /* it writes what is queued before it ends */
    if (f->reaper_started)
        pthread_join(f->reaper, NULL);
    if (f->callbacker_started)
        pthread_join(f->callbacker, NULL);
    f->reaper_started = f->callbacker_started = f->ac_writer_started = 0;
    /* Without a writer thread (a farm never served): write what is left here. */
    for (size_t i = 0; i < f->n_ac_queue; i++) {
        write_ac(f, &f->ac_queue[i]);
        free(f->ac_queue[i].result_json);
    }
    f->n_ac_queue = 0;
}
