/* farm/events.c - the farm-wide event stream behind GET /api/events: one ring of the
 * latest events with sequence numbers, fed by unit state changes (at once) and by the
 * reaper's flush (agents and jobs, throttled). The HTTP side is in api_dash.c. Every
 * function here runs with farm.lock held. */
#include "farm/farm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char farm_unit_letter(const struct unit *u)
{
    switch (u->state) {
    case UNIT_WAITING: return 'w';
    case UNIT_QUEUED: return 'q';
    case UNIT_LEASED: return 'l';
    case UNIT_DONE: return u->cached ? 'c' : 'd';
    case UNIT_FAILED: return 'f';
    case UNIT_CANCELLED: return 'x';
    default: return '?';
    }
}

/* Append an event whose data is already JSON text; unit_job: the job of a `unit` event,
 * 0 for the others. */
static void add_text(struct farm *f, const char *event, const char *data, int64_t unit_job)
{
    uint64_t seq = f->next_fevent_seq++;
    struct farm_event *e = &f->fevents[seq % FARM_EVENTS_KEPT];
    free(e->text);
    e->text = NULL;
    e->seq = seq;
    e->unit_job = unit_job;
    if (asprintf(&e->text, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)seq, event,
                 data) < 0)
        e->text = NULL;
    pthread_cond_broadcast(&f->event_cv);
}

void farm_event_add(struct farm *f, const char *event, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(data);
    if (text)
        add_text(f, event, text, 0);
    free(text);
}

void farm_event_unit(struct farm *f, const struct unit *u)
{
    /* Many per second on a busy farm: written by hand, not through jansson. */
    char data[160];
    if (u->agent_id)
        snprintf(data, sizeof(data), "{\"job\":%lld,\"unit\":%d,\"state\":\"%c\",\"agent\":%lld}",
                 (long long)u->job->id, u->index, farm_unit_letter(u), (long long)u->agent_id);
    else
        snprintf(data, sizeof(data), "{\"job\":%lld,\"unit\":%d,\"state\":\"%c\",\"agent\":null}",
                 (long long)u->job->id, u->index, farm_unit_letter(u));
    add_text(f, "unit", data, u->job->id);
    u->job->events_dirty = 1;
}

void farm_event_agent(struct farm *f, struct agent *a)
{
    a->events_dirty = 0;
    a->event_state = a->state;
    a->event_drained = a->admin_drained;
    a->event_ms = farm_now_ms();
    farm_event_add(f, "agent", farm_agent_json(f, a));
}

void farm_event_job(struct farm *f, struct job *j)
{
    j->events_dirty = 0;
    j->event_state = j->state;
    j->event_ms = farm_now_ms();
    farm_event_add(f, "job", farm_job_json(f, j, 0, 0, 0, NULL));
}

void farm_events_flush(struct farm *f, uint64_t now)
{
    for (size_t i = 1; i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        if (!a)
            continue;
        if (a->state != a->event_state || a->admin_drained != a->event_drained ||
            (a->events_dirty && now >= a->event_ms + FARM_EVENT_AGENT_MS))
            farm_event_agent(f, a);
    }
    for (size_t i = 1; i < f->n_jobs; i++) {
        struct job *j = f->jobs[i];
        if (!j)
            continue;
        if (j->state != j->event_state ||
            (j->events_dirty && now >= j->event_ms + FARM_EVENT_JOB_MS))
            farm_event_job(f, j);
    }
}

int farm_sse_drained(struct farm_sse_text *p)
{
    if (p->off < p->len)
        return 0;
    free(p->text);
    *p = (struct farm_sse_text){ NULL, 0, 0 };
    return 1;
}

long farm_sse_copy(struct farm_sse_text *p, char *buf, size_t max)
{
    size_t n = p->len - p->off;
    if (n > max)
        n = max;
    memcpy(buf, p->text + p->off, n);
    p->off += n;
    return (long)n;
}

void farm_events_init(struct farm *f)
{
    /* Sequence numbers go on from the clock (a thousand a millisecond), so a client
     * resuming across a master restart does not name a number the new ring will use for
     * something else: it is older than the ring and starts from now. */
    f->next_fevent_seq = farm_now_ms() * 1000;
}

void farm_events_release(struct farm *f)
{
    for (size_t i = 0; i < FARM_EVENTS_KEPT; i++) {
        free(f->fevents[i].text);
        f->fevents[i].text = NULL;
    }
}
