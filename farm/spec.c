/* farm/spec.c - job submissions: the seed's task shapes and our own, validated whole
 * before anything is created, turned into units; and, once a unit's inputs are known,
 * its action (cas/action.c) and input tree. A unit's spec (normalized JSON) is:
 *   {"argv":[...], "env":{...}, "inputs":{"path":{"digest":"HEX/SIZE","executable":false}
 *                                      | {"unit":K,"output":"path","executable":false}},
 *    "outputs":[...], "cwd":..., "stdin":..., "timeout_ms":N, "limits":{...},
 *    "toolchain":"HEX/SIZE" (a shipped toolchain archive: see agents/toolchain.c),
 *    "platform":{...}, "requirements":{...},
 *    "pin_toolchain":"NAME" (until pinned: see farm/pin.c)}
 * where {"unit":K,...} takes an output of the job's unit K (which must come before). */
#include "farm/farm_internal.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "kernels/kernel_job.h"
#include "toolchains/encode.h"
#include "toolchains/job_fields.h"
#include "toolchains/render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malformed submission or message: the reason in why, UDCS_EPROTO returned. */
#define bad(why, why_len, ...) udcs_fail(UDCS_EPROTO, (why), (why_len), __VA_ARGS__)

#define KNOWN_TYPES "EXEC, NATIVE_EXEC, RENDER, ENCODE, CUDA_KERNEL, OPENCL_KERNEL"
#define MAX_UNITS_PER_JOB 1000000
#define DEFAULT_PRIORITY 5
#define MAX_URL_BYTES 2048

/* ---- unit specs ----------------------------------------------------------------------------- */

static int check_string_array(const json_t *a, const char *what, int paths, int nonempty,
                              char *why, size_t why_len)
{
    if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
        return bad(why, why_len, "%s must be a%s array of strings", what,
                   nonempty ? " non-empty" : "n");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return bad(why, why_len, "%s must be an array of strings", what);
        if (paths && !udcs_path_is_contained(json_string_value(v)))
            return bad(why, why_len, "%s: path '%s' is absolute or climbs out of the unit's "
                       "directory", what, json_string_value(v));
    }
    return 0;
}

/* Normalize one input: "HEX/SIZE" or {"digest":...} or {"unit":K,"output":...}. */
static json_t *normalize_input(struct farm *f, const char *path, json_t *v, int index,
                               char *why, size_t why_len)
{
    if (!udcs_path_is_contained(path)) {
        bad(why, why_len, "unit %d: input path '%s' is absolute or climbs out of the unit's "
            "directory", index, path);
        return NULL;
    }
    const char *digest = json_is_string(v) ? json_string_value(v)
                                           : json_string_value(json_object_get(v, "digest"));
    json_t *exe = json_object_get(v, "executable");
    if (exe && !json_is_boolean(exe)) {
        bad(why, why_len, "unit %d: input '%s': 'executable' must be true or false", index, path);
        return NULL;
    }
    int executable = exe && json_is_true(exe);
    if (digest) {
        struct cas_digest d;
        int sized;
        if (cas_digest_parse(digest, &d, &sized) < 0 || !sized) {
            bad(why, why_len, "unit %d: input '%s': '%s' is not a digest written HEX/SIZE", index,
                path, digest);
            return NULL;
        }
        if (!cas_store_has(f->cs, &d)) {
            bad(why, why_len, "unit %d: input '%s' names blob %s, which the master does not "
                "have; upload it first (udcs-cas put, or PUT /cas/%.32s)", index, path, digest,
                digest);
            return NULL;
        }
        return json_pack("{s:s, s:b}", "digest", digest, "executable", executable);
    }
    json_t *unit = json_object_get(v, "unit"), *output = json_object_get(v, "output");
    if (json_is_integer(unit) && json_is_string(output)) {
        json_int_t k = json_integer_value(unit);
        if (k < 0 || k >= index) {
            bad(why, why_len, "unit %d: input '%s' takes an output of unit %lld; a unit can "
                "only take outputs of units listed before it", index, path, (long long)k);
            return NULL;
        }
        if (!udcs_path_is_contained(json_string_value(output))) {
            bad(why, why_len, "unit %d: input '%s': output path '%s' is not a relative path",
                index, path, json_string_value(output));
            return NULL;
        }
        return json_pack("{s:I, s:s, s:b}", "unit", k, "output", json_string_value(output),
                         "executable", executable);
    }
    bad(why, why_len, "unit %d: input '%s' must be \"HEX/SIZE\", {\"digest\": \"HEX/SIZE\"} or "
        "{\"unit\": K, \"output\": \"path\"}", index, path);
    return NULL;
}

/* Check the fields every executor reads, the way cas_action_from_json() will. */
static int check_action_fields(const json_t *u, int index, char *why, size_t why_len)
{
    char what[64];
    snprintf(what, sizeof(what), "unit %d: argv", index);
    if (check_string_array(json_object_get(u, "argv"), what, 0, 1, why, why_len) < 0)
        return UDCS_EPROTO;
    json_t *outputs = json_object_get(u, "outputs");
    snprintf(what, sizeof(what), "unit %d: outputs", index);
    if (outputs && check_string_array(outputs, what, 1, 0, why, why_len) < 0)
        return UDCS_EPROTO;
    json_t *env = json_object_get(u, "env");
    const char *k;
    json_t *v;
    if (env && !json_is_object(env))
        return bad(why, why_len, "unit %d: env must be an object of strings", index);
    json_object_foreach(env, k, v)
        if (!json_is_string(v) || !*k || strchr(k, '='))
            return bad(why, why_len, "unit %d: env '%s' must be a string, named without '='",
                       index, k);
    const char *paths[] = { "cwd", "stdin" };
    for (int i = 0; i < 2; i++) {
        json_t *p = json_object_get(u, paths[i]);
        if (p && (!json_is_string(p) || !udcs_path_is_contained(json_string_value(p))))
            return bad(why, why_len, "unit %d: %s must be a relative path inside the unit's "
                       "directory", index, paths[i]);
    }
    json_t *t = json_object_get(u, "timeout_ms");
    if (t && (!json_is_integer(t) || json_integer_value(t) < 0))
        return bad(why, why_len, "unit %d: timeout_ms must be a whole number", index);
    json_t *limits = json_object_get(u, "limits");
    if (limits && !json_is_object(limits))
        return bad(why, why_len, "unit %d: limits must be an object", index);
    json_object_foreach(limits, k, v) {
        if (strcmp(k, "cpu_s") && strcmp(k, "mem_bytes") && strcmp(k, "fsize_bytes") &&
            strcmp(k, "nproc"))
            return bad(why, why_len, "unit %d: unknown limit '%s'; known: cpu_s, mem_bytes, "
                       "fsize_bytes, nproc", index, k);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(why, why_len, "unit %d: limit %s must be a whole number", index, k);
    }
    json_t *tc = json_object_get(u, "toolchain");
    struct cas_digest tcd;
    int sized = 0;
    if (tc && (!json_is_string(tc) || cas_digest_parse(json_string_value(tc), &tcd, &sized) < 0 ||
               !sized))
        return bad(why, why_len, "unit %d: toolchain must be the digest (HEX/SIZE) of a "
                   "toolchain archive in the store", index);
    json_t *platform = json_object_get(u, "platform");
    if (platform && (!json_is_object(platform) ||
                     (json_object_get(platform, "architecture") &&
                      !json_is_string(json_object_get(platform, "architecture"))) ||
                     (json_object_get(platform, "os") &&
                      !json_is_string(json_object_get(platform, "os")))))
        return bad(why, why_len, "unit %d: platform must be {\"architecture\": ..., \"os\": ...}",
                   index);
    return 0;
}

/* A copy of requirements `req` (an object, else an empty one) with "toolchain", as
 * DESIGN.md spells it (a name or a list of them), joined to "toolchains". A value of
 * another type moves to "toolchains" for the class parser to refuse under that key. */
static json_t *requirements_copy(const json_t *req)
{
    json_t *r = json_is_object(req) ? json_deep_copy(req) : json_object();
    json_t *alias = json_object_get(r, "toolchain"), *list = json_object_get(r, "toolchains");
    if (!alias)
        return r;
    if ((json_is_string(alias) || json_is_array(alias)) && (!list || json_is_array(list))) {
        if (!list)
            json_object_set_new(r, "toolchains", list = json_array());
        if (json_is_string(alias))
            json_array_append(list, alias);
        else
            json_array_extend(list, alias);
        json_object_del(r, "toolchain");
    } else if (!list) {
        json_object_set(r, "toolchains", alias);
        json_object_del(r, "toolchain");
    }
    return r;   /* else "toolchain" stays: refused as unknown beside a bad "toolchains" */
}

/* Merge job-wide requirements under the unit's own; the platform a unit's result
 * depends on is required of its agent too. */
static json_t *merged_requirements(const json_t *job_req, const json_t *unit)
{
    json_t *r = requirements_copy(job_req);
    json_t *own = requirements_copy(json_object_get(unit, "requirements"));
    json_object_update(r, own);
    json_decref(own);
    json_t *platform = json_object_get(unit, "platform");
    const char *keys[] = { "architecture", "os" };
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(platform, keys[i]);
        if (v && !json_object_get(r, keys[i]))
            json_object_set(r, keys[i], v);
    }
    return r;
}

/* Whether the requirements of `spec` list toolchain `name` (unpinned). */
static int requires_toolchain(const json_t *spec, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(spec, "requirements"), "toolchains"), i, t)
        if (name && json_string_value(t) && strcmp(json_string_value(t), name) == 0)
            return 1;
    return 0;
}

/* Validate one submitted unit and build its normalized spec. */
static json_t *normalize_unit(struct farm *f, const json_t *u, int index, const json_t *job_req,
                              char *why, size_t why_len)
{
    if (!json_is_object(u)) {
        bad(why, why_len, "unit %d must be an object", index);
        return NULL;
    }
    static const char *const known[] = { "argv", "env", "inputs", "outputs", "cwd", "stdin",
                                         "timeout_ms", "limits", "platform", "requirements",
                                         "toolchain", "name", "pin_toolchain", NULL };
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)u, k, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(k, known[i]) == 0;
        if (!ok) {
            bad(why, why_len, "unit %d: unknown field '%s'; known: argv, env, inputs, outputs, "
                "cwd, stdin, timeout_ms, limits, platform, requirements, toolchain, name, "
                "pin_toolchain", index, k);
            return NULL;
        }
    }
    if (check_action_fields(u, index, why, why_len) < 0)
        return NULL;
    json_t *spec = json_deep_copy(u);
    json_t *inputs = json_object_get(u, "inputs");
    if (inputs && !json_is_object(inputs)) {
        bad(why, why_len, "unit %d: inputs must be an object of path: digest", index);
        json_decref(spec);
        return NULL;
    }
    json_t *norm = json_object();
    json_object_foreach(inputs, k, v) {
        json_t *n = normalize_input(f, k, v, index, why, why_len);
        if (!n) {
            json_decref(norm);
            json_decref(spec);
            return NULL;
        }
        json_object_set_new(norm, k, n);
    }
    json_object_set_new(spec, "inputs", norm);
    json_t *tc = json_object_get(u, "toolchain");
    struct cas_digest tcd;
    if (tc && (cas_digest_parse(json_string_value(tc), &tcd, NULL) < 0 ||
               !cas_store_has(f->cs, &tcd))) {
        bad(why, why_len, "unit %d: toolchain %s is not in the master's store; upload it "
            "first (PUT /cas/HEX)", index, json_string_value(tc));
        json_decref(spec);
        return NULL;
    }
    json_object_set_new(spec, "requirements", merged_requirements(job_req, u));
    json_t *pin = json_object_get(spec, "pin_toolchain");
    if (pin && !requires_toolchain(spec, json_string_value(pin))) {
        bad(why, why_len, "unit %d: pin_toolchain must name a toolchain its requirements list "
            "(without a fingerprint)", index);
        json_decref(spec);
        return NULL;
    }
    int class_id;
    if (farm_class_for(f, json_object_get(spec, "requirements"), &class_id, why, why_len) < 0) {
        char reason[512];
        snprintf(reason, sizeof(reason), "%s", why);
        bad(why, why_len, "unit %d: %s", index, reason);
        json_decref(spec);
        return NULL;
    }
    return spec;
}

/* ---- job types ------------------------------------------------------------------------------ */

/* Every unit of `units` normalized, or NULL with why. */
static json_t *normalize_units(struct farm *f, const json_t *units, const json_t *job, char *why,
                               size_t why_len)
{
    json_t *out = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u) {
        json_t *spec = normalize_unit(f, u, (int)i, json_object_get(job, "requirements"), why,
                                      why_len);
        if (!spec) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, spec);
    }
    return out;
}

static json_t *units_of_exec(struct farm *f, json_t *job, char *why, size_t why_len)
{
    json_t *units = json_object_get(job, "units");
    if (!json_is_array(units) || json_array_size(units) == 0) {
        bad(why, why_len, "an EXEC job needs 'units': a non-empty array of commands");
        return NULL;
    }
    if (json_array_size(units) > MAX_UNITS_PER_JOB) {
        bad(why, why_len, "a job may have at most %d units", MAX_UNITS_PER_JOB);
        return NULL;
    }
    return normalize_units(f, units, job, why, why_len);
}

/* Store a base64 field of the submission as a blob; returns its digest text. */
static int store_base64(struct farm *f, json_t *job, const char *field, char *digest_text,
                        size_t len, char *why, size_t why_len)
{
    const char *text = json_string_value(json_object_get(job, field));
    if (!text)
        return bad(why, why_len, "field '%s' must be a base64 string", field);
    struct udcs_buf raw = UDCS_BUF_INIT(f->opt.max_submit_bytes);
    int rc = udcs_base64_decode(text, strlen(text), &raw);
    struct cas_digest d;
    if (rc == 0)
        rc = cas_store_put_bytes(f->cs, raw.data, raw.len, &d);
    udcs_buf_release(&raw);
    if (rc == UDCS_EPROTO)
        return bad(why, why_len, "field '%s' is not valid base64", field);
    if (rc < 0)
        return bad(why, why_len, "storing field '%s' failed: %s", field, udcs_strerror(rc));
    char hex[CAS_HEX_LEN + 1];
    snprintf(digest_text, len, "%s/%llu", cas_digest_hex(&d, hex), (unsigned long long)d.size);
    json_object_set_new(job, field, json_string(digest_text));   /* keep the digest, not the bytes */
    return 0;
}

/* The seed's NATIVE_EXEC: a base64 executable run with args and environment on an agent
 * of the given architecture and OS; the optional payload is its standard input. */
static json_t *units_of_native_exec(struct farm *f, json_t *job, char *why, size_t why_len)
{
    char binary[CAS_HEX_LEN + 32], payload[CAS_HEX_LEN + 32];
    if (store_base64(f, job, "binary", binary, sizeof(binary), why, why_len) < 0)
        return NULL;
    int has_payload = json_object_get(job, "payload") != NULL;
    if (has_payload && store_base64(f, job, "payload", payload, sizeof(payload), why, why_len) < 0)
        return NULL;
    json_t *args = json_object_get(job, "args"), *env = json_object_get(job, "environment");
    if (args && check_string_array(args, "args", 0, 0, why, why_len) < 0)
        return NULL;
    json_t *argv = json_pack("[s]", "./program");
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a)
        json_array_append(argv, a);
    json_t *u = json_pack("{s:o, s:{s:{s:s, s:b}}}", "argv", argv, "inputs", "program",
                          "digest", binary, "executable", 1);
    if (env)
        json_object_set(u, "env", env);
    if (has_payload) {
        json_object_set_new(json_object_get(u, "inputs"), "payload",
                            json_pack("{s:s, s:b}", "digest", payload, "executable", 0));
        json_object_set_new(u, "stdin", json_string("payload"));
    }
    const char *copied[] = { "outputs", "timeout_ms", "limits" };
    for (int k = 0; k < 3; k++)
        if (json_object_get(job, copied[k]))
            json_object_set(u, copied[k], json_object_get(job, copied[k]));
    json_t *platform = json_object();
    const char *pk[] = { "architecture", "os" };
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(job, pk[k]);
        if (v && !json_is_string(v)) {
            bad(why, why_len, "field '%s' must be a string", pk[k]);
            json_decref(platform);
            json_decref(u);
            return NULL;
        }
        if (v)
            json_object_set(platform, pk[k], v);
    }
    json_object_set_new(u, "platform", platform);
    json_t *spec = normalize_unit(f, u, 0, json_object_get(job, "requirements"), why, why_len);
    json_decref(u);
    if (!spec)
        return NULL;
    return json_pack("[o]", spec);
}

static int64_t *deps_of(const json_t *spec, const json_t *unit_ids, size_t *n)
{
    *n = 0;
    json_t *inputs = json_object_get(spec, "inputs");
    int64_t *deps = calloc(json_object_size(inputs) + 1, sizeof(*deps));
    const char *k;
    json_t *v;
    json_object_foreach(inputs, k, v) {
        json_t *unit = json_object_get(v, "unit");
        if (!deps || !unit)
            continue;
        int64_t id = json_integer_value(json_array_get(unit_ids, (size_t)json_integer_value(unit)));
        size_t j;
        for (j = 0; j < *n && deps[j] != id; j++)
            ;
        if (j == *n)
            deps[(*n)++] = id;
    }
    return deps;
}

/* Pin `tool` to the build most agents have, in the job's field `key` (unless the job names
 * one), so a result cached from one build of a program is never taken for another's. */
static int pin_fingerprint(struct farm *f, json_t *job, const char *key, const char *tool,
                           const char *what, char *why, size_t why_len)
{
    if (json_object_get(job, key))
        return 0;
    const char *fp = farm_common_fingerprint(f, tool);
    if (!fp)
        return bad(why, why_len, "no connected agent offers %s (toolchain '%s'); start an "
                   "agent where it is installed, or see 'udcs devices'", what, tool);
    json_object_set_new(job, key, json_string(fp));
    return 0;
}

static json_t *normalized(struct farm *f, json_t *units, json_t *job, char *why, size_t why_len)
{
    json_t *out = units ? normalize_units(f, units, job, why, why_len) : NULL;
    json_decref(units);
    return out;
}

/* RENDER: the splitter in toolchains/render_split.c makes the units, with the renderer, the
 * merge program and (for "encode") udcs-video pinned. */
static json_t *units_of_render(struct farm *f, json_t *job, char *why, size_t why_len)
{
    const char *renderer = json_string_value(json_object_get(job, "renderer"));
    const char *tool = render_tool_of(renderer ? renderer : "builtin");
    char what[128];
    snprintf(what, sizeof(what), "the renderer %s", renderer ? renderer : "builtin");
    if (tool && (pin_fingerprint(f, job, "renderer_fingerprint", tool, what, why, why_len) < 0 ||
                 pin_fingerprint(f, job, "merge_fingerprint", RENDER_MERGE_TOOL,
                                 RENDER_MERGE_TOOL ", the merge program", why, why_len) < 0))
        return NULL;
    if (json_object_get(job, "encode") &&
        pin_fingerprint(f, job, "encoder_fingerprint", ENCODE_TOOL,
                        ENCODE_TOOL ", the encoder", why, why_len) < 0)
        return NULL;
    /* --device gpu: CUDA where an agent offers it, else OpenCL; the API's device class is
     * pinned like the renderer's build */
    const char *device = json_string_value(json_object_get(job, "device"));
    const char *pinned = json_string_value(json_object_get(job, "device_fingerprint"));
    if (device && strcmp(device, "gpu") == 0) {
        /* a job pinned to a device class keeps that class's API */
        int cuda = pinned ? farm_toolchain_offered(f, KERNEL_TOOLCHAIN_CUDA, pinned)
                          : farm_common_fingerprint(f, KERNEL_TOOLCHAIN_CUDA) != NULL;
        device = cuda ? KERNEL_TOOLCHAIN_CUDA : KERNEL_TOOLCHAIN_OPENCL;
        json_object_set_new(job, "device", json_string(device));
    }
    if (device && (strcmp(device, KERNEL_TOOLCHAIN_CUDA) == 0 ||
                   strcmp(device, KERNEL_TOOLCHAIN_OPENCL) == 0)) {
        snprintf(what, sizeof(what), "the device API %s",
                 strcmp(device, KERNEL_TOOLCHAIN_CUDA) == 0 ? "CUDA" : "OpenCL");
        if (pin_fingerprint(f, job, "device_fingerprint", device, what, why, why_len) < 0)
            return NULL;
    }
    return normalized(f, render_split(job, why, why_len), job, why, why_len);
}

/* ENCODE: udcs-encode split the input; toolchains/encode_split.c makes the units. */
static json_t *units_of_encode(struct farm *f, json_t *job, char *why, size_t why_len)
{
    if (pin_fingerprint(f, job, "encoder_fingerprint", ENCODE_TOOL, ENCODE_TOOL ", the encoder",
                        why, why_len) < 0)
        return NULL;
    return normalized(f, encode_split(job, why, why_len), job, why, why_len);
}

/* CUDA_KERNEL, OPENCL_KERNEL: kernels/kernel_job.c binds the data and makes the units. The
 * device class is pinned now when an agent offers the API; otherwise the units wait, and
 * the first agent that takes one pins the whole job (farm_job_pin). */
static json_t *units_of_kernel(struct farm *f, json_t *job, char *why, size_t why_len)
{
    int api = kernel_job_api(json_string_value(json_object_get(job, "type")));
    const char *toolchain = kernel_api_toolchain((enum kernel_api)api);
    json_t *given = json_object_get(job, "device_fingerprint");
    char req[160];
    if (given && job_tool_requirement(job, "device_fingerprint", toolchain, req, sizeof(req),
                                      why, why_len) < 0)
        return NULL;   /* the same check as every pinned fingerprint of a job */
    const char *fp = given ? json_string_value(given) : farm_common_fingerprint(f, toolchain);
    if (fp && !given)
        json_object_set_new(job, "device_fingerprint", json_string(fp));
    json_t *units = kernel_split(job, f->cs, why, why_len);
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u)
        if (fp && farm_pin_spec(u, json_string_value(json_object_get(job, "device_fingerprint")))
                      < 0) {
            bad(why, why_len, "field 'device_fingerprint' is too long");
            json_decref(units);
            return NULL;
        }
    return normalized(f, units, job, why, why_len);
}

int farm_spec_parse(struct farm *f, const char *body, size_t len, json_t **job_out,
                    json_t **units_out, char *why, size_t why_len)
{
    json_t *job;
    *job_out = *units_out = NULL;
    if (udcs_json_parse(body, len, &job, why, why_len) < 0)
        return UDCS_EPROTO;
    json_t *specs = NULL;
    const char *type = json_string_value(json_object_get(job, "type"));
    json_t *prio = json_object_get(job, "priority"), *cb = json_object_get(job, "callback_url");
    json_t *attempts = json_object_get(job, "max_attempts");
    json_t *retry_failed = json_object_get(job, "retry_failed_commands");
    if (!json_is_object(job)) {
        bad(why, why_len, "a job must be a JSON object");
    } else if (!type) {
        bad(why, why_len, "field 'type' is missing; known types: " KNOWN_TYPES);
    } else if (prio && (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
                        json_integer_value(prio) > 10)) {
        bad(why, why_len, "field 'priority' must be a whole number from 1 to 10");
    } else if (attempts && (!json_is_integer(attempts) || json_integer_value(attempts) < 1 ||
                            json_integer_value(attempts) > 100)) {
        bad(why, why_len, "field 'max_attempts' must be a whole number from 1 to 100");
    } else if (retry_failed && !json_is_boolean(retry_failed)) {
        bad(why, why_len, "field 'retry_failed_commands' must be true or false");
    } else if (cb && (!json_is_string(cb) || strlen(json_string_value(cb)) > MAX_URL_BYTES ||
                      (strncmp(json_string_value(cb), "http://", 7) != 0 &&
                       strncmp(json_string_value(cb), "https://", 8) != 0))) {
        bad(why, why_len, "field 'callback_url' must be an http:// or https:// URL");
    } else if (strcmp(type, "EXEC") == 0) {
        specs = units_of_exec(f, job, why, why_len);
    } else if (strcmp(type, "NATIVE_EXEC") == 0) {
        specs = units_of_native_exec(f, job, why, why_len);
    } else if (strcmp(type, "RENDER") == 0) {
        specs = units_of_render(f, job, why, why_len);
    } else if (strcmp(type, "ENCODE") == 0) {
        specs = units_of_encode(f, job, why, why_len);
    } else if (kernel_job_api(type) >= 0) {
        specs = units_of_kernel(f, job, why, why_len);
    } else if (strcmp(type, "METAL_KERNEL") == 0) {
        bad(why, why_len, "METAL_KERNEL cannot run here: Metal exists only on Apple's systems, "
            "and UDCS agents run Linux, where no Metal device can be. Port the kernel to "
            "OpenCL (OPENCL_KERNEL) or CUDA (CUDA_KERNEL)");
    } else {
        bad(why, why_len, "job type '%s' is not known to this master; known types: "
            KNOWN_TYPES, type);
    }
    if (!specs) {
        json_decref(job);
        return UDCS_EPROTO;
    }
    json_object_del(job, "units");   /* kept per unit; the job keeps its settings */
    *job_out = job;
    *units_out = specs;
    return 0;
}

int farm_submit(struct farm *f, const char *body, size_t len, int64_t *job_id, char *why,
                size_t why_len)
{
    json_t *job, *specs;
    int rc = farm_spec_parse(f, body, len, &job, &specs, why, why_len);
    if (rc < 0)
        return rc;
    const char *type = json_string_value(json_object_get(job, "type"));
    json_t *prio = json_object_get(job, "priority"), *cb = json_object_get(job, "callback_url");
    json_t *attempts = json_object_get(job, "max_attempts");
    struct job *j = calloc(1, sizeof(*j));
    rc = j ? 0 : -ENOMEM;
    if (rc == 0) {
        j->type = strdup(type);
        j->priority = prio ? (int)json_integer_value(prio) : DEFAULT_PRIORITY;
        j->state = JOB_RUNNING;
        j->callback_url = cb ? strdup(json_string_value(cb)) : NULL;
        j->created_ms = farm_now_ms();
        j->spec = json_incref(job);
        rc = farm_db_insert_job(f, j);
    }
    if (rc == 0)
        rc = farm_add_job(f, j);
    int max_attempts = attempts ? (int)json_integer_value(attempts) : f->opt.max_attempts;
    json_t *ids = json_array();
    size_t i;
    json_t *spec;
    json_array_foreach(specs, i, spec) {
        if (rc < 0)
            break;
        struct unit *u = calloc(1, sizeof(*u));
        if (!u) {
            rc = -ENOMEM;
            break;
        }
        u->job = j;
        u->index = (int)i;
        u->spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
        u->max_attempts = max_attempts;
        u->exit_code = -1;
        u->deps = deps_of(spec, ids, &u->n_deps);
        u->state = UNIT_WAITING;
        rc = farm_db_insert_unit(f, u);
        if (rc == 0)
            rc = farm_add_unit(f, u);
        if (rc == 0)
            json_array_append_new(ids, json_integer(u->id));
    }
    json_decref(ids);
    json_decref(specs);
    json_decref(job);
    if (rc < 0) {
        snprintf(why, why_len, "creating the job failed: %s", udcs_strerror(rc));
        return rc;
    }
    *job_id = j->id;
    farm_job_event(f, j, "job_submitted", json_pack("{s:s, s:i}", "type", j->type, "priority",
                                                    j->priority));
    farm_event_job(f, j);
    udcs_log_info("farm: job %lld (%s, priority %d) submitted with %zu units", (long long)j->id,
                  j->type, j->priority, j->n_units);
    for (size_t k = 0; k < j->n_units && j->state == JOB_RUNNING; k++)
        if (j->units[k]->state == UNIT_WAITING && j->units[k]->deps_left == 0)
            farm_unit_ready(f, j->units[k]);
    return 0;
}

/* ---- resolving a unit's action ----------------------------------------------------------------- */

/* The digest and mode of output `path` in a finished unit's result. */
static int output_of(struct unit *d, const char *path, struct cas_digest *out, int *executable)
{
    struct cas_action_result r;
    char why[128];
    if (!d->result_json ||
        cas_action_result_from_json(d->result_json, strlen(d->result_json), &r, why, sizeof(why)) < 0)
        return -ENOENT;
    int rc = -ENOENT;
    for (size_t i = 0; i < r.n_outputs; i++) {
        if (strcmp(r.outputs[i].path, path) == 0) {
            *out = r.outputs[i].digest;
            *executable = r.outputs[i].executable;
            rc = 0;
            break;
        }
    }
    cas_action_result_release(&r);
    return rc;
}

static int build_input_root(struct farm *f, struct unit *u, struct cas_action *a, char *why,
                            size_t why_len)
{
    json_t *spec = farm_unit_spec(u);
    json_t *inputs = json_object_get(spec, "inputs");
    if (json_object_size(inputs) == 0) {
        json_decref(spec);
        return 0;
    }
    struct cas_tree tree = { 0 };
    const char *path;
    json_t *in;
    int rc = 0;
    json_object_foreach(inputs, path, in) {
        struct cas_digest d;
        int executable = json_is_true(json_object_get(in, "executable"));
        const char *digest = json_string_value(json_object_get(in, "digest"));
        if (digest) {
            cas_digest_parse(digest, &d, NULL);
        } else {
            int k = (int)json_integer_value(json_object_get(in, "unit"));
            const char *out = json_string_value(json_object_get(in, "output"));
            int out_exec = 0;
            if (k < 0 || (size_t)k >= u->job->n_units ||
                output_of(u->job->units[k], out, &d, &out_exec) < 0) {
                rc = bad(why, why_len, "input '%s' needs output '%s' of unit %d, which did not "
                         "produce it", path, out, k);
                break;
            }
            executable |= out_exec;
        }
        if ((rc = cas_tree_add(&tree, CAS_TREE_FILE, path, &d, executable ? 0755 : 0644,
                               NULL)) < 0)
            break;
    }
    struct udcs_buf text = UDCS_BUF_INIT(CAS_TREE_MAX_BYTES);
    if (rc == 0 && (rc = cas_tree_to_json(&tree, &text)) == 0) {
        struct cas_tree check;
        char reason[256];
        /* the same checks a restore will make: paths, nothing below a file */
        if (cas_tree_parse(text.data, text.len, &check, reason, sizeof(reason)) < 0)
            rc = bad(why, why_len, "the unit's inputs do not form a tree: %s", reason);
        else
            cas_tree_release(&check);
    }
    if (rc == 0 && (rc = cas_store_put_bytes(f->cs, text.data, text.len, &a->input_root)) == 0)
        a->has_input_root = 1;
    udcs_buf_release(&text);
    cas_tree_release(&tree);
    json_decref(spec);
    return rc;
}

int farm_resolve_action(struct farm *f, struct unit *u, char *why, size_t why_len)
{
    if (u->has_action && u->action_json)
        return 0;
    /* The spec was checked at submission; an action built from it parses. */
    json_t *spec = farm_unit_spec(u);
    if (!spec)
        return -ENOMEM;
    json_t *j = json_pack("{s:i, s:s, s:O}", "version", 1, "kind", "exec", "argv",
                          json_object_get(spec, "argv"));
    const char *copied[] = { "env", "outputs", "cwd", "stdin", "timeout_ms", "limits",
                             "platform", "toolchain" };
    for (int i = 0; i < 8; i++)
        if (json_object_get(spec, copied[i]))
            json_object_set(j, copied[i], json_object_get(spec, copied[i]));
    struct udcs_buf text = UDCS_BUF_INIT(CAS_ACTION_MAX_BYTES);
    struct cas_action a;
    int rc = udcs_json_dump_canonical(j, &text);
    json_decref(j);
    json_decref(spec);
    if (rc == 0)
        rc = cas_action_from_json(text.data, text.len, &a, why, why_len);
    udcs_buf_release(&text);
    if (rc < 0)
        return rc;
    rc = build_input_root(f, u, &a, why, why_len);
    struct udcs_buf canonical = UDCS_BUF_INIT(CAS_ACTION_MAX_BYTES);
    if (rc == 0)
        rc = cas_action_to_json(&a, &canonical);
    cas_action_release(&a);
    if (rc == 0) {
        cas_digest_of_bytes(canonical.data, canonical.len, &u->action_digest);
        free(u->action_json);
        u->action_json = udcs_buf_detach(&canonical, NULL);
        u->has_action = 1;   /* offered inline with each lease: not stored as a blob */
    }
    udcs_buf_release(&canonical);
    return rc;
}
