/* farm/sched.c - which unit runs where. Units wait in per-job queues, one per class of
 * requirements; jobs with runnable units are listed per priority. A lease request takes
 * the highest priority first and, among jobs of equal priority, one unit per job in
 * turn (fair sharing), skipping classes the agent does not match and jobs it is
 * blocklisted from. Matching is decided once per (agent, class). */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "kernels/kernel_job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_PRIORITY 1
#define MAX_PRIORITY 10

/* ---- requirement classes --------------------------------------------------------------- */

static const char *const known_requirements[] = {
    "architecture", "os", "min_cores", "min_memory_gb", "gpu_required", "gpu_memory_gb",
    "toolchains", NULL
};

static int parse_req(const json_t *r, struct req *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    if (!r || json_is_null(r))
        return 0;
    if (!json_is_object(r)) {
        snprintf(why, why_len, "'requirements' must be an object");
        return UDCS_EPROTO;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)r, key, v) {
        int known = 0;
        for (int i = 0; known_requirements[i]; i++)
            known |= strcmp(key, known_requirements[i]) == 0;
        if (!known) {
            snprintf(why, why_len, "unknown requirement '%s'; known: architecture, os, "
                     "min_cores, min_memory_gb, gpu_required, gpu_memory_gb, toolchains", key);
            return UDCS_EPROTO;
        }
    }
    json_t *arch = json_object_get(r, "architecture"), *os = json_object_get(r, "os"),
           *cores = json_object_get(r, "min_cores"), *mem = json_object_get(r, "min_memory_gb"),
           *gpu = json_object_get(r, "gpu_required"), *gmem = json_object_get(r, "gpu_memory_gb"),
           *tc = json_object_get(r, "toolchains");
    if ((arch && !json_is_string(arch)) || (os && !json_is_string(os)) ||
        (cores && !json_is_integer(cores)) || (mem && !json_is_number(mem)) ||
        (gpu && !json_is_boolean(gpu)) || (gmem && !json_is_number(gmem)) ||
        (tc && !json_is_array(tc))) {
        snprintf(why, why_len, "requirements: architecture and os are strings, min_cores an "
                 "integer, min_memory_gb and gpu_memory_gb numbers, gpu_required true or "
                 "false, toolchains an array of names (NAME or NAME@FINGERPRINT)");
        return UDCS_EPROTO;
    }
    out->architecture = arch ? strdup(json_string_value(arch)) : NULL;
    out->os = os ? strdup(json_string_value(os)) : NULL;
    out->cores = cores ? (int)json_integer_value(cores) : 0;
    out->memory_gb = mem ? json_number_value(mem) : 0;
    out->gpu = (gpu && json_is_true(gpu)) || (gmem && json_number_value(gmem) > 0);
    out->gpu_memory_gb = gmem ? json_number_value(gmem) : 0;
    size_t n = json_array_size(tc);
    out->toolchains = n ? calloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(tc, i));
        if (!name) {
            snprintf(why, why_len, "requirements: toolchains must be an array of names");
            return UDCS_EPROTO;
        }
        out->toolchains[out->n_toolchains++] = strdup(name);
    }
    return 0;
}

static void release_req(struct req *r)
{
    free(r->architecture);
    free(r->os);
    for (size_t i = 0; i < r->n_toolchains; i++)
        free(r->toolchains[i]);
    free(r->toolchains);
}

static char *describe_req(const struct req *r)
{
    struct udcs_buf b = UDCS_BUF_INIT(4096);
    if (r->architecture)
        udcs_buf_appendf(&b, "%sarchitecture %s", b.len ? ", " : "", r->architecture);
    if (r->os)
        udcs_buf_appendf(&b, "%sos %s", b.len ? ", " : "", r->os);
    if (r->cores)
        udcs_buf_appendf(&b, "%s%d cores", b.len ? ", " : "", r->cores);
    if (r->memory_gb > 0)
        udcs_buf_appendf(&b, "%s%.1f GB of memory", b.len ? ", " : "", r->memory_gb);
    if (r->gpu)
        udcs_buf_appendf(&b, "%sa GPU", b.len ? ", " : "");
    if (r->gpu_memory_gb > 0)
        udcs_buf_appendf(&b, " with %.1f GB", r->gpu_memory_gb);
    for (size_t i = 0; i < r->n_toolchains; i++)
        udcs_buf_appendf(&b, "%stoolchain %s", b.len ? ", " : "", r->toolchains[i]);
    if (!b.len)
        udcs_buf_append_str(&b, "no special requirements");
    return udcs_buf_detach(&b, NULL);
}

int farm_class_for(struct farm *f, const json_t *requirements, int *class_id, char *why,
                   size_t why_len)
{
    struct req r;
    int rc = parse_req(requirements, &r, why, why_len);
    if (rc < 0) {
        release_req(&r);
        return rc;
    }
    char *key = requirements && !json_is_null(requirements)
                    ? json_dumps(requirements, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    for (size_t i = 0; key && i < f->n_classes; i++) {
        if (strcmp(f->classes[i].key, key) == 0) {
            free(key);
            release_req(&r);
            *class_id = (int)i;
            return 0;
        }
    }
    struct req_class *c = key ? realloc(f->classes, (f->n_classes + 1) * sizeof(*c)) : NULL;
    if (!c) {
        free(key);
        release_req(&r);
        return -ENOMEM;
    }
    f->classes = c;
    c[f->n_classes].req = r;
    c[f->n_classes].key = key;
    c[f->n_classes].text = describe_req(&r);
    *class_id = (int)f->n_classes++;
    return 0;
}

/* ---- matching ----------------------------------------------------------------------------- */

/* Whether the agent offers toolchain `want`: a name ("gcc"), or a name and the
 * fingerprint of its binary ("gcc@0123...") when only that exact build will do. */
static int has_toolchain(const json_t *info, const char *want)
{
    const char *at = strchr(want, '@');
    size_t name_len = at ? (size_t)(at - want) : strlen(want);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(info, "toolchains"), i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        const char *fp = json_string_value(json_object_get(t, "fingerprint"));
        if (n && strlen(n) == name_len && strncmp(n, want, name_len) == 0 &&
            (!at || (fp && strcmp(fp, at + 1) == 0)))
            return 1;
    }
    return 0;
}

static int agent_satisfies(const json_t *info, const struct req *r)
{
    const char *arch = json_string_value(json_object_get(info, "architecture"));
    const char *os = json_string_value(json_object_get(info, "os"));
    if (r->architecture && (!arch || strcmp(arch, r->architecture) != 0))
        return 0;
    if (r->os && (!os || strcmp(os, r->os) != 0))
        return 0;
    if (r->cores && json_integer_value(json_object_get(info, "cpu_cores")) < r->cores)
        return 0;
    if (r->memory_gb > 0 && json_number_value(json_object_get(info, "ram_gb")) < r->memory_gb)
        return 0;
    if (r->gpu) {
        int found = 0;
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(info, "gpus"), i, g)
            found |= json_number_value(json_object_get(g, "memory_gb")) >= r->gpu_memory_gb;
        if (!found)
            return 0;
    }
    for (size_t i = 0; i < r->n_toolchains; i++)
        if (!has_toolchain(info, r->toolchains[i]))
            return 0;
    return 1;
}

int farm_agent_matches(struct farm *f, struct agent *a, int class_id)
{
    if ((size_t)class_id >= a->n_class_match) {
        size_t n = f->n_classes > (size_t)class_id ? f->n_classes : (size_t)class_id + 1;
        signed char *m = realloc(a->class_match, n);
        if (!m)
            return agent_satisfies(a->info, &f->classes[class_id].req);
        memset(m + a->n_class_match, -1, n - a->n_class_match);
        a->class_match = m;
        a->n_class_match = n;
    }
    if (a->class_match[class_id] < 0)
        a->class_match[class_id] = (signed char)agent_satisfies(a->info,
                                                                &f->classes[class_id].req);
    return a->class_match[class_id];
}

int farm_agent_blocked(struct farm *f, const struct agent *a, int64_t job_id)
{
    for (size_t i = 0; i < a->n_blocked; i++)
        if (a->blocked[i].job_id == job_id)
            return a->blocked[i].failures >= f->opt.blocklist_after;
    return 0;
}

/* ---- queues -------------------------------------------------------------------------------- */

static int bucket_add(struct farm *f, struct job *j)
{
    int p = j->priority;
    if (j->in_bucket)
        return 0;
    if (f->n_bucket[p] == f->cap_bucket[p]) {
        size_t cap = f->cap_bucket[p] ? f->cap_bucket[p] * 2 : 16;
        struct job **b = realloc(f->buckets[p], cap * sizeof(*b));
        if (!b)
            return -ENOMEM;
        f->buckets[p] = b;
        f->cap_bucket[p] = cap;
    }
    f->buckets[p][f->n_bucket[p]++] = j;
    j->in_bucket = 1;
    return 0;
}

static struct job_queue *queue_of(struct job *j, int class_id)
{
    for (size_t i = 0; i < j->n_queues; i++)
        if (j->queues[i].class_id == class_id)
            return &j->queues[i];
    struct job_queue *q = realloc(j->queues, (j->n_queues + 1) * sizeof(*q));
    if (!q)
        return NULL;
    j->queues = q;
    q = &j->queues[j->n_queues++];
    memset(q, 0, sizeof(*q));
    q->class_id = class_id;
    return q;
}

void farm_enqueue(struct farm *f, struct unit *u)
{
    struct job_queue *q = queue_of(u->job, u->class_id);
    if (!q)
        return;
    u->next = NULL;
    if (q->tail)
        q->tail->next = u;
    else
        q->head = u;
    q->tail = u;
    q->n++;
    bucket_add(f, u->job);
}

void farm_dequeue(struct farm *f, struct unit *u)
{
    (void)f;
    struct job_queue *q = queue_of(u->job, u->class_id);
    struct unit *prev = NULL;
    for (struct unit *c = q ? q->head : NULL; c; prev = c, c = c->next) {
        if (c != u)
            continue;
        if (prev)
            prev->next = c->next;
        else
            q->head = c->next;
        if (q->tail == c)
            q->tail = prev;
        q->n--;
        c->next = NULL;
        return;
    }
    /* not in a queue: it is in backoff; the delayed list drops it when it wakes */
}

static size_t job_queued(const struct job *j)
{
    size_t n = 0;
    for (size_t i = 0; i < j->n_queues; i++)
        n += j->queues[i].n;
    return n;
}

/* Take the first unit of `j` that `a` can run. */
static struct unit *take_for(struct farm *f, struct job *j, struct agent *a)
{
    if (j->state != JOB_RUNNING || farm_agent_blocked(f, a, j->id))
        return NULL;
    /* Units waiting for a toolchain to be pinned ("pin_toolchain") that this agent can run:
     * it pins them to its builds first (they move to the pinned classes; some may complete
     * from the cache). Units of toolchains it does not offer are in classes it does not
     * match, so this runs once per agent that brings something new. */
    for (size_t i = 0; j->pin_pending && i < j->n_queues; i++) {
        struct job_queue *q = &j->queues[i];
        if (!q->head || !strstr(q->head->spec, "\"pin_toolchain\"") ||
            !farm_agent_matches(f, a, q->class_id))
            continue;
        if (farm_job_pin(f, j, a) < 0)
            udcs_log_error("farm: job %lld: cannot pin its toolchains", (long long)j->id);
        if (j->state != JOB_RUNNING)
            return NULL;
        break;
    }
    for (size_t i = 0; i < j->n_queues; i++) {
        struct job_queue *q = &j->queues[i];
        if (!q->head || !farm_agent_matches(f, a, q->class_id))
            continue;
        if (j->pin_pending && strstr(q->head->spec, "\"pin_toolchain\""))
            continue;   /* not pinned (pinning failed): never run under an unpinned key */
        struct unit *u = q->head;
        q->head = u->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        u->next = NULL;
        return u;
    }
    return NULL;
}

int farm_job_set_priority(struct farm *f, struct job *j, int priority)
{
    if (priority < MIN_PRIORITY || priority > MAX_PRIORITY)
        return -EINVAL;
    int old = j->priority;
    if (j->in_bucket && old != priority) {
        /* out of the old priority's bucket, into the new one's: the next pick sees it */
        size_t w = 0;
        for (size_t r = 0; r < f->n_bucket[old]; r++)
            if (f->buckets[old][r] != j)
                f->buckets[old][w++] = f->buckets[old][r];
        f->n_bucket[old] = w;
        if (f->cursor[old] >= w)
            f->cursor[old] = 0;
        j->in_bucket = 0;
        j->priority = priority;
        if (bucket_add(f, j) < 0)
            return -ENOMEM;
    }
    j->priority = priority;
    return 0;
}

/* Drop jobs with nothing queued from a bucket. */
static void bucket_compact(struct farm *f, int p)
{
    size_t w = 0;
    for (size_t r = 0; r < f->n_bucket[p]; r++) {
        struct job *j = f->buckets[p][r];
        if (j->state == JOB_RUNNING && job_queued(j) > 0)
            f->buckets[p][w++] = j;
        else
            j->in_bucket = 0;
    }
    f->n_bucket[p] = w;
    if (f->cursor[p] >= w)
        f->cursor[p] = 0;
}

static void lease(struct farm *f, struct unit *u, struct agent *a)
{
    uint64_t now = farm_now_ms();
    u->agent_id = a->id;
    u->epoch++;
    u->lease_expires_ms = now + f->opt.lease_ttl_ms;
    u->started_ms = now;
    farm_set_unit_state(f, u, UNIT_LEASED);
    farm_agent_hold(a, u->id);
    f->leases_granted++;
    farm_db_save_unit(f, u);
    farm_unit_event(f, u, "unit_started", json_pack("{s:I}", "epoch", (json_int_t)u->epoch));
}

size_t farm_pick(struct farm *f, struct agent *a, struct unit **out, size_t max)
{
    size_t got = 0;
    if (a->admin_drained)
        return 0;   /* an operator drained it: its running units finish, nothing new */
    /* Never more than the slots it registered with, whatever it asks for. */
    size_t free_slots = a->running < a->slots ? (size_t)(a->slots - a->running) : 0;
    if (max > free_slots)
        max = free_slots;
    for (int p = MAX_PRIORITY; p >= MIN_PRIORITY && got < max; p--) {
        bucket_compact(f, p);
        size_t n = f->n_bucket[p];
        int progress = 1;
        while (n && got < max && progress) {
            progress = 0;
            /* one unit per job per round, starting where the last round stopped */
            for (size_t k = 0; k < n && got < max; k++) {
                size_t at = (f->cursor[p] + k) % n;
                struct unit *u = take_for(f, f->buckets[p][at], a);
                if (!u)
                    continue;
                lease(f, u, a);
                out[got++] = u;
                progress = 1;
                f->cursor[p] = (at + 1) % n;
            }
        }
    }
    return got;
}

size_t farm_release_delayed(struct farm *f, uint64_t now)
{
    size_t w = 0, released = 0;
    for (size_t r = 0; r < f->n_delayed; r++) {
        struct unit *u = f->delayed[r];
        if (u->state != UNIT_QUEUED || u->job->state != JOB_RUNNING)
            continue;   /* cancelled, or finished some other way: forget it */
        if (u->not_before_ms > now) {
            f->delayed[w++] = u;
            continue;
        }
        farm_enqueue(f, u);
        released++;
    }
    f->n_delayed = w;
    return released;
}

/* ---- why a unit waits -------------------------------------------------------------------- */

/* The device API a class needs, as people name it ("CUDA", "OpenCL", "CUDA on the device
 * class the job is pinned to"), or NULL when it needs none. */
static const char *device_api_required(const struct req *r)
{
    static const struct { const char *toolchain, *name, *pinned; } apis[] = {
        { KERNEL_TOOLCHAIN_CUDA, "CUDA", "CUDA on the device class this job is pinned to" },
        { KERNEL_TOOLCHAIN_OPENCL, "OpenCL",
          "OpenCL on the device class this job is pinned to" },
    };
    for (size_t i = 0; i < r->n_toolchains; i++) {
        for (size_t k = 0; k < sizeof(apis) / sizeof(apis[0]); k++) {
            size_t len = strlen(apis[k].toolchain);
            const char *t = r->toolchains[i];
            if (strncmp(t, apis[k].toolchain, len) == 0 && (t[len] == '\0' || t[len] == '@'))
                return t[len] ? apis[k].pinned : apis[k].name;
        }
    }
    return NULL;
}

char *farm_unit_why(struct farm *f, struct unit *u)
{
    struct udcs_buf b = UDCS_BUF_INIT(2048);
    uint64_t now = farm_now_ms();
    if (u->state == UNIT_WAITING) {
        udcs_buf_append_str(&b, "waiting for units");
        size_t shown = 0, pending = 0;
        for (size_t i = 0; i < u->n_deps; i++) {
            struct unit *d = farm_unit(f, u->deps[i]);
            if (!d || d->state == UNIT_DONE)
                continue;
            if (shown < 8)
                udcs_buf_appendf(&b, "%s %d", shown ? "," : "", d->index);
            shown++;
            pending++;
        }
        if (pending > 8)
            udcs_buf_appendf(&b, " and %zu more", pending - 8);
        return udcs_buf_detach(&b, NULL);
    }
    if (u->state != UNIT_QUEUED)
        return NULL;
    if (u->not_before_ms > now) {
        udcs_buf_appendf(&b, "retry %d of %d in %.1f s after: %s", u->attempts + 1,
                         u->max_attempts, (double)(u->not_before_ms - now) / 1000,
                         u->error ? u->error : "a failure");
        return udcs_buf_detach(&b, NULL);
    }
    size_t matching = 0, alive = 0, blocked = 0, busy = 0, drained = 0;
    for (size_t i = 1; i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        if (!a || !farm_agent_matches(f, a, u->class_id))
            continue;
        matching++;
        if (a->state == AGENT_LOST)
            continue;
        alive++;
        if (farm_agent_blocked(f, a, u->job->id))
            blocked++;
        else if (a->admin_drained)
            drained++;
        else if (a->draining || a->running >= a->slots)
            busy++;
    }
    const struct req_class *c = &f->classes[u->class_id];
    const char *api = alive == 0 ? device_api_required(&c->req) : NULL;
    if (api)
        udcs_buf_appendf(&b, "no agent offers %s%s", api,
                         matching ? " (the matching ones are lost)" : "");
    else if (alive == 0 && strcmp(c->key, "{}") == 0)
        udcs_buf_appendf(&b, "no agent is connected%s", matching ? " (the known ones are lost)" : "");
    else if (alive == 0)
        udcs_buf_appendf(&b, "no agent with %s is connected%s", c->text,
                         matching ? " (the matching ones are lost)" : "");
    else if (blocked == alive)
        udcs_buf_appendf(&b, "all %zu matching agents are blocklisted for this job", alive);
    else if (drained && busy + blocked + drained == alive)
        udcs_buf_appendf(&b, "all %zu matching agents busy or drained by an operator (%zu "
                         "drained: 'udcs enable AGENT')", alive, drained);
    else if (busy + blocked == alive)
        udcs_buf_appendf(&b, "all %zu matching agents busy", alive);
    else
        udcs_buf_append_str(&b, "queued: the next free matching slot takes it");
    return udcs_buf_detach(&b, NULL);
}
