/* farm/views.c - jobs, units and agents as the API shows them (JSON). Called with the
 * lock held. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "kernels/kernel_job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ms_or_null(uint64_t ms)
{
    return ms ? json_integer((json_int_t)ms) : json_null();
}

json_t *farm_unit_json(struct farm *f, struct unit *u)
{
    char hex[CAS_HEX_LEN + 1];
    json_t *j = json_pack("{s:I, s:I, s:i, s:s, s:i, s:i, s:b, s:o, s:o, s:o}", "id",
                          (json_int_t)u->id, "job", (json_int_t)u->job->id, "index", u->index,
                          "state", farm_unit_state_names[u->state], "attempts", u->attempts,
                          "max_attempts", u->max_attempts, "cached", u->cached, "queued_ms",
                          ms_or_null(u->queued_ms), "started_ms", ms_or_null(u->started_ms),
                          "finished_ms", ms_or_null(u->finished_ms));
    if (!j)
        return NULL;
    json_t *spec = farm_unit_spec(u);
    json_object_set(j, "argv", json_object_get(spec, "argv"));
    if (json_object_get(spec, "name"))
        json_object_set(j, "name", json_object_get(spec, "name"));
    json_decref(spec);
    if (u->has_action)
        json_object_set_new(j, "action", json_string(cas_digest_hex(&u->action_digest, hex)));
    if (u->agent_id) {
        struct agent *a = farm_agent(f, u->agent_id);
        json_object_set_new(j, "agent", json_integer(u->agent_id));
        if (a)
            json_object_set_new(j, "agent_name", json_string(a->name));
        json_object_set_new(j, "epoch", json_integer((json_int_t)u->epoch));
    }
    if (u->state == UNIT_DONE || u->state == UNIT_FAILED)
        json_object_set_new(j, "exit_code", json_integer(u->exit_code));
    if (u->error)
        json_object_set_new(j, "error", json_string(u->error));
    if (u->result_json) {
        json_t *r = json_loads(u->result_json, 0, NULL);
        if (r)
            json_object_set_new(j, "result", r);
    }
    char *why = farm_unit_why(f, u);
    if (why) {
        json_object_set_new(j, "why", json_string(why));
        free(why);
    }
    return j;
}

/* A finished kernel job's outputs, by parameter name: {"digest", "type", "count"} and,
 * for arrays small enough to be JSON (as its inputs could be), their "values". The last
 * unit ("kernel" or "merge") holds them. */
static json_t *kernel_outputs_json(struct farm *f, struct job *jb)
{
    json_t *outs = json_object_get(jb->spec, "kernel_outputs"), *o;
    struct unit *last = jb->n_units ? jb->units[jb->n_units - 1] : NULL;
    struct cas_action_result r;
    char why[128];
    /* kernel_split() wrote "kernel_outputs" for kernel jobs; another job's field of that
     * name is the client's, and means nothing */
    if (kernel_job_api(jb->type) < 0 || !json_is_array(outs) || jb->state != JOB_DONE ||
        !last || !last->result_json ||
        cas_action_result_from_json(last->result_json, strlen(last->result_json), &r, why,
                                    sizeof(why)) < 0)
        return NULL;
    json_t *result = json_object();
    size_t i;
    json_array_foreach(outs, i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *path = json_string_value(json_object_get(o, "path"));
        const char *type = json_string_value(json_object_get(o, "type"));
        json_int_t count = json_integer_value(json_object_get(o, "count"));
        int width = (int)json_integer_value(json_object_get(o, "width"));
        size_t elem_bytes = (size_t)json_integer_value(json_object_get(o, "elem_bytes"));
        for (size_t k = 0; name && path && k < r.n_outputs; k++) {
            if (strcmp(r.outputs[k].path, path) != 0)
                continue;
            char hex[CAS_HEX_LEN + 1], digest[CAS_HEX_LEN + 32];
            snprintf(digest, sizeof(digest), "%s/%llu", cas_digest_hex(&r.outputs[k].digest, hex),
                     (unsigned long long)r.outputs[k].digest.size);
            json_t *entry = json_pack("{s:s, s:s, s:I, s:i}", "digest", digest, "type",
                                      type ? type : "", "count", count, "width", width);
            struct udcs_buf bytes = UDCS_BUF_INIT((size_t)KERNEL_JSON_ARRAY_MAX * 8 * 16);
            enum kernel_elem e = kernel_elem_by_name(type ? type : "");
            size_t es = kernel_elem_size(e);
            /* as kernel_split() wrote them; checked all the same before reading memory */
            int sane = entry && e != KERNEL_ELEM_NONE && count >= 0 &&
                       (width == 1 || width == 2 || width == 3 || width == 4 || width == 8 ||
                        width == 16) &&
                       (elem_bytes == es * (size_t)width || (width == 3 && elem_bytes == es * 4)) &&
                       count <= KERNEL_JSON_ARRAY_MAX / width;
            if (sane && cas_store_get_bytes(f->cs, &r.outputs[k].digest, &bytes) == 0 &&
                bytes.len == (size_t)count * elem_bytes)
                json_object_set_new(entry, "values",
                                    kernel_values_json(e, bytes.data, (size_t)count, width,
                                                       elem_bytes));
            udcs_buf_release(&bytes);
            json_object_set_new(result, name, entry);
        }
    }
    cas_action_result_release(&r);
    return result;
}

json_t *farm_job_json(struct farm *f, struct job *jb, int with_units, size_t offset,
                      size_t limit, const char *unit_state)
{
    json_t *counts = json_object();
    for (int s = 0; s < UNIT_STATE_COUNT; s++)
        json_object_set_new(counts, farm_unit_state_names[s],
                            json_integer((json_int_t)jb->counts[s]));
    json_t *j = json_pack("{s:I, s:s, s:i, s:s, s:I, s:o, s:I, s:o, s:I, s:I, s:f}", "id",
                          (json_int_t)jb->id, "type", jb->type, "priority", jb->priority,
                          "state", farm_job_state_names[jb->state], "created_ms",
                          (json_int_t)jb->created_ms, "finished_ms", ms_or_null(jb->finished_ms),
                          "units_total", (json_int_t)jb->n_units, "units", counts, "cache_hits",
                          (json_int_t)jb->cache_hits, "retries", (json_int_t)jb->retries,
                          "progress", jb->n_units ? (double)jb->counts[UNIT_DONE] /
                                                        (double)jb->n_units : 1.0);
    if (!j)
        return NULL;
    if (jb->error)
        json_object_set_new(j, "error", json_string(jb->error));
    if (jb->callback_url)
        json_object_set_new(j, "callback_url", json_string(jb->callback_url));
    if (!with_units)
        return j;
    json_t *kernel = kernel_outputs_json(f, jb);
    if (kernel) {
        /* the values alone too, by name, as the seed's example reads them: c = [5, 7, 9] */
        json_t *values = json_object(), *o;
        const char *name;
        json_object_foreach(kernel, name, o)
            if (json_object_get(o, "values"))
                json_object_set(values, name, json_object_get(o, "values"));
        json_object_set_new(j, "outputs", kernel);
        json_object_set_new(j, "result", values);
    }
    if (json_object_get(jb->spec, "device_fingerprint"))
        json_object_set(j, "device_fingerprint", json_object_get(jb->spec, "device_fingerprint"));
    json_t *list = json_array();
    size_t seen = 0;
    for (size_t i = 0; i < jb->n_units && json_array_size(list) < limit; i++) {
        struct unit *u = jb->units[i];
        if (unit_state && strcmp(unit_state, farm_unit_state_names[u->state]) != 0)
            continue;
        if (seen++ < offset)
            continue;
        json_array_append_new(list, farm_unit_json(f, u));
    }
    json_object_set_new(j, "unit_list", list);
    json_object_set_new(j, "unit_offset", json_integer((json_int_t)offset));
    return j;
}

static json_t *agent_load_json(const struct agent *a);

json_t *farm_agent_json(struct farm *f, struct agent *a)
{
    json_t *j = json_deep_copy(a->info);
    if (!j)
        j = json_object();
    json_object_set_new(j, "id", json_integer(a->id));
    json_object_set_new(j, "name", json_string(a->name));
    json_object_set_new(j, "status", json_string(farm_agent_state_names[a->state]));
    json_object_set_new(j, "slots", json_integer(a->slots));
    json_object_set_new(j, "running", json_integer(a->running));
    json_object_set_new(j, "last_seen_ms", json_integer((json_int_t)a->last_seen_ms));
    json_object_set_new(j, "registered_ms", json_integer((json_int_t)a->registered_ms));
    json_object_set_new(j, "units_done", json_integer((json_int_t)a->units_done));
    json_object_set_new(j, "units_failed", json_integer((json_int_t)a->units_failed));
    json_t *blocked = json_array();
    for (size_t i = 0; i < a->n_blocked; i++)
        if (farm_agent_blocked(f, a, a->blocked[i].job_id))
            json_array_append_new(blocked, json_integer(a->blocked[i].job_id));
    json_object_set_new(j, "blocklisted_jobs", blocked);
    json_t *units = json_array();
    for (int i = 0; i < a->running; i++) {
        struct unit *u = farm_unit(f, a->leases[i]);
        if (u)
            json_array_append_new(units, json_pack("{s:I, s:I, s:i}", "unit", (json_int_t)u->id,
                                                   "job", (json_int_t)u->job->id, "index",
                                                   u->index));
    }
    json_object_set_new(j, "units", units);
    json_object_set_new(j, "state", json_string(farm_agent_state_names[a->state]));
    json_object_set_new(j, "admin_drained", json_boolean(a->admin_drained));
    json_t *running = json_array();
    for (int i = 0; i < a->running; i++) {
        struct unit *u = farm_unit(f, a->leases[i]);
        if (!u)
            continue;
        json_t *spec = farm_unit_spec(u);
        const char *name = json_string_value(json_object_get(spec, "name"));
        char label[32];
        if (!name) {
            snprintf(label, sizeof(label), "unit %d", u->index);
            name = label;
        }
        json_array_append_new(running, json_pack("{s:I, s:i, s:s}", "job", (json_int_t)u->job->id,
                                                 "unit", u->index, "name", name));
        json_decref(spec);
    }
    json_object_set_new(j, "running_units", running);
    json_object_set_new(j, "load", agent_load_json(a));
    json_object_set_new(j, "traffic", json_pack("{s:I, s:I}", "bytes_in",
                                                (json_int_t)a->traffic_in, "bytes_out",
                                                (json_int_t)a->traffic_out));
    return j;
}

/* ---- load --------------------------------------------------------------------------------- */

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

static double info_number(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* "load" of GET /api/devices: the last heartbeat's CPU, and memory and GPUs from the
 * detection object the heartbeat refreshed. */
static json_t *agent_load_json(const struct agent *a)
{
    double total = info_number(a->info, "ram_gb"), avail = info_number(a->info, "ram_free_gb");
    json_t *gpus = json_array(), *g;
    size_t i;
    json_array_foreach(json_object_get(a->info, "gpus"), i, g) {
        json_t *index = json_object_get(g, "index");
        json_array_append_new(gpus, json_pack("{s:I, s:o, s:o}", "index",
                                              json_is_integer(index) ? json_integer_value(index)
                                                                     : (json_int_t)i,
                                              "util", number_or_null(info_number(g, "utilization")
                                                                     / 100),
                                              "mem_used_gb",
                                              number_or_null(info_number(g, "memory_gb") -
                                                             info_number(g, "memory_free_gb"))));
    }
    /* "t": the newest series sample's time (unix seconds, as in the series), so that a
     * chart adds a point only for a new sample, not for each busy/idle change. */
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "cpu", number_or_null(a->cpu), "mem_used_gb",
                     number_or_null(total - avail), "mem_total_gb", number_or_null(total), "gpus",
                     gpus, "t", a->series_n ? json_integer((json_int_t)(a->series_ms / 1000))
                                            : json_null());
}

/* GET /api/devices/{id}/series: the samples of the last FARM_AGENT_SERIES_S, oldest first. */
json_t *farm_agent_series_json(const struct agent *a, uint64_t now)
{
    json_t *t = json_array(), *cpu = json_array(), *mem = json_array();
    json_t *gutil = json_array(), *gmem = json_array();
    size_t n_gpus = 0;
    size_t first = (a->series_next + FARM_AGENT_SERIES_KEPT - a->series_n) % FARM_AGENT_SERIES_KEPT;
    for (size_t k = 0; k < a->series_n; k++) {
        const struct agent_sample *s = &a->series[(first + k) % FARM_AGENT_SERIES_KEPT];
        if (s->n_gpus > n_gpus)
            n_gpus = s->n_gpus;
    }
    for (size_t g = 0; g < n_gpus; g++) {
        json_array_append_new(gutil, json_array());
        json_array_append_new(gmem, json_array());
    }
    for (size_t k = 0; k < a->series_n; k++) {
        const struct agent_sample *s = &a->series[(first + k) % FARM_AGENT_SERIES_KEPT];
        if (s->t_ms + (uint64_t)FARM_AGENT_SERIES_S * 1000 < now)
            continue;
        json_array_append_new(t, json_integer((json_int_t)(s->t_ms / 1000)));
        json_array_append_new(cpu, number_or_null(s->cpu));
        json_array_append_new(mem, number_or_null(s->mem_used_gb));
        for (size_t g = 0; g < n_gpus; g++) {
            json_array_append_new(json_array_get(gutil, g),
                                  number_or_null(g < s->n_gpus ? s->gpu_util[g] : NAN));
            json_array_append_new(json_array_get(gmem, g),
                                  number_or_null(g < s->n_gpus ? s->gpu_mem_used_gb[g] : NAN));
        }
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "agent", (json_int_t)a->id, "t", t, "cpu",
                     cpu, "mem_used_gb", mem, "gpu_util", gutil, "gpu_mem_used_gb", gmem);
}
