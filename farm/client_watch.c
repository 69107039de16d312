/* farm/client_watch.c - watching a job from the programs that submit one and write its
 * results as they come (udcs-render, udcs-encode): its events followed in a thread, ^C
 * cancelling it, a word on why nothing happens when nothing does, and a last sweep over
 * the finished units for what the event stream did not show. */
#include "farm/client.h"
#include "common/clock.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int on_event(void *arg, const char *event, const char *data)
{
    struct client_watch *w = arg;
    w->last_event_ms = udcs_mono_ms();
    json_t *d = json_loads(data, 0, NULL);
    if (!d)
        return 0;
    if (strcmp(event, "job_finished") == 0) {
        const char *st = json_string_value(json_object_get(d, "state"));
        const char *err = json_string_value(json_object_get(d, "error"));
        snprintf(w->state, sizeof(w->state), "%s", st ? st : "?");
        snprintf(w->error, sizeof(w->error), "%s", err ? err : "");
    }
    int rc = w->on_event(w->arg, event, d);
    json_decref(d);
    return rc;
}

static void *follow_thread(void *arg)
{
    struct client_watch *w = arg;
    char id[32];
    snprintf(id, sizeof(id), "%lld", w->id);
    if ((w->follow_rc = client_follow(w->c, id, on_event, w)) < 0)
        w->failed = 1;
    w->finished = 1;
    return NULL;
}

static uint64_t quiet_warn_ms(const struct client_watch *w)
{
    return w->quiet_warn_ms ? w->quiet_warn_ms : CLIENT_QUIET_WARN_MS;
}

/* Nothing has happened for a while: say what the first unit that is not done waits for
 * (the master's own words: "no agent with toolchain povray is connected", ...). */
static void say_why_waiting(struct client_watch *w)
{
    struct client other = { .cfg = w->c->cfg };
    char path[128];
    json_t *j = NULL;
    snprintf(path, sizeof(path), "/api/jobs/%lld?state=queued&limit=1", w->id);
    if (client_open(&other) == 0 && client_call_json(&other, "GET", path, NULL, &j) == 0) {
        json_t *u = json_array_get(json_object_get(j, "unit_list"), 0);
        const char *why = json_string_value(json_object_get(u, "why"));
        const char *name = json_string_value(json_object_get(u, "name"));
        if (why)
            fprintf(stderr, "%s%s: no progress for %d s; %s waits: %s ('udcs job %lld' shows "
                    "every unit)\n", w->tty ? "\n" : "", w->program,
                    (int)(quiet_warn_ms(w) / 1000), name ? name : "a unit", why, w->id);
    }
    json_decref(j);
    client_close(&other);
}

int client_watch(struct client_watch *w)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    if (!w->not_owner) {   /* else the set stays empty: sigtimedwait() only waits */
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
    }
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pthread_t t;
    w->last_event_ms = udcs_mono_ms();
    if (pthread_create(&t, NULL, follow_thread, w) != 0)
        return -1;
    int interrupted = 0;
    while (!w->finished) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig < 0) {
            if (!w->json && !interrupted && udcs_mono_ms() - w->last_event_ms > quiet_warn_ms(w)) {
                say_why_waiting(w);
                w->last_event_ms = udcs_mono_ms();
            }
            continue;
        }
        if (interrupted++) {
            fprintf(stderr, "\n%s: job %lld is being cancelled; %s\n", w->program, w->id,
                    w->cancel_note);
            _exit(130);
        }
        struct client other = { .cfg = w->c->cfg };
        char path[64];
        snprintf(path, sizeof(path), "/api/jobs/%lld", w->id);
        if (client_open(&other) == 0)
            client_call_json(&other, "DELETE", path, NULL, NULL);
        client_close(&other);
        fprintf(stderr, "\n%s: cancelled job %lld; %s\n", w->program, w->id, w->cancel_note);
    }
    pthread_join(t, NULL);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    return interrupted ? 130 : 0;
}

int client_watch_sweep(struct client_watch *w, client_unit_fn *fn)
{
    for (size_t offset = 0;; offset += 1000) {
        char path[128];
        json_t *j;
        snprintf(path, sizeof(path), "/api/jobs/%lld?limit=1000&offset=%zu", w->id, offset);
        int rc = client_call_json(w->c, "GET", path, NULL, &j);
        if (rc < 0)
            return rc;
        json_t *list = json_object_get(j, "unit_list"), *u;
        size_t i;
        json_array_foreach(list, i, u) {
            json_t *result = json_object_get(u, "result");
            if (result && json_integer_value(json_object_get(result, "exit_code")) == 0 &&
                fn(w->arg, json_string_value(json_object_get(u, "name")),
                   json_object_get(result, "outputs"),
                   json_is_true(json_object_get(u, "cached"))) < 0)
                rc = -1;
        }
        size_t got = json_array_size(list);
        json_decref(j);
        if (rc < 0)
            return rc;
        if (got < 1000)
            return 0;
    }
}

void client_draw_progress(size_t done, size_t total, const char *text, uint64_t start_ms,
                          double eta)
{
    int width = 30, filled = (int)(width * (done < total ? done : total) /
                                   (total ? total : 1));
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    double elapsed = (double)(udcs_mono_ms() - start_ms) / 1000;
    if (eta < 0)
        fprintf(stderr, "\r[%s] %s, %.0fs   ", bar, text, elapsed);
    else
        fprintf(stderr, "\r[%s] %s, %.0fs, ETA %.0fs   ", bar, text, elapsed, eta);
}

void client_print_event(json_t *event)
{
    char *t = event ? json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    printf("%s\n", t ? t : "{}");
    fflush(stdout);
    free(t);
    json_decref(event);
}

void client_say_unit_trouble(const char *event, json_t *d, int json, int tty)
{
    const char *err = json_string_value(json_object_get(d, "error"));
    const char *name = json_string_value(json_object_get(d, "name"));
    if (json) {
        json_object_set_new(d, "event", json_string(event));
        client_print_event(json_incref(d));
    } else {
        fprintf(stderr, "%s%s %s: %s\n", tty ? "\n" : "", name ? name : "unit",
                strcmp(event, "unit_failed") == 0 ? "failed" : "will be retried",
                err ? err : "");
    }
}
