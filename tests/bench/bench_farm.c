/* tests/bench/bench_farm.c - timings of the farm for tests/bench/run_farm.sh:
 *   bench_farm rtt URL TOKEN COUNT          COUNT jobs of one trivial unit, one after the
 *                                           other: submit to job_finished (p50, p99)
 *   bench_farm throughput URL TOKEN UNITS   one job of UNITS trivial units: units/s
 *   bench_farm local COUNT                  COUNT runs of `true` here, one after the other
 *                                           (what the same unit costs without a farm)
 *   bench_farm load URL TOKEN AGENTS UNITS SLOTS
 *                                           AGENTS simulated agents (one connection each,
 *                                           driven by one curl multi handle) take UNITS
 *                                           queued units, SLOTS per lease, and report
 *                                           each: scheduling rate, request latency
 * Results are "key value" lines. */
#include "common/clock.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/proc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void percentiles(const char *name, uint64_t *v, size_t n)
{
    if (!n)
        return;
    qsort(v, n, sizeof(*v), by_value);
    printf("%s_p50_ms %.3f\n%s_p99_ms %.3f\n", name, (double)v[n / 2] / 1e6, name,
           (double)v[n * 99 / 100] / 1e6);
}

static int post(struct udcs_http_client *c, const char *path, const char *body,
                struct udcs_buf *out)
{
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "POST";
    k.path = path;
    k.body = body;
    k.body_len = strlen(body);
    k.content_type = "application/json";
    k.response = out;
    int rc = udcs_http_client_call(c, &k);
    if (rc < 0)
        fprintf(stderr, "bench_farm: POST %s: %s\n", path, k.error);
    return rc;
}

/* Submit and follow the job's events to its end. Returns 0 when it is done. */
static int run_job(struct udcs_http_client *c, const char *job)
{
    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    if (post(c, "/api/submit", job, &out) < 0)
        return -1;
    json_t *j = json_loads(out.data, 0, NULL);
    long long id = json_integer_value(json_object_get(j, "job_id"));
    json_decref(j);
    char path[64];
    snprintf(path, sizeof(path), "/api/jobs/%lld/events", id);
    udcs_buf_reset(&out);
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = path;
    k.response = &out;
    int rc = udcs_http_client_call(c, &k);   /* the stream ends with the job */
    int done = rc == 0 && strstr(out.data, "\"state\":\"done\"");
    udcs_buf_release(&out);
    return done ? 0 : -1;
}

static int bench_rtt(const char *url, const char *token, int count)
{
    struct udcs_http_client *c;
    if (udcs_http_client_new(url, token, &c) < 0)
        return 1;
    uint64_t *lat = calloc((size_t)count, sizeof(*lat));
    char job[256];
    uint64_t seed = udcs_wall_ms();
    for (int i = 0; i < count; i++) {
        snprintf(job, sizeof(job), "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"true\",\"%llu-%d\"]}]}",
                 (unsigned long long)seed, i);   /* new each time: never from the cache */
        uint64_t t0 = udcs_mono_ns();
        if (run_job(c, job) < 0)
            return 1;
        lat[i] = udcs_mono_ns() - t0;
    }
    printf("rtt_jobs %d\n", count);
    percentiles("rtt", lat, (size_t)count);
    free(lat);
    udcs_http_client_free(c);
    return 0;
}

static char *trivial_job(long units, const char *tag)
{
    json_t *list = json_array();
    char arg[64];
    for (long i = 0; i < units; i++) {
        snprintf(arg, sizeof(arg), "%s-%ld", tag, i);
        json_array_append_new(list, json_pack("{s:[s,s]}", "argv", "true", arg));
    }
    json_t *job = json_pack("{s:s, s:o}", "type", "EXEC", "units", list);
    char *text = json_dumps(job, JSON_COMPACT);
    json_decref(job);
    return text;
}

static int bench_throughput(const char *url, const char *token, long units)
{
    struct udcs_http_client *c;
    if (udcs_http_client_new(url, token, &c) < 0)
        return 1;
    char tag[64];
    snprintf(tag, sizeof(tag), "tp%llu", (unsigned long long)udcs_wall_ms());
    char *job = trivial_job(units, tag);
    uint64_t t0 = udcs_mono_ns();
    int rc = run_job(c, job);
    double s = (double)(udcs_mono_ns() - t0) / 1e9;
    free(job);
    udcs_http_client_free(c);
    if (rc < 0)
        return 1;
    printf("throughput_units %ld\nthroughput_s %.3f\nthroughput_units_per_s %.0f\n", units, s,
           (double)units / s);
    return 0;
}

/* ---- simulated agents ------------------------------------------------------------------ */

/* Phases of the load test: every unit is leased first (scheduling), then every result is
 * reported (completion), then the agents sit in long polls (a connected, idle farm). */
enum phase { LEASING, REPORTING, IDLE };

struct sim {
    CURL *h;
    struct curl_slist *headers;
    long long id;
    char body[512];
    struct udcs_buf resp;
    json_t *held;                 /* units leased */
    size_t next;                  /* next result to report */
    int busy;                     /* a request is in flight */
    int leasing;                  /* that request is a lease */
    uint64_t started_ns;
};

static struct {
    uint64_t *lease_lat, *result_lat;
    size_t n_lease, n_result, cap;
    long results, leased, want;
    int slots;
    enum phase phase;
    uint64_t lease_start_ns, lease_end_ns, report_start_ns, report_end_ns;
    const char *url;
} load;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct sim *s = arg;
    udcs_buf_append(&s->resp, data, size * n);
    return size * n;
}

static void sim_send(CURLM *m, struct sim *s, const char *path, int leasing)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", load.url, path);
    curl_multi_remove_handle(m, s->h);
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
    udcs_buf_reset(&s->resp);
    s->started_ns = udcs_mono_ns();
    s->busy = 1;
    s->leasing = leasing;
    curl_multi_add_handle(m, s->h);
}

static void sim_lease(CURLM *m, struct sim *s, int wait_ms)
{
    snprintf(s->body, sizeof(s->body), "{\"agent_id\":%lld,\"slots\":%d,\"wait_ms\":%d}", s->id,
             load.slots, wait_ms);
    sim_send(m, s, "/api/agent/v1/lease", 1);
}

/* What a simulated agent does next, in the current phase. */
static void sim_next(CURLM *m, struct sim *s)
{
    if (load.phase == LEASING) {
        if (json_array_size(s->held) < (size_t)load.slots && load.leased < load.want)
            sim_lease(m, s, 0);
        return;
    }
    if (load.phase == REPORTING && s->next < json_array_size(s->held)) {
        json_t *u = json_array_get(s->held, s->next++);
        snprintf(s->body, sizeof(s->body),
                 "{\"agent_id\":%lld,\"unit\":%lld,\"epoch\":%lld,\"outcome\":\"ok\",\"result\":"
                 "{\"version\":1,\"exit_code\":0,\"outputs\":[],"
                 "\"stdout\":\"99aa06d3014798d86001c324468d497f/0\","
                 "\"stderr\":\"99aa06d3014798d86001c324468d497f/0\"}}",
                 s->id, (long long)json_integer_value(json_object_get(u, "unit")),
                 (long long)json_integer_value(json_object_get(u, "epoch")));
        sim_send(m, s, "/api/agent/v1/result", 0);
    }
}

static void record(uint64_t *v, size_t *n, uint64_t x)
{
    if (*n < load.cap)
        v[(*n)++] = x;
}

static int bench_load(const char *url, const char *token, int agents, long units, int slots)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {   /* one socket per simulated agent */
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct udcs_http_client *c;
    if (udcs_http_client_new(url, token, &c) < 0)
        return 1;
    char tag[64];
    snprintf(tag, sizeof(tag), "load%llu", (unsigned long long)udcs_wall_ms());
    char *job = trivial_job(units, tag);
    struct udcs_buf out = UDCS_BUF_INIT(64 << 20);
    uint64_t t0 = udcs_mono_ns();
    if (post(c, "/api/submit", job, &out) < 0)
        return 1;
    printf("submit_units %ld\nsubmit_s %.3f\n", units, (double)(udcs_mono_ns() - t0) / 1e9);
    fflush(stdout);
    free(job);

    struct sim *sims = calloc((size_t)agents, sizeof(*sims));
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    t0 = udcs_mono_ns();
    for (int i = 0; i < agents; i++) {
        char body[512];
        snprintf(body, sizeof(body), "{\"key\":\"%s-%d\",\"name\":\"sim-%d\",\"slots\":%d,\"info\":"
                 "{\"architecture\":\"x86_64\",\"os\":\"linux\",\"cpu_cores\":8,\"ram_gb\":16,"
                 "\"gpus\":[],\"toolchains\":[]}}", tag, i, i, slots);
        udcs_buf_reset(&out);
        if (post(c, "/api/agent/v1/register", body, &out) < 0)
            return 1;
        json_t *j = json_loads(out.data, 0, NULL);
        sims[i].id = json_integer_value(json_object_get(j, "agent_id"));
        json_decref(j);
    }
    printf("register_agents %d\nregister_s %.3f\n", agents, (double)(udcs_mono_ns() - t0) / 1e9);
    fflush(stdout);
    udcs_buf_release(&out);
    udcs_http_client_free(c);

    CURLM *m = curl_multi_init();
    load.cap = (size_t)units + (size_t)agents * 4;
    load.lease_lat = calloc(load.cap, sizeof(uint64_t));
    load.result_lat = calloc(load.cap, sizeof(uint64_t));
    load.want = units;
    load.slots = slots;
    load.url = url;
    for (int i = 0; i < agents; i++) {
        struct sim *s = &sims[i];
        s->resp = (struct udcs_buf)UDCS_BUF_INIT(16 << 20);
        s->held = json_array();
        s->h = curl_easy_init();
        s->headers = curl_slist_append(NULL, auth);
        s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
    }
    load.phase = LEASING;
    load.lease_start_ns = udcs_mono_ns();
    for (int i = 0; i < agents; i++)
        sim_next(m, &sims[i]);
    int running = 1;
    while (load.phase != IDLE) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct sim *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
            uint64_t lat = udcs_mono_ns() - s->started_ns;
            s->busy = 0;
            if (msg->data.result != CURLE_OK || code != 200) {
                fprintf(stderr, "bench_farm: agent %lld: HTTP %ld (%s): %.200s\n", s->id, code,
                        curl_easy_strerror(msg->data.result), s->resp.data ? s->resp.data : "");
                return 1;
            }
            if (s->leasing) {
                json_t *j = json_loads(s->resp.data, 0, NULL);
                json_array_extend(s->held, json_object_get(j, "units"));
                size_t n = json_array_size(json_object_get(j, "units"));
                json_decref(j);
                record(load.lease_lat, &load.n_lease, lat);
                load.leased += (long)n;
                if (load.leased >= load.want && load.phase == LEASING) {
                    load.lease_end_ns = udcs_mono_ns();
                    load.phase = REPORTING;
                    load.report_start_ns = udcs_mono_ns();
                    for (int i = 0; i < agents; i++)
                        if (!sims[i].busy)
                            sim_next(m, &sims[i]);
                }
            } else {
                record(load.result_lat, &load.n_result, lat);
                if (++load.results == load.want) {
                    load.report_end_ns = udcs_mono_ns();
                    load.phase = IDLE;
                }
            }
            if (load.phase != IDLE && !s->busy)   /* the phase switch may have sent one */
                sim_next(m, s);
        }
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double lease_s = (double)(load.lease_end_ns - load.lease_start_ns) / 1e9;
    double report_s = (double)(load.report_end_ns - load.report_start_ns) / 1e9;
    printf("load_agents %d\nload_units %ld\nscheduled_units_per_s %.0f\nreported_units_per_s %.0f\n",
           agents, units, (double)load.leased / lease_s, (double)units / report_s);
    percentiles("lease", load.lease_lat, load.n_lease);
    percentiles("result", load.result_lat, load.n_result);
    fflush(stdout);
    /* Every agent now waits in a long poll: the caller measures the connected master. */
    for (int i = 0; i < agents; i++)
        sim_lease(m, &sims[i], 10000);
    uint64_t until = udcs_mono_ns() + 5000000000ull;
    while (udcs_mono_ns() < until) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    printf("idle_agents_connected %d\n", running);
    fflush(stdout);
    return 0;
}

static int bench_local(int count)
{
    uint64_t *lat = calloc((size_t)count, sizeof(*lat));
    char arg[32];
    char *argv[] = { "true", arg, NULL };
    for (int i = 0; i < count; i++) {
        struct udcs_proc p = UDCS_PROC_INIT;
        snprintf(arg, sizeof(arg), "%d", i);
        p.argv = argv;
        p.in.mode = p.out.mode = p.err.mode = UDCS_PROC_NULL;
        uint64_t t0 = udcs_mono_ns();
        if (udcs_proc_run(&p) < 0)
            return 1;
        lat[i] = udcs_mono_ns() - t0;
    }
    percentiles("local", lat, (size_t)count);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "local") == 0)
        return bench_local(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "rtt") == 0)
        return bench_rtt(argv[2], argv[3], atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "throughput") == 0)
        return bench_throughput(argv[2], argv[3], atol(argv[4]));
    if (argc == 7 && strcmp(argv[1], "load") == 0)
        return bench_load(argv[2], argv[3], atoi(argv[4]), atol(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: bench_farm rtt URL TOKEN COUNT | throughput URL TOKEN UNITS | "
                    "load URL TOKEN AGENTS UNITS SLOTS\n");
    return 2;
}
