/* farm/actions.c - what operators change from the dashboard or the CLI (retrying a failed
 * job, draining an agent) and the load agents report with their heartbeats. Every
 * function here runs with farm.lock held, inside the caller's transaction. A job's
 * priority is sched.c's (it moves the job between queues). */
#include "farm/farm_internal.h"
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int farm_job_retry(struct farm *f, struct job *j)
{
    if (j->state != JOB_FAILED || j->counts[UNIT_FAILED] == 0)
        return 0;
    int retried = 0;
    /* Every unit the failure stopped goes back: the failed ones with their attempts
     * reset, and those finish_job() cancelled when the job failed. */
    for (size_t i = 0; i < j->n_units; i++) {
        struct unit *u = j->units[i];
        if (u->state != UNIT_FAILED && u->state != UNIT_CANCELLED)
            continue;
        retried += u->state == UNIT_FAILED;
        u->attempts = 0;
        u->not_before_ms = 0;
        u->finished_ms = 0;
        u->cached = 0;
        free(u->error);
        u->error = NULL;
        farm_set_unit_state(f, u, UNIT_WAITING);
    }
    /* The agents kept off the job for its failures get another chance too: a person
     * decided to try again (perhaps after fixing one of them). */
    for (size_t i = 1; i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        for (size_t k = 0; a && k < a->n_blocked; k++) {
            if (a->blocked[k].job_id != j->id || a->blocked[k].failures == 0)
                continue;
            a->blocked[k].failures = 0;
            farm_db_save_blocklist(f, a, j->id, 0);
        }
    }
    j->state = JOB_RUNNING;
    j->finished_ms = 0;
    free(j->error);
    j->error = NULL;
    j->callback_pending = 0;
    farm_db_save_job(f, j);
    /* A stream opened from now on starts here: the last run's job_finished is history. */
    j->run_event_seq = j->next_event_seq;
    farm_job_event(f, j, "job_retried", json_pack("{s:i}", "retried", retried));
    udcs_log_info("farm: job %lld: %d failed unit%s retried on request", (long long)j->id,
                  retried, retried == 1 ? "" : "s");
    for (size_t i = 0; i < j->n_units && j->state == JOB_RUNNING; i++) {
        struct unit *u = j->units[i];
        if (u->state == UNIT_WAITING && u->deps_left == 0)
            farm_unit_ready(f, u);   /* queues it (or completes it from the cache) */
        else if (u->state == UNIT_WAITING)
            farm_db_save_unit(f, u);
    }
    farm_job_check_end(f, j);
    farm_event_job(f, j);
    return retried;
}

int farm_agent_set_drained(struct farm *f, struct agent *a, int drained)
{
    a->admin_drained = drained ? 1 : 0;
    farm_agent_update_state(a);
    int rc = farm_db_save_agent(f, a);
    udcs_log_info("farm: agent %lld (%s) %s by an operator", (long long)a->id, a->name,
                  drained ? "drained" : "enabled");
    farm_event_agent(f, a);
    pthread_cond_broadcast(&f->work_cv);   /* an enabled agent's lease requests look again */
    return rc;
}

/* A number of `o`, or NAN when it is missing or null. */
static double number_or_nan(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void farm_agent_note_load(struct farm *f, struct agent *a, const json_t *load, uint64_t now)
{
    (void)f;
    if (load) {
        a->cpu = number_or_nan(load, "cpu");
        json_t *in = json_object_get(load, "bytes_in"), *out = json_object_get(load, "bytes_out");
        if (json_is_integer(in))
            a->traffic_in = (uint64_t)json_integer_value(in);
        if (json_is_integer(out))
            a->traffic_out = (uint64_t)json_integer_value(out);
    }
    if (a->series_n && now < a->series_ms + FARM_AGENT_SAMPLE_MS)
        return;
    if (!a->series) {
        a->series = calloc(FARM_AGENT_SERIES_KEPT, sizeof(*a->series));
        if (!a->series)
            return;
    }
    struct agent_sample *s = &a->series[a->series_next];
    memset(s, 0, sizeof(*s));
    s->t_ms = now;
    s->cpu = (float)a->cpu;
    double total = number_or_nan(a->info, "ram_gb"), avail = number_or_nan(a->info, "ram_free_gb");
    s->mem_used_gb = (float)(total - avail);   /* NAN when either is unknown */
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(a->info, "gpus"), i, g) {
        if (i >= FARM_SAMPLE_GPUS_MAX)
            break;
        s->gpu_util[i] = (float)(number_or_nan(g, "utilization") / 100);
        s->gpu_mem_used_gb[i] = (float)(number_or_nan(g, "memory_gb") -
                                        number_or_nan(g, "memory_free_gb"));
        s->n_gpus = (unsigned char)(i + 1);
    }
    a->series_next = (a->series_next + 1) % FARM_AGENT_SERIES_KEPT;
    if (a->series_n < FARM_AGENT_SERIES_KEPT)
        a->series_n++;
    a->series_ms = now;
}
