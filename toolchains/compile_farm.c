/* toolchains/compile_farm.c - udcs-compile-farm: the farm's store as a second cache level,
 * and misses compiled on agents.
 *
 * A miss that may go to an agent (cc_args.remote_ok) and finds no free local slot is
 * preprocessed here, looked up by its preprocessed text (another checkout or machine may
 * have compiled the same thing), and otherwise sent as an EXEC unit that runs the same
 * compiler build (the agent's toolchain with the same name and fingerprint) on the
 * preprocessed text. The agent's object is the one a local compile writes (tests compare
 * them byte for byte). Anything unexpected - no matching agent soon, a slow or dead
 * master, a failed or noisy remote compile - ends in a local compile: the build never
 * fails or hangs because of the farm. Each request to the master waits at most
 * UDCS_FARM_TIMEOUT; one that gets no answer marks the farm down (compile_farm_down.c),
 * so the calls of the next minute do not wait for it again. */
#include "toolchains/compile_farm.h"
#include "toolchains/compile_internal.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* How long a unit may wait for an agent before it is compiled here instead. */
#define QUEUE_WAIT_MS 5000
/* A master on the LAN accepts in milliseconds; UDCS_FARM_TIMEOUT bounds it further. */
#define CONNECT_TIMEOUT_MS 2000
#define POLL_FIRST_MS 10
#define POLL_MAX_MS 200
#define REMOTE_INPUT "in.i"
#define REMOTE_OUTPUT "out.o"

struct farm_ctx {
    int tried, usable;
    int unreachable;            /* a request to the master's API got no answer */
    int marked;                 /* the farm-down marker says so (or said so already) */
    const struct cc_settings *set;
    struct cas *cas;
    struct udcs_http_client *http;
    char *url, *token;
};

static struct farm_ctx ctx;

/* Bound every request of the farm's store: UDCS_FARM_TIMEOUT to connect (2 s at most),
 * with nothing moving, and in all (`total_ms`, 0: no total limit). */
static void store_timeouts(uint64_t total_ms)
{
    uint64_t t = ctx.set->farm_timeout_ms;
    if (ctx.cas && cas_remote(ctx.cas))
        cas_remote_set_timeouts(cas_remote(ctx.cas), t < CONNECT_TIMEOUT_MS ? t : CONNECT_TIMEOUT_MS,
                                t, total_ms);
}

/* Connect on first use; 0 when the farm can be used. */
static int farm_open(struct cc_call *call)
{
    if (ctx.tried)
        return ctx.usable ? 0 : -1;
    ctx.tried = 1;
    const struct cc_settings *set = call->set;
    ctx.set = set;
    if (cc_farm_down_check(set->cache_dir, set->farm)) {
        /* another call found it silent or gone a moment ago (udcs-compile checked too,
         * before handing over; this is the race between the two) */
        udcs_log_info("compile: the farm %s is marked down (%s/compile/farm-down); not "
                      "asking it", set->farm, set->cache_dir);
        ctx.marked = 1;
        return -1;
    }
    const char *f = set->farm;
    if (asprintf(&ctx.url, "%s%s", strstr(f, "://") ? "" : "http://", f) < 0) {
        ctx.url = NULL;
        return -1;
    }
    if (set->token_file && *set->token_file &&
        udcs_config_read_token(set->token_file, &ctx.token) < 0)
        udcs_log_warn("compile: cannot read the farm token from %s; going on without",
                      set->token_file);
    struct cas_options co = { .local = { .root = set->cache_dir, .max_size = set->max_size,
                                         .encode = { .level = 1 } },
                              .remote_url = ctx.url, .remote_token = ctx.token };
    int rc = cas_open(&co, &ctx.cas);
    if (rc == 0)
        rc = udcs_http_client_new(ctx.url, ctx.token, &ctx.http);
    if (rc < 0) {
        udcs_log_warn("compile: cannot use the farm %s: %s", ctx.url, udcs_strerror(rc));
        return -1;
    }
    uint64_t t = set->farm_timeout_ms;
    udcs_http_client_set_timeouts(ctx.http, t < CONNECT_TIMEOUT_MS ? t : CONNECT_TIMEOUT_MS, t);
    udcs_http_client_set_stall(ctx.http, t);
    store_timeouts(t);
    ctx.usable = 1;
    return 0;
}

/* Whether a request to the master (its store or its API) got no answer. */
static int farm_unreachable(void)
{
    return ctx.unreachable || (ctx.cas && cas_last_remote_rc(ctx.cas) == UDCS_ENET);
}

/* The master did not answer: say so once, and tell the calls of the next minute, through
 * the marker, to compile here at once. */
static void mark_down(const char *why)
{
    if (ctx.marked)
        return;
    ctx.marked = 1;
    int rc = cc_farm_down_mark(ctx.set->cache_dir, ctx.set->farm, why);
    udcs_log_warn("compile: the farm %s did not answer (%s); this call and those of the next "
                  "%d s compile here%s%s", ctx.set->farm, why, CC_FARM_DOWN_HOLD_S,
                  rc < 0 ? "; cannot write the farm-down marker: " : "",
                  rc < 0 ? udcs_strerror(rc) : "");
}

/* Whether the farm failed in this process; it is then left alone. */
static int farm_down(void)
{
    if (ctx.cas && cas_last_remote_rc(ctx.cas) == UDCS_ENET)
        mark_down(cas_last_remote_error(ctx.cas));
    return farm_unreachable() || (ctx.cas && *cas_last_remote_error(ctx.cas));
}

/* A request to the master's API; one that gets no answer makes the farm down. */
static int api_call(struct udcs_http_call *hc)
{
    int rc = udcs_http_client_call(ctx.http, hc);
    if (rc == UDCS_ENET) {
        ctx.unreachable = 1;
        mark_down(hc->error);
    }
    return rc;
}

/* Copy every blob of `r` into the local store (read-through). */
static int pull_blobs(struct cc_call *call, const struct cas_action_result *r)
{
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0)
        return -errno;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= r->n_outputs + 1; i++) {
        const struct cas_digest *d = i < r->n_outputs ? &r->outputs[i].digest
                                     : i == r->n_outputs ? &r->stdout_digest : &r->stderr_digest;
        if (d->size && !cas_store_has(call->store, d))
            rc = cas_get_to_fd(ctx.cas, d, devnull);
    }
    close(devnull);
    return rc;
}

static int op_ac_get(struct cc_call *call, const struct cas_digest *key,
                     struct cas_action_result *out)
{
    if (farm_open(call) < 0 || farm_down())
        return 0;
    int found = cas_ac_get(ctx.cas, key, out) == 0;
    if (found && pull_blobs(call, out) < 0) {
        cas_action_result_release(out);
        found = 0;
    }
    if (!found)
        farm_down();   /* a master that did not answer is marked down now */
    return found;
}

static void op_ac_put(struct cc_call *call, const struct cas_digest *key,
                      const struct cas_action_result *r)
{
    if (farm_open(call) == 0 && !farm_down()) {
        cas_ac_put(ctx.cas, key, r);
        farm_down();
    }
}

/* ---- a remote compile ------------------------------------------------------------------ */

static json_t *get_json(const char *path)
{
    struct udcs_buf body = UDCS_BUF_INIT(64u * 1024 * 1024);
    struct udcs_http_call hc = UDCS_HTTP_CALL_INIT;
    hc.method = "GET";
    hc.path = path;
    hc.response = &body;
    json_t *j = NULL;
    if (api_call(&hc) == 0)
        j = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
    else
        udcs_log_warn("compile: GET %s: %s", path, hc.error);
    udcs_buf_release(&body);
    return j;
}

static void cancel_job(long long id)
{
    if (ctx.unreachable)
        return;   /* it would not be heard either */
    char path[64];
    snprintf(path, sizeof(path), "/api/jobs/%lld", id);
    struct udcs_http_call hc = UDCS_HTTP_CALL_INIT;
    hc.method = "DELETE";
    hc.path = path;
    hc.timeout_ms = CONNECT_TIMEOUT_MS;
    api_call(&hc);
}

/* Where a remote compile can go: an agent with this very compiler, or (shipping the
 * compiler) any agent of this architecture that can run it isolated. */
enum route { ROUTE_NONE = 0, ROUTE_NATIVE, ROUTE_SHIP };

static int has_tool(const json_t *dev, const char *name, const char *fingerprint)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(dev, "toolchains"), i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        const char *fp = json_string_value(json_object_get(t, "fingerprint"));
        if (n && strcmp(n, name) == 0 && (!fingerprint || (fp && strcmp(fp, fingerprint) == 0)))
            return 1;
    }
    return 0;
}

/* The programs a remote compile of this call runs besides the driver, which must be the
 * same files on the agent (the key holds their digests): cc1 or cc1plus, and as unless
 * it stops at assembly. Their number, or 0 when this compiler's record lacks one (then
 * no agent's own compiler can be trusted with it). */
static size_t needed_programs(const struct cc_call *call, const struct cc_program **out)
{
    const char *want[2] = { call->args.lang == CC_LANG_CXX ? "cc1plus" : "cc1",
                            call->args.assemble_only ? NULL : "as" };
    size_t n = 0;
    for (size_t w = 0; w < 2; w++) {
        if (!want[w])
            continue;
        size_t i = 0;
        while (i < call->compiler.n_programs && strcmp(call->compiler.programs[i].name, want[w]))
            i++;
        if (i == call->compiler.n_programs)
            return 0;
        out[n++] = &call->compiler.programs[i];
    }
    return n;
}

/* Whether the agent `dev` has this very compiler: the driver and the programs it runs. */
static int has_compiler(const json_t *dev, const struct cc_call *call)
{
    const struct cc_program *progs[2];
    size_t n = needed_programs(call, progs);
    if (n == 0 || !has_tool(dev, call->compiler.name, call->compiler.driver_hex))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s/%s", call->compiler.name, progs[i]->name);
        if (!has_tool(dev, name, progs[i]->hex))
            return 0;
    }
    return 1;
}

static enum route choose_route(const struct cc_call *call, const char *arch)
{
    json_t *j = get_json("/api/devices");
    enum route best = ROUTE_NONE;
    size_t i;
    json_t *dev;
    json_array_foreach(json_object_get(j, "devices"), i, dev) {
        const char *state = json_string_value(json_object_get(dev, "status"));
        if (!state || strcmp(state, "lost") == 0 || strcmp(state, "draining") == 0)
            continue;
        if (call->set->ship != CC_SHIP_ALWAYS && has_compiler(dev, call)) {
            best = ROUTE_NATIVE;
            break;
        }
        const char *a = json_string_value(json_object_get(dev, "architecture"));
        if (call->set->ship != CC_SHIP_NEVER && a && strcmp(a, arch) == 0 &&
            has_tool(dev, "bwrap", NULL))
            best = ROUTE_SHIP;
    }
    json_decref(j);
    return best;
}

/* The EXEC job that compiles `input` (the preprocessed text's blob) on a matching agent,
 * or with the shipped toolchain `tc` (NULL: the agent's own compiler). */
static json_t *compile_job(const struct cc_call *call, const struct cas_digest *input,
                           const struct cas_digest *tc, const char *arch)
{
    const struct cc_args *a = &call->args;
    char hex[CAS_HEX_LEN + 1], dig[CAS_HEX_LEN + 32], name_fp[256];
    snprintf(dig, sizeof(dig), "%s/%llu", cas_digest_hex(input, hex),
             (unsigned long long)input->size);
    /* an agent's own compiler: the driver and each program by its fingerprint ("gcc@HEX",
     * "gcc/cc1@HEX", "gcc/as@HEX"), as udcs-detect lists them */
    json_t *tools = json_array();
    if (tc) {
        json_array_append_new(tools, json_string("bwrap"));
    } else {
        const struct cc_program *progs[2];
        size_t n = needed_programs(call, progs);
        snprintf(name_fp, sizeof(name_fp), "%s@%s", call->compiler.name, call->compiler.driver_hex);
        json_array_append_new(tools, json_string(name_fp));
        for (size_t i = 0; i < n; i++) {
            snprintf(name_fp, sizeof(name_fp), "%s/%s@%s", call->compiler.name, progs[i]->name,
                     progs[i]->hex);
            json_array_append_new(tools, json_string(name_fp));
        }
    }
    json_t *argv = json_array();
    /* a shipped compiler runs by its path inside the toolchain's root */
    json_array_append_new(argv, json_string(tc ? call->compiler.path : call->compiler.name));
    for (size_t i = 0; i < a->n_remote_args; i++)
        json_array_append_new(argv, json_string(a->remote_args[i]));
    json_array_append_new(argv, json_string("-x"));
    json_array_append_new(argv, json_string(a->lang == CC_LANG_CXX ? "c++-cpp-output"
                                                                   : "cpp-output"));
    json_array_append_new(argv, json_string(a->assemble_only ? "-S" : "-c"));
    json_array_append_new(argv, json_string(REMOTE_INPUT));
    json_array_append_new(argv, json_string("-o"));
    json_array_append_new(argv, json_string(REMOTE_OUTPUT));
    json_t *unit = json_pack("{s:o, s:{s:{s:s, s:b}}, s:[s], s:I}", "argv", argv, "inputs",
                             REMOTE_INPUT, "digest", dig, "executable", 0, "outputs",
                             REMOTE_OUTPUT, "timeout_ms",
                             (json_int_t)call->set->remote_timeout_ms);
    if (tc) {
        char tch[CAS_HEX_LEN + 1], tct[CAS_HEX_LEN + 32];
        snprintf(tct, sizeof(tct), "%s/%llu", cas_digest_hex(tc, tch),
                 (unsigned long long)tc->size);
        json_object_set_new(unit, "toolchain", json_string(tct));
    }
    return json_pack("{s:s, s:i, s:b, s:i, s:{s:o, s:s, s:s}, s:[o]}", "type", "EXEC",
                     "priority", 5, "retry_failed_commands", 0, "max_attempts", 2,
                     "requirements", "toolchains", tools, "os", "linux",
                     "architecture", arch, "units", unit);
}

/* Submit, wait, and fetch the result of the unit. 1 with `out` filled, 0 when it did not
 * run there (the reason is logged, and its counter, CC_STAT_FALLBACK_*, put in *why). */
static int run_remote(struct cc_call *call, const struct cas_digest *input,
                      const struct cas_digest *tc, const char *arch,
                      struct cas_action_result *out, int *why)
{
    *why = CC_STAT_FALLBACK_REMOTE_FAILED;
    json_t *job = compile_job(call, input, tc, arch);
    char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
    json_decref(job);
    if (!text)
        return 0;
    struct udcs_buf body = UDCS_BUF_INIT(1u << 20);
    struct udcs_http_call hc = UDCS_HTTP_CALL_INIT;
    hc.method = "POST";
    hc.path = "/api/submit";
    hc.content_type = "application/json";
    hc.body = text;
    hc.body_len = strlen(text);
    hc.response = &body;
    int rc = api_call(&hc);
    free(text);
    json_t *ans = rc == 0 ? json_loadb(body.data ? body.data : "", body.len, 0, NULL) : NULL;
    udcs_buf_release(&body);
    long long id = (long long)json_integer_value(json_object_get(ans, "id"));
    json_decref(ans);
    if (rc < 0 || id <= 0) {
        udcs_log_warn("compile: the farm took no job for %s: %s", call->args.source,
                      rc < 0 ? hc.error : "no job id in the answer");
        return 0;
    }

    char path[64];
    snprintf(path, sizeof(path), "/api/jobs/%lld", id);
    uint64_t start = udcs_mono_ms(), wait = POLL_FIRST_MS;
    uint64_t deadline = start + (call->set->remote_timeout_ms ? call->set->remote_timeout_ms
                                                              : 120000);
    int found = 0;
    for (;;) {
        json_t *j = get_json(path);
        if (!j) {
            cancel_job(id);
            return 0;
        }
        const char *state = json_string_value(json_object_get(j, "state"));
        json_t *unit = json_array_get(json_object_get(j, "unit_list"), 0);
        const char *ustate = json_string_value(json_object_get(unit, "state"));
        if (state && strcmp(state, "done") == 0) {
            json_t *res = json_object_get(unit, "result");
            char *rtext = res ? json_dumps(res, JSON_COMPACT) : NULL;
            char bad[256];
            found = rtext && cas_action_result_from_json(rtext, strlen(rtext), out, bad,
                                                         sizeof(bad)) == 0;
            free(rtext);
            json_decref(j);
            break;
        }
        if (!state || strcmp(state, "running") != 0) {
            udcs_log_warn("compile: remote compile of %s ended %s: %s", call->args.source,
                          state ? state : "?",
                          json_string_value(json_object_get(unit, "error"))
                              ? json_string_value(json_object_get(unit, "error")) : "");
            json_decref(j);
            break;
        }
        uint64_t now = udcs_mono_ms();
        int queued = ustate && (strcmp(ustate, "queued") == 0 || strcmp(ustate, "waiting") == 0);
        if ((queued && now - start > QUEUE_WAIT_MS) || now > deadline) {
            udcs_log_info("compile: %s for %s (%s); compiling here", queued ? "no agent took "
                          "the unit" : "the remote compile is too slow", call->args.source,
                          json_string_value(json_object_get(unit, "why"))
                              ? json_string_value(json_object_get(unit, "why")) : "");
            json_decref(j);
            cancel_job(id);
            if (queued)
                *why = CC_STAT_FALLBACK_NO_AGENT;
            break;
        }
        json_decref(j);
        struct timespec ts = { 0, (long)(wait * 1000000) };
        nanosleep(&ts, NULL);
        wait = wait * 2 > POLL_MAX_MS ? POLL_MAX_MS : wait * 2;
    }
    return found;
}

static const struct cas_output *output_named(const struct cas_action_result *r, const char *p)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].path, p) == 0)
            return &r->outputs[i];
    return NULL;
}

/* Compile on an agent. Returns the exit status (0), or -1 when it must be done here,
 * with the counter of the reason (CC_STAT_FALLBACK_*) in *why. */
static int compile_remote(struct cc_call *call, const struct cc_farm_ops *ops, int *why)
{
    *why = CC_STAT_FALLBACK_REMOTE_FAILED;
    const struct cc_args *a = &call->args;
    struct udcs_buf pp = UDCS_BUF_INIT(0);
    if (cc_preprocess(call, 1, &pp) < 0) {
        udcs_buf_release(&pp);
        return -1;   /* the compile will show the preprocessor's errors */
    }
    struct cas_digest key, input;
    struct cas_action_result res = { 0 };
    int remote = 0, status = -1;
    cc_key_cpp(call, &pp, &key);
    if (cas_store_ac_get(call->store, &key, &res) == 0 ||
        (remote = op_ac_get(call, &key, &res)) == 1) {
        status = cc_replay(call, &res);
        if (status >= 0)
            cc_count(call, remote ? CC_STAT_REMOTE_HITS : CC_STAT_PREPROCESSED_HITS);
        cas_action_result_release(&res);
        if (status >= 0) {
            udcs_buf_release(&pp);
            return status;
        }
    }
    struct utsname un;
    const char *arch = uname(&un) == 0 ? un.machine : "unknown";
    enum route route = choose_route(call, arch);
    struct cas_digest tc;
    if (route == ROUTE_SHIP) {
        /* tens of megabytes, sent once: bounded by the stall limit, not by a total */
        store_timeouts(0);
        if (cc_toolchain_package(call, ctx.cas, &tc) < 0)
            route = ROUTE_NONE;
        store_timeouts(call->set->farm_timeout_ms);
    }
    if (farm_down()) {
        udcs_buf_release(&pp);
        return -1;   /* the caller names the reason */
    }
    if (route == ROUTE_NONE) {
        *why = CC_STAT_FALLBACK_NO_AGENT;
        udcs_log_info("compile: no agent can compile %s with %s (none has it, and none can "
                      "run it shipped); compiling here", a->source, call->compiler.path);
        udcs_buf_release(&pp);
        return -1;
    }
    if (cas_put_bytes(ctx.cas, pp.data ? pp.data : "", pp.len, &input) < 0 || farm_down()) {
        udcs_buf_release(&pp);
        return -1;
    }
    uint64_t t0 = udcs_mono_ms();
    if (run_remote(call, &input, route == ROUTE_SHIP ? &tc : NULL, arch, &res, why) == 1) {
        const struct cas_output *obj = output_named(&res, REMOTE_OUTPUT);
        struct udcs_buf out = UDCS_BUF_INIT(64u << 20);
        if (res.exit_code == 0 && res.stderr_digest.size == 0 && obj &&
            pull_blobs(call, &res) == 0 &&
            (res.stdout_digest.size == 0 ||
             cas_store_get_bytes(call->store, &res.stdout_digest, &out) == 0) &&
            cas_store_get_to_file(call->store, &obj->digest, a->output, 0666) == 0) {
            struct udcs_buf err = UDCS_BUF_INIT(0);
            struct run_out_view rv = { &out, &err };
            cc_write_stream(STDOUT_FILENO, &out);
            cc_count(call, CC_STAT_MISSES);
            cc_count(call, CC_STAT_REMOTE_COMPILES);
            status = 0;
            if (cc_store_result(call, &key, &rv, ops, res.executor ? res.executor : "agent",
                                udcs_mono_ms() - t0) == 0 && call->set->mode == CC_MODE_DIRECT) {
                char **names = NULL;
                size_t n = 0;
                struct cc_file_digest *files = NULL;
                size_t nf = 0;
                if (cc_linemarker_files(pp.data ? pp.data : "", pp.len, &names, &n) == 0 &&
                    cc_digest_inputs(call, names, n, &files, &nf) == 0)
                    cc_remember(call, files, nf, &key, ops);
                cc_file_digests_free(files, nf);
                cc_strv_free(names, n);
            }
        } else {
            udcs_log_info("compile: the agent's compile of %s %s; compiling here for the "
                          "compiler's own messages", a->source,
                          res.exit_code ? "failed" : "printed diagnostics");
        }
        udcs_buf_release(&out);
        cas_action_result_release(&res);
    }
    udcs_buf_release(&pp);
    return status;
}

static int op_miss(struct cc_call *call, char **argv, int argc);

static const struct cc_farm_ops ops = {
    .ac_get = op_ac_get,
    .ac_put = op_ac_put,
    .miss = op_miss,
};

static int op_miss(struct cc_call *call, char **argv, int argc)
{
    const struct cc_settings *set = call->set;
    int slot = -1;
    int usable = farm_open(call) == 0 && !farm_down();
    if (!usable)   /* its cache could not be asked, and this result will not be shared */
        cc_count_fallback(call, CC_STAT_FALLBACK_FARM_DOWN);
    int try_remote = usable && call->args.remote_ok && !set->local_only;
    if (try_remote && !set->remote_only && (slot = cc_slot_acquire(call, 0)) >= 0)
        try_remote = 0;   /* this machine has a free slot: use it first (like icecream) */
    if (try_remote) {
        int why;
        int status = compile_remote(call, &ops, &why);
        if (status >= 0)
            return status;
        farm_down();   /* marks a master that stopped answering on the way */
        cc_count_fallback(call, farm_unreachable() ? CC_STAT_FALLBACK_FARM_DOWN : why);
    }
    if (slot < 0)
        slot = cc_slot_acquire(call, 1);
    int status = cc_compile_here(call, argv, argc, &ops);
    if (slot >= 0)
        close(slot);
    return status;
}

const struct cc_farm_ops *cc_farm_ops(void)
{
    return &ops;
}
