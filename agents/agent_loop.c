/* agents/agent_loop.c - the agent's conversation with the master: register, heartbeats
 * that renew leases (and carry cancels back), and one thread per slot that long-polls for
 * a unit, runs it and reports the result. A master that is down is waited for, and said
 * so; a master that forgot the agent (a new state) is registered with again. */
#include "agents/agent.h"
#include "agents/detect.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_client.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Retry delays while the master cannot be reached. */
#define RETRY_MIN_MS AGENT_RETRY_MIN_MS
#define RETRY_MAX_MS AGENT_RETRY_MAX_MS
/* A result is reported until the master answers, for at most this long. */
#define REPORT_PATIENCE_MS AGENT_MASTER_PATIENCE_MS
#define RESPONSE_MAX (64u * 1024 * 1024)

static void sleep_ms(uint64_t ms)
{
    struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* POST a JSON body, parse the JSON answer. Returns 0, or the call's error code with the
 * message in `why` (the server's own words for 4xx). */
static int post_json(struct udcs_http_client *h, const char *path, json_t *body,
                     uint64_t timeout_ms, json_t **answer, char *why, size_t why_len)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct udcs_buf resp = UDCS_BUF_INIT(RESPONSE_MAX);
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "POST";
    call.path = path;
    call.content_type = "application/json";
    call.body = text;
    call.body_len = text ? strlen(text) : 0;
    call.response = &resp;
    call.timeout_ms = timeout_ms;
    int rc = text ? udcs_http_client_call(h, &call) : -ENOMEM;
    if (rc < 0)
        snprintf(why, why_len, "%s", call.error);
    *answer = NULL;
    if (rc == 0) {
        *answer = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
        if (!*answer) {
            rc = UDCS_EPROTO;
            snprintf(why, why_len, "the master's answer to %s is not JSON", path);
        }
    }
    free(text);
    udcs_buf_release(&resp);
    return rc;
}

static int new_client(struct agent_daemon *d, struct udcs_http_client **h)
{
    int rc = udcs_http_client_new(d->cfg.farm_url, d->cfg.token, h);
    if (rc < 0)
        udcs_log_error("agent: cannot talk to %s: %s", d->cfg.farm_url, udcs_strerror(rc));
    return rc;
}

/* ---- registration --------------------------------------------------------------------- */

static int do_register(struct agent_daemon *d, struct udcs_http_client *h)
{
    uint64_t delay = RETRY_MIN_MS;
    int said = 0;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        int stop = d->stopping;
        pthread_mutex_unlock(&d->lock);
        if (stop)
            return -ECANCELED;
        json_t *body = json_pack("{s:s, s:s, s:i, s:O}", "key", d->key, "name", d->cfg.name,
                                 "slots", d->cfg.slots, "info", d->info);
        json_t *ans = NULL;
        char why[600];
        int rc = post_json(h, "/api/agent/v1/register", body, 10000, &ans, why, sizeof(why));
        json_decref(body);
        if (rc == 0) {
            pthread_mutex_lock(&d->lock);
            d->agent_id = json_integer_value(json_object_get(ans, "agent_id"));
            d->lease_ttl_ms = (uint64_t)json_integer_value(json_object_get(ans, "lease_ttl_ms"));
            d->heartbeat_ms = (uint64_t)json_integer_value(json_object_get(ans, "heartbeat_ms"));
            if (!d->heartbeat_ms)
                d->heartbeat_ms = 3000;
            d->reregister = 0;
            pthread_mutex_unlock(&d->lock);
            json_decref(ans);
            udcs_log_info("agent: registered with %s as agent %lld (%s, %d slots)",
                          d->cfg.farm_url, (long long)d->agent_id, d->cfg.name, d->cfg.slots);
            return 0;
        }
        json_decref(ans);
        if (rc == UDCS_EAUTH || rc == UDCS_EPROTO) {
            udcs_log_error("agent: the master at %s refused to register us: %s",
                           d->cfg.farm_url, why);
            return rc;
        }
        if (!said++)
            udcs_log_warn("agent: waiting for the master at %s (%s); retrying", d->cfg.farm_url,
                          why);
        sleep_ms(delay);
        delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
    }
}

/* ---- heartbeat -------------------------------------------------------------------------------- */

static void apply_cancels(struct agent_daemon *d, json_t *cancel)
{
    size_t i;
    json_t *c;
    pthread_mutex_lock(&d->lock);
    json_array_foreach(cancel, i, c) {
        int64_t unit = json_integer_value(json_object_get(c, "unit"));
        uint64_t epoch = (uint64_t)json_integer_value(json_object_get(c, "epoch"));
        for (int s = 0; s < d->cfg.slots; s++) {
            struct agent_slot *sl = &d->slots[s];
            if (sl->unit != unit || sl->epoch != epoch || sl->cancelled)
                continue;
            sl->cancelled = 1;
            udcs_log_info("agent: the master cancelled unit %lld; stopping it", (long long)unit);
            if (sl->proc)
                udcs_proc_signal(sl->proc, SIGKILL);
        }
    }
    pthread_mutex_unlock(&d->lock);
}

/* What a heartbeat says of the agent's load: the CPU's busy fraction since the last one
 * (null on the first, or without /proc/stat) and the bytes its store fetched from and
 * sent to the master's. Memory and GPUs travel in "refresh". */
struct load_meter {
    uint64_t busy, total;        /* CPU ticks at the last heartbeat; total 0: none yet */
    struct cas_store *cs;        /* the agent's store, read-only, for its counters */
};

static json_t *load_measure(struct agent_daemon *d, struct load_meter *m)
{
    json_t *load = json_object();
    uint64_t busy, total;
    json_t *cpu = json_null();
    if (agent_cpu_times(&busy, &total) == 0) {
        if (m->total && total > m->total && busy >= m->busy)
            cpu = json_real((double)(busy - m->busy) / (double)(total - m->total));
        m->busy = busy;
        m->total = total;
    }
    json_object_set_new(load, "cpu", cpu);
    if (!m->cs) {
        /* The slots create the store; until then there is nothing to count. */
        char *root = udcs_path_join(d->cfg.work_dir, "cas");
        struct cas_store_options o = { .root = root, .readonly = 1 };
        if (root && cas_store_open(&o, &m->cs) < 0)
            m->cs = NULL;
        free(root);
    }
    struct cas_stats st = { 0 };
    if (m->cs)
        cas_store_stats(m->cs, &st);
    json_object_set_new(load, "bytes_in", json_integer((json_int_t)st.remote_bytes_down));
    json_object_set_new(load, "bytes_out", json_integer((json_int_t)st.remote_bytes_up));
    return load;
}

static void *heartbeat_main(void *arg)
{
    struct agent_daemon *d = arg;
    struct udcs_http_client *h = NULL;
    struct load_meter meter = { 0 };
    if (new_client(d, &h) < 0)
        return NULL;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct timespec t = udcs_deadline_after_ms(d->heartbeat_ms);
        pthread_cond_timedwait(&d->wake, &d->lock, &t);
        if (d->stopping)
            break;
        json_t *leases = json_array();
        for (int s = 0; s < d->cfg.slots; s++)
            if (d->slots[s].unit)
                json_array_append_new(leases, json_pack("{s:I, s:I}", "unit",
                                                        (json_int_t)d->slots[s].unit, "epoch",
                                                        (json_int_t)d->slots[s].epoch));
        json_t *refresh = json_deep_copy(d->info);
        json_t *body = json_pack("{s:I, s:o, s:b, s:o}", "agent_id", (json_int_t)d->agent_id,
                                 "leases", leases, "draining", d->draining, "refresh", refresh);
        pthread_mutex_unlock(&d->lock);
        agent_detect_refresh(json_object_get(body, "refresh"));
        json_object_set_new(body, "load", load_measure(d, &meter));
        json_t *ans = NULL;
        char why[600];
        int rc = post_json(h, "/api/agent/v1/heartbeat", body, 10000, &ans, why, sizeof(why));
        json_decref(body);
        if (rc == 0)
            apply_cancels(d, json_object_get(ans, "cancel"));
        json_decref(ans);
        pthread_mutex_lock(&d->lock);
        if (rc == UDCS_ENOTFOUND && !d->reregister) {
            udcs_log_warn("agent: the master does not know us any more (%s); registering again",
                          why);
            d->reregister = 1;
            pthread_mutex_unlock(&d->lock);
            do_register(d, h);
            pthread_mutex_lock(&d->lock);
        } else if (rc < 0 && rc != UDCS_ENOTFOUND) {
            udcs_log_warn("agent: heartbeat to %s failed: %s", d->cfg.farm_url, why);
        }
    }
    pthread_mutex_unlock(&d->lock);
    cas_store_close(meter.cs);
    udcs_http_client_free(h);
    return NULL;
}

/* ---- slots ---------------------------------------------------------------------------------- */

/* Report a unit's outcome until the master answers (it may be restarting). A result's
 * blobs go first, with the same patience: the master refuses a result naming blobs it
 * lacks, and a unit that finished while the master was down has them only here. A
 * transport failure is never reported as the unit's error. `infra`: an error of the
 * agent's own part, which the master does not hold against it (blocklist). */
static void report(struct agent_daemon *d, struct udcs_http_client *h, struct cas *c,
                   int64_t unit, uint64_t epoch, const struct cas_action_result *r,
                   const char *error, int infra)
{
    json_t *body = json_pack("{s:I, s:I, s:I, s:s}", "agent_id", (json_int_t)d->agent_id,
                             "unit", (json_int_t)unit, "epoch", (json_int_t)epoch, "outcome",
                             r ? "ok" : "error");
    if (r) {
        struct udcs_buf text = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
        if (cas_action_result_to_json(r, &text) == 0)
            json_object_set_new(body, "result", json_loads(text.data, 0, NULL));
        udcs_buf_release(&text);
    } else {
        json_object_set_new(body, "error", json_string(error));
        json_object_set_new(body, "infrastructure", json_boolean(infra));
    }
    uint64_t give_up = udcs_mono_ms() + REPORT_PATIENCE_MS, delay = RETRY_MIN_MS;
    for (;;) {
        json_t *ans = NULL;
        char why[600];
        int rc = 0;
        if (r) {
            cas_remote_retry(c);
            if ((rc = cas_result_upload(c, r)) < 0)
                snprintf(why, sizeof(why), "uploading its outputs: %s",
                         *cas_last_remote_error(c) ? cas_last_remote_error(c)
                                                   : udcs_strerror(rc));
        }
        if (rc == 0)
            rc = post_json(h, "/api/agent/v1/result", body, 30000, &ans, why, sizeof(why));
        json_decref(ans);
        if (rc == 0)
            break;
        if (rc != UDCS_ENET && rc != UDCS_EREMOTE) {
            /* 409: superseded or cancelled; 404: the master forgot the unit. Final. */
            udcs_log_warn("agent: the master did not take the result of unit %lld: %s",
                          (long long)unit, why);
            break;
        }
        if (udcs_mono_ms() > give_up) {
            udcs_log_error("agent: gave up reporting unit %lld after %d minutes: %s",
                           (long long)unit, REPORT_PATIENCE_MS / 60000, why);
            break;
        }
        pthread_mutex_lock(&d->lock);
        int stop_now = d->stop_now;
        pthread_mutex_unlock(&d->lock);
        if (stop_now) {   /* told to stop now: the master re-runs it when its lease expires */
            udcs_log_warn("agent: stopping without reporting unit %lld: %s", (long long)unit,
                          why);
            break;
        }
        sleep_ms(delay);
        delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
        json_object_set_new(body, "agent_id", json_integer(d->agent_id));   /* may be new */
    }
    json_decref(body);
}

static void run_offer(struct agent_daemon *d, struct agent_slot *slot, struct cas *c,
                      struct udcs_http_client *h, json_t *offer)
{
    int64_t unit = json_integer_value(json_object_get(offer, "unit"));
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(offer, "epoch"));
    pthread_mutex_lock(&d->lock);
    slot->unit = unit;
    slot->epoch = epoch;
    slot->cancelled = 0;
    pthread_mutex_unlock(&d->lock);

    char *text = json_dumps(json_object_get(offer, "action"), JSON_COMPACT | JSON_SORT_KEYS);
    struct cas_action a = { 0 };
    struct cas_action_result r = { 0 };
    char why[1024] = "";
    int infra = 1;
    int rc = text ? cas_action_from_json(text, strlen(text), &a, why, sizeof(why)) : -ENOMEM;
    if (rc == 0 && strcmp(a.kind, "exec") != 0) {
        rc = UDCS_EPROTO;
        snprintf(why, sizeof(why), "this agent has no executor for actions of kind '%s'",
                 a.kind);
    }
    if (rc == 0) {
        uint64_t start = udcs_mono_ms();
        cas_remote_retry(c);
        rc = agent_exec_run(d, slot, c, &a, unit, epoch, &r, &infra, why, sizeof(why));
        r.executor = strdup(d->cfg.name);
        r.created_ms = udcs_wall_ms();
        if (!r.duration_ms)
            r.duration_ms = udcs_mono_ms() - start;
    }
    if (rc == 0 && rc != -ECANCELED)
        udcs_log_debug("agent: unit %lld (epoch %llu) exited %d", (long long)unit,
                       (unsigned long long)epoch, r.exit_code);
    else if (rc != -ECANCELED)
        udcs_log_warn("agent: unit %lld failed to run: %s", (long long)unit, why);
    pthread_mutex_lock(&d->lock);
    int hand_back = slot->hand_back;
    pthread_mutex_unlock(&d->lock);
    if (rc == -ECANCELED && hand_back)   /* stopped hard: let another agent have it now */
        report(d, h, c, unit, epoch, NULL, "the agent was stopped while running it", 1);
    else if (rc != -ECANCELED)
        report(d, h, c, unit, epoch, rc == 0 ? &r : NULL, why, infra);
    cas_action_release(&a);
    cas_action_result_release(&r);
    free(text);
    pthread_mutex_lock(&d->lock);
    slot->unit = 0;
    slot->epoch = 0;
    pthread_mutex_unlock(&d->lock);
}

static struct cas *open_cas(struct agent_daemon *d)
{
    char *root = udcs_path_join(d->cfg.work_dir, "cas");
    struct cas_options o = { .local = { .root = root, .max_size = d->cfg.cache_max_bytes,
                                        .encode = { .level = 3, .workers = 1 } },
                             .remote_url = d->cfg.farm_url, .remote_token = d->cfg.token };
    struct cas *c = NULL;
    int rc = root ? cas_open(&o, &c) : -ENOMEM;
    if (rc < 0)
        udcs_log_error("agent: cannot open the local store %s: %s", root ? root : "",
                       udcs_strerror(rc));
    free(root);
    return c;
}

static void *slot_main(void *arg)
{
    struct agent_slot *slot = arg;
    struct agent_daemon *d = slot->d;
    struct udcs_http_client *h = NULL;
    struct cas *c = open_cas(d);
    if (!c || new_client(d, &h) < 0) {
        cas_close(c);
        return NULL;
    }
    uint64_t delay = RETRY_MIN_MS;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        int done = d->stopping || d->draining;
        json_t *body = json_pack("{s:I, s:i, s:I}", "agent_id", (json_int_t)d->agent_id,
                                 "slots", 1, "wait_ms", (json_int_t)d->cfg.lease_wait_ms);
        pthread_mutex_unlock(&d->lock);
        if (done) {
            json_decref(body);
            break;
        }
        json_t *ans = NULL;
        char why[600];
        int rc = post_json(h, "/api/agent/v1/lease", body, d->cfg.lease_wait_ms + 15000, &ans,
                           why, sizeof(why));
        json_decref(body);
        if (rc < 0) {
            json_decref(ans);
            if (rc == UDCS_ENOTFOUND) {
                pthread_mutex_lock(&d->lock);
                d->reregister = 1;
                pthread_cond_broadcast(&d->wake);   /* the heartbeat thread registers */
                pthread_mutex_unlock(&d->lock);
            } else {
                udcs_log_warn("agent: asking %s for work failed: %s", d->cfg.farm_url, why);
            }
            sleep_ms(delay);
            delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
            continue;
        }
        delay = RETRY_MIN_MS;
        size_t i;
        json_t *offer;
        json_array_foreach(json_object_get(ans, "units"), i, offer)
            run_offer(d, slot, c, h, offer);
        json_decref(ans);
    }
    udcs_http_client_free(h);
    cas_close(c);
    return NULL;
}

int agent_daemon_start(struct agent_daemon *d)
{
    struct udcs_http_client *h = NULL;
    int rc = new_client(d, &h);
    if (rc == 0)
        rc = do_register(d, h);
    udcs_http_client_free(h);
    if (rc < 0)
        return rc;
    if (pthread_create(&d->heartbeat, NULL, heartbeat_main, d) != 0)
        return -EAGAIN;
    d->heartbeat_started = 1;
    d->slots = calloc((size_t)d->cfg.slots, sizeof(*d->slots));
    if (!d->slots)
        return -ENOMEM;
    for (int i = 0; i < d->cfg.slots; i++) {
        d->slots[i].d = d;
        d->slots[i].index = i;
        if (pthread_create(&d->slots[i].thread, NULL, slot_main, &d->slots[i]) != 0)
            return -EAGAIN;
        d->slots[i].started = 1;
    }
    return 0;
}

void agent_daemon_hand_back(struct agent_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    d->draining = 1;
    d->stop_now = 1;
    for (int i = 0; d->slots && i < d->cfg.slots; i++) {
        if (!d->slots[i].unit)
            continue;
        d->slots[i].cancelled = 1;
        d->slots[i].hand_back = 1;
        if (d->slots[i].proc)
            udcs_proc_signal(d->slots[i].proc, SIGKILL);
    }
    pthread_mutex_unlock(&d->lock);
}

void agent_daemon_stop(struct agent_daemon *d, int hard)
{
    if (hard)
        agent_daemon_hand_back(d);
    pthread_mutex_lock(&d->lock);
    d->draining = 1;
    pthread_cond_broadcast(&d->wake);   /* a heartbeat tells the master we drain */
    pthread_mutex_unlock(&d->lock);
    /* Slots finish their unit, then see `draining` (a lease request in flight returns
     * within its wait). */
    for (int i = 0; d->slots && i < d->cfg.slots; i++)
        if (d->slots[i].started)
            pthread_join(d->slots[i].thread, NULL);
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
    if (d->heartbeat_started)
        pthread_join(d->heartbeat, NULL);
    free(d->slots);
    d->slots = NULL;
}
