/* tests/unit/test_farm_api.c - the master's HTTP API in process: tokens and roles (an
 * agent token cannot submit, a client token cannot lease), server-sent events of a job,
 * /metrics and /api/devices, the status page, and callback_url (a job's end POSTed to a
 * receiver the test runs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGENT_TOKEN "agent-token-123"
#define CLIENT_TOKEN "client-token-456"

struct fixture {
    char *dir;
    struct farm *f;
    char url[64], web[64];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->dir = test_tmpdir("farm-api");
    struct farm_options o = { .state_dir = fx->dir };
    assert_int_equal(farm_open(&o, &fx->f), 0);
    struct farm_listen l = { .api_listen = "127.0.0.1:0", .web_listen = "127.0.0.1:0",
                             .agent_token = AGENT_TOKEN, .client_token = CLIENT_TOKEN };
    assert_int_equal(farm_serve(fx->f, &l), 0);
    snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%u", farm_api_port(fx->f));
    snprintf(fx->web, sizeof(fx->web), "http://127.0.0.1:%u", farm_web_port(fx->f));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    farm_close(fx->f);
    test_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* One call; returns the HTTP status, the body in `out` (may be NULL). */
static long call(const char *base, const char *token, const char *method, const char *path,
                 const char *body, struct udcs_buf *out)
{
    struct udcs_http_client *c;
    assert_int_equal(udcs_http_client_new(base, token, &c), 0);
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = method;
    k.path = path;
    k.response = out;
    if (body) {
        k.body = body;
        k.body_len = strlen(body);
        k.content_type = "application/json";
    }
    udcs_http_client_call(c, &k);
    udcs_http_client_free(c);
    return k.status;
}

static const char job_json[] = "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"true\"]}]}";
static const char register_json[] =
    "{\"key\":\"k\",\"name\":\"n\",\"slots\":1,\"info\":{\"architecture\":\"x86_64\",\"os\":\"linux\"}}";

static void each_token_opens_only_its_own_doors(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx->url, AGENT_TOKEN, "POST", "/api/submit", job_json, NULL), 403);
    assert_int_equal(call(fx->url, CLIENT_TOKEN, "POST", "/api/agent/v1/register", register_json,
                          NULL), 403);
    assert_int_equal(call(fx->url, NULL, "POST", "/api/submit", job_json, NULL), 401);
    assert_int_equal(call(fx->url, CLIENT_TOKEN, "POST", "/api/submit", job_json, NULL), 201);
    assert_int_equal(call(fx->url, AGENT_TOKEN, "POST", "/api/agent/v1/register", register_json,
                          NULL), 200);
    /* reads are open unless the master guards them */
    assert_int_equal(call(fx->url, NULL, "GET", "/api/jobs", NULL, NULL), 200);
    /* the web port serves the writes too (the dashboard acts on its own origin), with
     * the same tokens */
    assert_int_equal(call(fx->web, NULL, "POST", "/api/submit", job_json, NULL), 401);
    assert_int_equal(call(fx->web, AGENT_TOKEN, "POST", "/api/submit", job_json, NULL), 403);
    assert_int_equal(call(fx->web, CLIENT_TOKEN, "POST", "/api/submit", job_json, NULL), 201);
    /* but not the agent protocol (only the page's GET / knows such a path) */
    assert_int_equal(call(fx->web, AGENT_TOKEN, "POST", "/api/agent/v1/register", register_json,
                          NULL), 405);
    assert_int_equal(call(fx->web, NULL, "GET", "/no/such/page", NULL, NULL), 404);
}

/* Complete every queued unit of the farm with exit status 0, as an agent would. */
static void complete_all(struct farm *f)
{
    pthread_mutex_lock(&f->lock);
    json_t *body = json_loads(register_json, 0, NULL);
    struct farm_register_req rr;
    struct agent *a;
    char why[256];
    assert_int_equal(farm_parse_register(body, &rr, why, sizeof(why)), 0);
    farm_db_begin(f);
    assert_int_equal(farm_agent_register(f, &rr, &a), 0);
    struct unit *u;
    while (farm_pick(f, a, &u, 1) == 1) {
        struct farm_result_req r = { .agent_id = a->id, .unit = u->id, .epoch = u->epoch, .ok = 1 };
        cas_digest_of_bytes("", 0, &r.result.stdout_digest);
        r.result.stderr_digest = r.result.stdout_digest;
        struct udcs_buf t = UDCS_BUF_INIT(SIZE_MAX);
        cas_action_result_to_json(&r.result, &t);
        r.result_json = udcs_buf_detach(&t, NULL);
        int status;
        assert_int_equal(farm_accept_result(f, a, &r, &status, why, sizeof(why)), 0);
        farm_result_req_release(&r);
    }
    farm_db_commit(f);
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
}

static void events_of_a_finished_job_end_with_job_finished(void **state)
{
    struct fixture *fx = *state;
    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    assert_int_equal(call(fx->url, CLIENT_TOKEN, "POST", "/api/submit", job_json, &out), 201);
    complete_all(fx->f);
    udcs_buf_reset(&out);
    assert_int_equal(call(fx->url, NULL, "GET", "/api/jobs/1/events", NULL, &out), 200);
    assert_non_null(strstr(out.data, "event: job_submitted\n"));
    assert_non_null(strstr(out.data, "event: unit_started\n"));
    assert_non_null(strstr(out.data, "event: unit_finished\n"));
    assert_non_null(strstr(out.data, "event: job_finished\ndata: {"));
    assert_true(strstr(out.data, "job_submitted") < strstr(out.data, "job_finished"));
    udcs_buf_release(&out);
}

static void metrics_devices_and_status_page_show_the_farm(void **state)
{
    struct fixture *fx = *state;
    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    call(fx->url, CLIENT_TOKEN, "POST", "/api/submit", job_json, NULL);
    complete_all(fx->f);
    assert_int_equal(call(fx->url, NULL, "GET", "/metrics", NULL, &out), 200);
    assert_non_null(strstr(out.data, "# TYPE udcs_units gauge\n"));
    assert_non_null(strstr(out.data, "udcs_units{state=\"done\"} 1\n"));
    assert_non_null(strstr(out.data, "udcs_agents{state=\"busy\"} 0\n"));
    assert_non_null(strstr(out.data, "udcs_units_completed_total 1\n"));
    udcs_buf_reset(&out);
    assert_int_equal(call(fx->url, NULL, "GET", "/api/devices", NULL, &out), 200);
    json_t *d = json_loads(out.data, 0, NULL);
    json_t *dev = json_array_get(json_object_get(d, "devices"), 0);
    assert_string_equal(json_string_value(json_object_get(dev, "architecture")), "x86_64");
    assert_string_equal(json_string_value(json_object_get(dev, "status")), "idle");
    assert_true(json_is_integer(json_object_get(dev, "id")));
    json_decref(d);
    udcs_buf_reset(&out);
    assert_int_equal(call(fx->web, NULL, "GET", "/", NULL, &out), 200);
    assert_non_null(strstr(out.data, "<h2>Devices</h2>"));
    assert_non_null(strstr(out.data, "<td>EXEC</td>"));
    udcs_buf_release(&out);
}

/* ---- callback_url --------------------------------------------------------------------- */

struct receiver {
    pthread_mutex_t lock;
    unsigned status;   /* its answer; 0: 204 */
    int calls;
    char body[4096];
};

static void on_callback(struct udcs_http_req *req)
{
    struct receiver *r = req->ctx;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    snprintf(r->body, sizeof(r->body), "%.*s", (int)req->body.len, req->body.data ? req->body.data : "");
    pthread_mutex_unlock(&r->lock);
    udcs_http_reply(req, r->status ? r->status : 204, NULL, NULL, 0);
}

/* A receiver on loopback (POST /hook, answered by on_callback), and a job that names it
 * as its callback_url, run to its end. */
static struct udcs_http_server *job_with_callback(struct fixture *fx, struct receiver *r)
{
    struct udcs_http_server *srv;
    struct udcs_http_server_options so = { .listen = "127.0.0.1:0" };
    struct udcs_http_route route = { .method = "POST", .path = "/hook", .max_body = 1 << 20,
                                     .handle = on_callback, .ctx = r };
    assert_int_equal(udcs_http_server_new(&so, &srv), 0);
    assert_int_equal(udcs_http_server_add_route(srv, &route), 0);
    assert_int_equal(udcs_http_server_start(srv), 0);
    char job[512];
    snprintf(job, sizeof(job), "{\"type\":\"EXEC\",\"callback_url\":\"%s/hook\",\"units\":[{\"argv\""
             ":[\"echo\",\"callback\"]}]}", udcs_http_server_url(srv));
    assert_int_equal(call(fx->url, CLIENT_TOKEN, "POST", "/api/submit", job, NULL), 201);
    complete_all(fx->f);   /* registers agent 1 and ends the job */
    return srv;
}

static void callback_url_hears_of_the_job_end(void **state)
{
    struct fixture *fx = *state;
    struct receiver r = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct udcs_http_server *srv = job_with_callback(fx, &r);
    int calls = 0;
    for (int i = 0; i < 500 && !calls; i++) {   /* the sender runs on its own thread */
        usleep(10000);
        pthread_mutex_lock(&r.lock);
        calls = r.calls;
        pthread_mutex_unlock(&r.lock);
    }
    assert_int_equal(calls, 1);
    assert_non_null(strstr(r.body, "\"state\":\"done\""));
    assert_non_null(strstr(r.body, "\"id\":1"));
    udcs_http_server_free(srv);
    char bad[] = "{\"type\":\"EXEC\",\"callback_url\":\"file:///etc/passwd\",\"units\":[{\"argv\":[\"x\"]}]}";
    assert_int_equal(call(fx->url, CLIENT_TOKEN, "POST", "/api/submit", bad, NULL), 400);
}

/* The tries are 2, 4, 8, 16 s apart; heartbeats wake the master's threads many times a
 * second, and must not make the sender try again early (it once spent its 5 tries in
 * 1.6 s). Within 3 s of heartbeats every 20 ms: the first try and at most one more. */
static void callback_retries_wait_out_their_backoff_through_heartbeats(void **state)
{
    struct fixture *fx = *state;
    struct receiver r = { .lock = PTHREAD_MUTEX_INITIALIZER, .status = 500 };
    struct udcs_http_server *srv = job_with_callback(fx, &r);   /* down: try again later */
    for (int i = 0; i < 150; i++) {
        assert_int_equal(call(fx->url, AGENT_TOKEN, "POST", "/api/agent/v1/heartbeat",
                              "{\"agent_id\":1}", NULL), 200);
        usleep(20000);
    }
    pthread_mutex_lock(&r.lock);
    int calls = r.calls;
    pthread_mutex_unlock(&r.lock);
    assert_true(calls >= 1);
    assert_true(calls <= 2);
    udcs_http_server_free(srv);
}

/* ---- the dashboard's routes ---------------------------------------------------------------- */

static void dashboard_parsers_refuse_what_they_must(void **state)
{
    (void)state;
    int p = 0;
    char why[256];
    assert_int_equal(farm_parse_priority("{\"priority\": 7}", 15, &p, why, sizeof(why)), 0);
    assert_int_equal(p, 7);
    const char *bad[] = { "{\"priority\": 0}", "{\"priority\": 11}", "{\"priority\": 5.5}",
                          "{\"priority\": \"5\"}", "[5]", "{}", "{\"prio", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(farm_parse_priority(bad[i], strlen(bad[i]), &p, why, sizeof(why)),
                         UDCS_EPROTO);
    uint64_t seq = 0;
    assert_int_equal(farm_parse_event_id("1795673742660005", &seq), 0);
    assert_true(seq == 1795673742660005ull);
    assert_int_equal(farm_parse_event_id("-1", &seq), -EINVAL);
    assert_int_equal(farm_parse_event_id("12x", &seq), -EINVAL);
    assert_int_equal(farm_parse_event_id("99999999999999999999", &seq), -EINVAL);
    assert_int_equal(farm_parse_event_id(NULL, &seq), -EINVAL);
    assert_true(farm_web_name_ok("app.js") && farm_web_name_ok("app.js.map"));
    assert_false(farm_web_name_ok("..") || farm_web_name_ok("../x") || farm_web_name_ok(".env") ||
                 farm_web_name_ok("a/b") || farm_web_name_ok("") || farm_web_name_ok("a%2fb"));
    assert_string_equal(farm_web_content_type("app.js"), "application/javascript");
    assert_string_equal(farm_web_content_type("app.css"), "text/css");
    assert_string_equal(farm_web_content_type("app.js.map"), "application/json");
    assert_string_equal(farm_web_content_type("x.svg"), "image/svg+xml");
    assert_string_equal(farm_web_content_type("x.png"), "image/png");
    assert_string_equal(farm_blob_type(NULL), "application/octet-stream");
    assert_string_equal(farm_blob_type("image/png"), "image/png");
    assert_null(farm_blob_type("text/html"));
}

/* Read the event stream of job 1 (/api/events?units=1) for `ms` milliseconds into `out`,
 * sending `last_id` when not NULL. */
static void read_events(const char *base, const char *last_id, uint64_t ms, struct udcs_buf *out)
{
    struct udcs_http_client *c;
    assert_int_equal(udcs_http_client_new(base, NULL, &c), 0);
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    char header[64];
    const char *headers[2] = { NULL, NULL };
    if (last_id) {
        snprintf(header, sizeof(header), "Last-Event-ID: %s", last_id);
        headers[0] = header;
        k.headers = headers;
    }
    k.method = "GET";
    k.path = "/api/events?units=1";
    k.response = out;
    k.timeout_ms = ms;
    udcs_http_client_call(c, &k);   /* ends by its timeout: the stream does not */
    udcs_http_client_free(c);
}

struct events_arg { const char *base; struct udcs_buf out; };

static void *events_thread(void *p)
{
    struct events_arg *e = p;
    read_events(e->base, NULL, 1500, &e->out);
    return NULL;
}

static void actions_change_the_farm_and_the_event_stream_says_so(void **state)
{
    struct fixture *fx = *state;
    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    struct events_arg ev = { fx->web, UDCS_BUF_INIT(1 << 20) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, events_thread, &ev), 0);
    usleep(200000);
    const char two[] = "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"true\"]},{\"argv\":[\"false\"]}]}";
    assert_int_equal(call(fx->web, CLIENT_TOKEN, "POST", "/api/submit", two, NULL), 201);
    assert_int_equal(call(fx->web, NULL, "GET", "/api/jobs/1/grid", NULL, &out), 200);
    assert_non_null(strstr(out.data, "\"states\":\"qq\""));
    udcs_buf_reset(&out);
    assert_int_equal(call(fx->web, CLIENT_TOKEN, "POST", "/api/jobs/1/priority",
                          "{\"priority\":9}", &out), 200);
    assert_non_null(strstr(out.data, "\"priority\":9"));
    assert_int_equal(call(fx->web, CLIENT_TOKEN, "POST", "/api/jobs/1/retry", NULL, NULL), 409);
    assert_int_equal(call(fx->web, AGENT_TOKEN, "POST", "/api/agents/1/drain", NULL, NULL), 403);
    assert_int_equal(call(fx->web, CLIENT_TOKEN, "POST", "/api/agents/1/drain", NULL, NULL), 404);
    pthread_join(t, NULL);
    assert_non_null(strstr(ev.out.data, "event: job\ndata: {\"id\":1,"));
    assert_non_null(strstr(ev.out.data, "event: unit\ndata: {\"job\":1,\"unit\":1,\"state\":\"q\""));
    assert_non_null(strstr(ev.out.data, "\"priority\":9"));
    /* Resume after the first event: the second comes first, the first not again. */
    const char *id = strstr(ev.out.data, "id: ");
    assert_non_null(id);
    char first[32], second[32];
    assert_int_equal(sscanf(id, "id: %31s", first), 1);
    assert_int_equal(sscanf(strstr(id + 4, "id: "), "id: %31s", second), 1);
    udcs_buf_reset(&out);
    read_events(fx->web, first, 500, &out);
    char resumed[32];
    assert_int_equal(sscanf(strstr(out.data, "id: "), "id: %31s", resumed), 1);
    assert_string_equal(resumed, second);
    udcs_buf_release(&ev.out);
    udcs_buf_release(&out);
}

static void heartbeat_load_shows_in_devices_and_series(void **state)
{
    struct fixture *fx = *state;
    const char reg[] = "{\"key\":\"g\",\"name\":\"gpu-box\",\"slots\":1,\"info\":{"
                       "\"architecture\":\"x86_64\",\"os\":\"linux\",\"ram_gb\":64,"
                       "\"ram_free_gb\":48,\"gpus\":[{\"index\":0,\"memory_gb\":80,"
                       "\"memory_free_gb\":60,\"utilization\":50},{\"index\":1,"
                       "\"memory_gb\":80,\"memory_free_gb\":null,\"utilization\":null}]}}";
    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    assert_int_equal(call(fx->url, AGENT_TOKEN, "POST", "/api/agent/v1/register", reg, NULL), 200);
    const char hb[] = "{\"agent_id\":1,\"leases\":[],\"load\":{\"cpu\":0.25,\"bytes_in\":1000,"
                      "\"bytes_out\":20}}";
    assert_int_equal(call(fx->url, AGENT_TOKEN, "POST", "/api/agent/v1/heartbeat", hb, NULL), 200);
    const char bad[] = "{\"agent_id\":1,\"load\":{\"cpu\":1.5}}";
    assert_int_equal(call(fx->url, AGENT_TOKEN, "POST", "/api/agent/v1/heartbeat", bad, NULL), 400);
    assert_int_equal(call(fx->web, NULL, "GET", "/api/devices", NULL, &out), 200);
    json_t *d = json_loads(out.data, 0, NULL);
    json_t *dev = json_array_get(json_object_get(d, "devices"), 0);
    json_t *load = json_object_get(dev, "load");
    assert_true(json_real_value(json_object_get(load, "cpu")) == 0.25);
    assert_true(json_number_value(json_object_get(load, "mem_used_gb")) == 16);
    assert_true(json_number_value(json_object_get(load, "mem_total_gb")) == 64);
    json_t *g0 = json_array_get(json_object_get(load, "gpus"), 0);
    json_t *g1 = json_array_get(json_object_get(load, "gpus"), 1);
    assert_true(json_number_value(json_object_get(g0, "util")) == 0.5);
    assert_true(json_number_value(json_object_get(g0, "mem_used_gb")) == 20);
    assert_true(json_is_null(json_object_get(g1, "util")));
    assert_true(json_is_null(json_object_get(g1, "mem_used_gb")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(dev, "traffic"),
                                                        "bytes_in")), 1000);
    json_decref(d);
    udcs_buf_reset(&out);
    assert_int_equal(call(fx->web, NULL, "GET", "/api/devices/1/series", NULL, &out), 200);
    d = json_loads(out.data, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(d, "t")), 1);
    assert_true(json_number_value(json_array_get(json_object_get(d, "cpu"), 0)) == 0.25);
    json_t *gutil = json_object_get(d, "gpu_util");
    assert_int_equal(json_array_size(gutil), 2);
    assert_true(json_number_value(json_array_get(json_array_get(gutil, 0), 0)) == 0.5);
    assert_true(json_is_null(json_array_get(json_array_get(gutil, 1), 0)));
    json_decref(d);
    udcs_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_token_opens_only_its_own_doors, setup, teardown),
        cmocka_unit_test_setup_teardown(events_of_a_finished_job_end_with_job_finished, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(metrics_devices_and_status_page_show_the_farm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(callback_url_hears_of_the_job_end, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_retries_wait_out_their_backoff_through_heartbeats,
                                        setup, teardown),
        cmocka_unit_test(dashboard_parsers_refuse_what_they_must),
        cmocka_unit_test_setup_teardown(actions_change_the_farm_and_the_event_stream_says_so,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(heartbeat_load_shows_in_devices_and_series, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
