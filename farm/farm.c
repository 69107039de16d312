/* farm/farm.c - opening the master's state, serving it, closing it. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_server.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per connection thread: handlers are shallow; agents long-poll in one thread each. */
#define FARM_THREAD_STACK_BYTES (256u * 1024)
#define FARM_MAX_CONNECTIONS 4096

/* Results that finished this long before the newest one are surely in the action cache:
 * the writer keeps up within seconds, and this bounds the files looked at on a start. */
#define FARM_AC_RECOVER_WINDOW_MS (10 * 60 * 1000)

/* The action cache is written from an in-memory queue (background.c), lost when the master
 * is killed. Queue again what recent units ran and the cache lacks, so the same work
 * submitted again completes from the cache. */
static void requeue_lost_ac_writes(struct farm *f)
{
    uint64_t newest = 0;
    for (size_t i = 1; i < f->n_units; i++)
        if (f->units[i] && f->units[i]->state == UNIT_DONE && f->units[i]->finished_ms > newest)
            newest = f->units[i]->finished_ms;
    size_t queued = 0;
    for (size_t i = 1; i < f->n_units; i++) {
        struct unit *u = f->units[i];
        if (!u || u->state != UNIT_DONE || u->cached || !u->has_action || u->exit_code != 0 ||
            !u->result_json || u->finished_ms + FARM_AC_RECOVER_WINDOW_MS < newest)
            continue;
        struct cas_action_result r;
        int rc = cas_store_ac_get(f->cs, &u->action_digest, &r);
        if (rc == 0) {
            cas_action_result_release(&r);
        } else if (rc == -ENOENT || rc == UDCS_ECORRUPT) {
            farm_ac_enqueue(f, &u->action_digest, u->result_json);
            queued++;
        }
    }
    if (queued)
        udcs_log_info("farm: %zu finished units were missing from the action cache; writing "
                      "them again", queued);
}

/* After a (re)start: queues, delayed retries and leases back in memory. Leases held
 * when the master stopped get a fresh TTL, so agents still running them can report. */
static void rebuild(struct farm *f)
{
    uint64_t now = farm_now_ms();
    for (size_t i = 1; i < f->n_units; i++) {
        struct unit *u = f->units[i];
        if (!u || u->job->state != JOB_RUNNING)
            continue;
        if (u->state == UNIT_QUEUED) {
            if (u->not_before_ms > now) {
                struct unit **d = realloc(f->delayed, (f->n_delayed + 1) * sizeof(*d));
                if (d) {
                    f->delayed = d;
                    f->delayed[f->n_delayed++] = u;
                    f->cap_delayed = f->n_delayed;
                }
            } else {
                farm_enqueue(f, u);
            }
        } else if (u->state == UNIT_LEASED) {
            struct agent *a = farm_agent(f, u->agent_id);
            u->lease_expires_ms = now + f->opt.lease_ttl_ms;
            if (a) {
                farm_agent_hold(a, u->id);
                a->last_seen_ms = now;   /* it has a TTL to show up */
            }
        }
    }
    /* Units whose dependencies finished just before a stop may not have been released. */
    farm_db_begin(f);
    for (size_t i = 1; i < f->n_units; i++) {
        struct unit *u = f->units[i];
        if (u && u->state == UNIT_WAITING && u->deps_left == 0 && u->job->state == JOB_RUNNING)
            farm_unit_ready(f, u);
    }
    for (size_t i = 1; i < f->n_jobs; i++)
        if (f->jobs[i])
            farm_job_check_end(f, f->jobs[i]);
    farm_db_commit(f);
}

int farm_open(const struct farm_options *opt, struct farm **out)
{
    struct farm *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->opt = *opt;
    if (!f->opt.lease_ttl_ms)
        f->opt.lease_ttl_ms = FARM_DEFAULT_LEASE_TTL_MS;
    if (!f->opt.heartbeat_ms)
        f->opt.heartbeat_ms = FARM_DEFAULT_HEARTBEAT_MS;
    if (!f->opt.max_attempts)
        f->opt.max_attempts = FARM_DEFAULT_MAX_ATTEMPTS;
    if (!f->opt.backoff_ms)
        f->opt.backoff_ms = FARM_DEFAULT_BACKOFF_MS;
    if (!f->opt.backoff_max_ms)
        f->opt.backoff_max_ms = FARM_DEFAULT_BACKOFF_MAX_MS;
    if (!f->opt.blocklist_after)
        f->opt.blocklist_after = FARM_DEFAULT_BLOCKLIST_AFTER;
    if (!f->opt.max_submit_bytes)
        f->opt.max_submit_bytes = FARM_DEFAULT_MAX_SUBMIT_BYTES;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->work_cv, NULL);
    pthread_cond_init(&f->event_cv, NULL);
    pthread_cond_init(&f->ac_cv, NULL);
    pthread_cond_init(&f->sampler_cv, NULL);

    int rc = udcs_mkdir_p(opt->state_dir, 0700);
    if (rc < 0) {
        udcs_log_error("farm: cannot create the state directory %s: %s", opt->state_dir,
                       udcs_strerror(rc));
        free(f);
        return rc;
    }
    char *db = udcs_path_join(opt->state_dir, "farm.db");
    char *cas = udcs_path_join(opt->state_dir, "cas");
    struct cas_store_options co = { .root = cas, .max_size = opt->cas_max_size,
                                    .encode = { .level = 3, .workers = 1 } };
    rc = db && cas ? cas_store_open(&co, &f->cs) : -ENOMEM;
    if (rc < 0)
        udcs_log_error("farm: cannot open the store %s: %s", cas ? cas : "", udcs_strerror(rc));
    if (rc == 0)
        rc = farm_db_open(f, db);
    if (rc == 0)
        rc = farm_db_load(f);
    free(db);
    free(cas);
    if (rc < 0) {
        farm_close(f);
        return rc;
    }
    farm_events_init(f);
    rebuild(f);
    requeue_lost_ac_writes(f);
    size_t running = 0;
    for (size_t i = 1; i < f->n_jobs; i++)
        running += f->jobs[i] && f->jobs[i]->state == JOB_RUNNING;
    udcs_log_info("farm: state %s loaded: %zu jobs (%zu running), %zu units, %zu agents known",
                  opt->state_dir, f->n_jobs ? f->n_jobs - 1 : 0, running,
                  f->n_units ? f->n_units - 1 : 0, f->n_agents ? f->n_agents - 1 : 0);
    *out = f;
    return 0;
}

static int start_server(struct farm *f, const struct farm_listen *l, int web,
                        struct udcs_http_server **out)
{
    struct udcs_http_server_options so = {
        .listen = web ? l->web_listen : l->api_listen,
        .auth_reads = l->auth_reads,
        .max_connections = FARM_MAX_CONNECTIONS,
        .thread_stack_bytes = FARM_THREAD_STACK_BYTES,
    };
    so.tokens[0] = (struct udcs_http_token){ l->agent_token, UDCS_HTTP_ROLE_AGENT };
    so.tokens[1] = (struct udcs_http_token){ l->client_token, UDCS_HTTP_ROLE_CLIENT };
    int rc = udcs_http_server_new(&so, out);
    if (rc < 0)
        return rc;
    /* Both ports serve the whole client API (the dashboard acts on its own origin); the
     * web port adds the pages, the API port the agent protocol and the store. */
    rc = farm_api_mount_dash(f, *out);
    if (rc == 0)
        rc = farm_api_mount_client(f, *out, web);
    if (rc == 0 && web) {
        rc = farm_api_mount_web(f, *out);
    } else if (rc == 0) {
        rc = farm_api_mount_agent(f, *out);
        if (rc == 0)
            rc = cas_http_mount(*out, f->cs, NULL);
    }
    if (rc == 0)
        rc = udcs_http_server_start(*out);
    return rc;
}

int farm_serve(struct farm *f, const struct farm_listen *l)
{
    int rc = l->web_listen ? farm_web_dir_check(l->web_dir, &f->web_dir) : 0;
    if (rc == 0)
        rc = start_server(f, l, 0, &f->api);
    if (rc == 0 && l->web_listen)
        rc = start_server(f, l, 1, &f->web);
    if (rc == 0)
        rc = farm_background_start(f);
    if (rc == 0)
        rc = farm_sampler_start(f);
    if (rc == 0)
        udcs_log_info("farm: API on %s%s%s%s", udcs_http_server_url(f->api),
                      f->web ? (f->web_dir ? ", dashboard on " : ", status page on ") : "",
                      f->web ? udcs_http_server_url(f->web) : "",
                      f->web && !f->web_dir ? " (dashboard not built: make web)" : "");
    return rc;
}

unsigned farm_api_port(const struct farm *f)
{
    return f->api ? udcs_http_server_port(f->api) : 0;
}

unsigned farm_web_port(const struct farm *f)
{
    return f->web ? udcs_http_server_port(f->web) : 0;
}

static void free_unit(struct unit *u)
{
    free(u->spec);
    free(u->deps);
    free(u->dependents);
    free(u->action_json);
    free(u->result_json);
    free(u->error);
    free(u);
}

static void free_job(struct job *j)
{
    free(j->type);
    json_decref(j->spec);
    free(j->callback_url);
    free(j->error);
    free(j->units);
    free(j->queues);
    for (size_t i = 0; i < JOB_EVENTS_KEPT; i++)
        free(j->events[i].text);
    free(j);
}

static void free_agent(struct agent *a)
{
    free(a->key);
    free(a->name);
    json_decref(a->info);
    free(a->leases);
    free(a->class_match);
    free(a->blocked);
    free(a->series);
    free(a);
}

void farm_close(struct farm *f)
{
    if (!f)
        return;
    /* Stop taking requests first: long polls and event streams see `stopping`. */
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_broadcast(&f->work_cv);
    pthread_cond_broadcast(&f->event_cv);
    pthread_mutex_unlock(&f->lock);
    udcs_http_server_free(f->web);
    udcs_http_server_free(f->api);
    farm_sampler_stop(f);
    farm_background_stop(f);
    for (size_t i = 1; i < f->cap_units; i++)
        if (f->units[i])
            free_unit(f->units[i]);
    for (size_t i = 1; i < f->cap_jobs; i++)
        if (f->jobs[i])
            free_job(f->jobs[i]);
    for (size_t i = 1; i < f->cap_agents; i++)
        if (f->agents[i])
            free_agent(f->agents[i]);
    free(f->units);
    free(f->jobs);
    free(f->agents);
    for (size_t i = 0; i < f->n_classes; i++) {
        struct req *r = &f->classes[i].req;
        free(r->architecture);
        free(r->os);
        for (size_t k = 0; k < r->n_toolchains; k++)
            free(r->toolchains[k]);
        free(r->toolchains);
        free(f->classes[i].key);
        free(f->classes[i].text);
    }
    free(f->classes);
    for (int p = 0; p < 11; p++)
        free(f->buckets[p]);
    free(f->delayed);
    farm_db_close(f);
    cas_store_close(f->cs);
    pthread_cond_destroy(&f->work_cv);
    pthread_cond_destroy(&f->event_cv);
    pthread_cond_destroy(&f->ac_cv);
    pthread_cond_destroy(&f->sampler_cv);
    farm_events_release(f);
    free(f->web_dir);
    free(f->ac_queue);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
