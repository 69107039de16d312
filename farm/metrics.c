/* farm/metrics.c - the master's counters, gathered once for GET /metrics (api_client.c)
 * and for the sampler: a thread that keeps one sample every FARM_METRICS_INTERVAL_S for
 * the last hour (GET /api/metrics/series) and sends each as a "metrics" event. */
#include "farm/farm_internal.h"
#include "common/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

void farm_metrics_gather(struct farm *f, struct farm_metrics *m)
{
    *m = (struct farm_metrics){ .t_ms = farm_now_ms() };
    pthread_mutex_lock(&f->lock);
    for (size_t i = 1; i < f->n_agents; i++)
        if (f->agents[i])
            m->agents[f->agents[i]->state]++;
    for (size_t i = 1; i < f->n_jobs; i++) {
        struct job *j = f->jobs[i];
        if (!j)
            continue;
        m->jobs[j->state]++;
        for (int s = 0; s < UNIT_STATE_COUNT; s++)
            m->units[s] += j->counts[s];
    }
    m->cache_hits = f->cache_hits;
    m->units_completed = f->units_completed;
    m->units_failed = f->units_failed;
    m->lease_expiries = f->lease_expiries;
    m->retries = f->retries;
    m->results_refused = f->results_refused;
    m->leases_granted = f->leases_granted;
    pthread_mutex_unlock(&f->lock);
    struct cas_stats cs;
    cas_store_stats(f->cs, &cs);
    m->cas_bytes_in = cs.bytes_in;
    m->cas_bytes_out = cs.bytes_out;
    m->cas_bytes_stored = cs.blob_bytes + cs.ac_bytes;
}

/* The series' fields, in the order of GET /api/metrics/series. */
static void metrics_values(const struct farm_metrics *m, uint64_t v[10])
{
    v[0] = m->units_completed;
    v[1] = m->units_failed;
    v[2] = m->cache_hits;
    v[3] = m->cas_bytes_in;
    v[4] = m->cas_bytes_out;
    v[5] = m->cas_bytes_stored;
    v[6] = m->units[UNIT_QUEUED];
    v[7] = m->lease_expiries;
    v[8] = m->retries;
    v[9] = m->agents[AGENT_IDLE] + m->agents[AGENT_BUSY] + m->agents[AGENT_DRAINING];
}

static const char *const metric_names[10] = {
    "units_done", "units_failed", "cache_hits", "bytes_in", "bytes_out", "bytes_stored",
    "queue_depth", "lease_expiries", "retries", "agents"
};

json_t *farm_metrics_json(const struct farm_metrics *m)
{
    uint64_t v[10];
    metrics_values(m, v);
    json_t *j = json_pack("{s:I}", "t", (json_int_t)(m->t_ms / 1000));
    for (size_t i = 0; j && i < 10; i++)
        json_object_set_new(j, metric_names[i], json_integer((json_int_t)v[i]));
    return j;
}

json_t *farm_metrics_series_json(struct farm *f)
{
    json_t *out = json_pack("{s:i, s:[]}", "interval_s", FARM_METRICS_INTERVAL_S, "t");
    json_t *arrays[10];
    for (size_t i = 0; i < 10; i++) {
        arrays[i] = json_array();
        json_object_set_new(out, metric_names[i], arrays[i]);
    }
    json_t *t = json_object_get(out, "t");
    size_t first = (f->samples_next + FARM_METRICS_KEPT - f->samples_n) % FARM_METRICS_KEPT;
    for (size_t k = 0; k < f->samples_n; k++) {
        const struct farm_metrics *m = &f->samples[(first + k) % FARM_METRICS_KEPT];
        uint64_t v[10];
        metrics_values(m, v);
        json_array_append_new(t, json_integer((json_int_t)(m->t_ms / 1000)));
        for (size_t i = 0; i < 10; i++)
            json_array_append_new(arrays[i], json_integer((json_int_t)v[i]));
    }
    return out;
}

static void *sampler_main(void *arg)
{
    struct farm *f = arg;
    for (;;) {
        struct farm_metrics m;
        farm_metrics_gather(f, &m);
        pthread_mutex_lock(&f->lock);
        if (f->stopping) {
            pthread_mutex_unlock(&f->lock);
            break;
        }
        f->samples[f->samples_next] = m;
        f->samples_next = (f->samples_next + 1) % FARM_METRICS_KEPT;
        if (f->samples_n < FARM_METRICS_KEPT)
            f->samples_n++;
        farm_event_add(f, "metrics", farm_metrics_json(&m));
        struct timespec t = udcs_deadline_after_ms(FARM_METRICS_INTERVAL_S * 1000);
        while (!f->stopping && pthread_cond_timedwait(&f->sampler_cv, &f->lock, &t) == 0)
            ;
        int stop = f->stopping;
        pthread_mutex_unlock(&f->lock);
        if (stop)
            break;
    }
    return NULL;
}

int farm_sampler_start(struct farm *f)
{
    f->samples = calloc(FARM_METRICS_KEPT, sizeof(*f->samples));
    if (!f->samples)
        return -ENOMEM;
    if (pthread_create(&f->sampler, NULL, sampler_main, f) != 0)
        return -EAGAIN;
    f->sampler_started = 1;
    return 0;
}

void farm_sampler_stop(struct farm *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_broadcast(&f->sampler_cv);
    pthread_mutex_unlock(&f->lock);
    if (f->sampler_started)
        pthread_join(f->sampler, NULL);
    f->sampler_started = 0;
    free(f->samples);
    f->samples = NULL;
    f->samples_n = f->samples_next = 0;
}
