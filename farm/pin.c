/* farm/pin.c - pinning toolchains: which build of a toolchain a job's units run with, so
 * that a result cached from one build (or one device class) is never taken for another's.
 * At submission a job is pinned to the build most connected agents have; a unit marked
 * "pin_toolchain" that no agent could pin yet waits, and the first agent that takes it
 * pins it to its own build (farm_job_pin, from the scheduler). The pin is in the unit's
 * requirements (NAME@FINGERPRINT) and in its action's environment, so in its key. */
#include "farm/farm_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *farm_agent_toolchain_fingerprint(const struct agent *a, const char *name)
{
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(a->info, "toolchains"), k, t) {
        const char *fp = json_string_value(json_object_get(t, "fingerprint"));
        const char *tn = json_string_value(json_object_get(t, "name"));
        if (fp && tn && strcmp(tn, name) == 0)
            return fp;
    }
    return NULL;
}

const char *farm_common_fingerprint(struct farm *f, const char *name)
{
    const char **fps = calloc(f->n_agents + 1, sizeof(*fps));
    size_t n = 0;
    for (size_t i = 0; fps && i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        if (!a || a->state == AGENT_LOST)
            continue;
        const char *fp = farm_agent_toolchain_fingerprint(a, name);
        if (fp)
            fps[n++] = fp;
    }
    const char *best = NULL;
    if (n)
        qsort(fps, n, sizeof(*fps), cmp_text);
    for (size_t i = 0, best_run = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(fps[j], fps[i]) == 0)
            j++;
        if (j - i > best_run) {
            best = fps[i];
            best_run = j - i;
        }
        i = j;
    }
    free(fps);
    return best;
}

int farm_toolchain_offered(struct farm *f, const char *name, const char *fp)
{
    for (size_t i = 0; i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        const char *have = a && a->state != AGENT_LOST ? farm_agent_toolchain_fingerprint(a, name)
                                                       : NULL;
        if (have && strcmp(have, fp) == 0)
            return 1;
    }
    return 0;
}

int farm_pin_spec(json_t *spec, const char *fingerprint)
{
    const char *name = json_string_value(json_object_get(spec, "pin_toolchain"));
    if (!name)
        return 0;
    char pinned[256];
    if ((size_t)snprintf(pinned, sizeof(pinned), "%s@%s", name, fingerprint) >= sizeof(pinned))
        return -EINVAL;
    json_t *list = json_object_get(json_object_get(spec, "requirements"), "toolchains");
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
        if (json_string_value(t) && strcmp(json_string_value(t), name) == 0)
            json_array_set_new(list, i, json_string(pinned));
    json_t *env = json_object_get(spec, "env");
    if (!env) {
        env = json_object();
        json_object_set_new(spec, "env", env);
    }
    /* in the action, so in its key: a result is cached for this build of the toolchain */
    json_object_set_new(env, FARM_PINNED_TOOLCHAIN_ENV, json_string(pinned));
    json_object_del(spec, "pin_toolchain");
    return 0;
}

int farm_job_pin(struct farm *f, struct job *j, struct agent *a)
{
    uint64_t now = farm_now_ms();
    int rc = 0, pinned_any = 0, pending = 0;
    for (size_t i = 0; i < j->n_units; i++) {
        struct unit *u = j->units[i];
        json_t *spec = farm_unit_spec(u);
        const char *want = json_string_value(json_object_get(spec, "pin_toolchain"));
        if (!want || (u->state != UNIT_QUEUED && u->state != UNIT_WAITING)) {
            json_decref(spec);
            continue;
        }
        /* each unit's own toolchain, as this agent has it; units of toolchains it does not
         * offer wait for an agent that does */
        const char *fp = rc == 0 ? farm_agent_toolchain_fingerprint(a, want) : NULL;
        if (!fp) {
            json_decref(spec);
            pending = 1;
            continue;
        }
        json_t *pins = json_object_get(j->spec, "pinned_toolchains");
        if (!json_is_object(pins)) {
            pins = json_object();
            json_object_set_new(j->spec, "pinned_toolchains", pins);
        }
        if (!json_object_get(pins, want))
            json_object_set_new(pins, want, json_string(fp));
        if (kernel_job_api(j->type) >= 0 && !json_object_get(j->spec, "device_fingerprint"))
            json_object_set_new(j->spec, "device_fingerprint", json_string(fp));
        char *text = NULL, why[512];
        int class_id = u->class_id;
        rc = farm_pin_spec(spec, fp);
        if (rc == 0 && !(text = json_dumps(spec, JSON_COMPACT)))
            rc = -ENOMEM;
        if (rc == 0)
            rc = farm_class_for(f, json_object_get(spec, "requirements"), &class_id, why,
                                sizeof(why));
        json_decref(spec);
        if (rc < 0) {
            free(text);
            pending = 1;   /* this unit and the ones after it are still unpinned */
            continue;
        }
        if (u->state == UNIT_QUEUED)
            farm_dequeue(f, u);   /* from its old class; a unit in backoff is in no queue */
        free(u->spec);
        u->spec = text;
        u->class_id = class_id;
        u->has_action = 0;
        pinned_any = 1;
    }
    j->pin_pending = pending;
    int saved = pinned_any ? farm_db_save_specs(f, j) : 0;
    if (rc == 0)
        rc = saved;
    /* Then, every spec pinned, the queued units under their new keys: one may complete
     * from the cache and make later ones ready, which must see pinned specs too. */
    for (size_t i = 0; pinned_any && i < j->n_units && j->state == JOB_RUNNING; i++) {
        struct unit *u = j->units[i];
        char why[512];
        if (u->state != UNIT_QUEUED || u->has_action || strstr(u->spec, "\"pin_toolchain\""))
            continue;
        int r = u->not_before_ms <= now
                    ? farm_unit_ready(f, u)   /* its new action may be cached already */
                    : farm_resolve_action(f, u, why, sizeof(why));   /* in backoff: the
                                                  * delayed list queues it in its new class */
        if (rc == 0)
            rc = r;
    }
    return rc;
}

