/* tests/unit/test_common_http.c - common/http_server.h and common/http_client.h together:
 * a real server on 127.0.0.1 with routes defined here, called through the real client.
 * Routing (404/405), bearer tokens (401/403), body limits (413), buffered and streamed
 * bodies both ways, JSON errors, keep-alive, and failures to connect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/json.h"
#include "tests/unit/helpers/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define TOKEN "t0ken-for-tests"
#define BUFFERED_MAX (1024 * 1024)
#define STREAM_MAX (64 * 1024 * 1024)
#define BIG_REPLY_BYTES (5 * 1024 * 1024 + 123)
#define FD_REPLY_BYTES (1024 * 1024 + 5)
#define WAIT_LIMIT_MS 10000

/* What the routes share with the tests. */
struct server_ctx {
    atomic_int early_handle_calls;   /* /early's handle, which must never run */
    atomic_int stream_begins;        /* /stream's and /tiny's begin */
    atomic_int stream_cleanups;      /* /stream's cleanup */
    atomic_int reply_done_calls;     /* streamed replies finished */
    char fd_file[4096];              /* what /blob/fd sends */
};

struct fixture {
    char *dir;
    struct server_ctx *ctx;
    struct udcs_http_server *srv;
    struct udcs_http_client *client;   /* with the right token */
};

/* ---- the routes ----------------------------------------------------------------------- */

/* A byte that depends only on its position, so any range can be produced and checked. */
static unsigned char pattern_at(uint64_t pos)
{
    return (unsigned char)((pos * 2654435761u) >> 13);
}

static void echo_body(struct udcs_http_req *req)
{
    udcs_http_reply(req, 200, "application/octet-stream", req->body.data, req->body.len);
}

struct upload_sum {
    uint64_t bytes, sum;
};

static void sum_step(struct upload_sum *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        s->sum = s->sum * 31 + (unsigned char)data[i];
    s->bytes += len;
}

static void stream_begin(struct udcs_http_req *req)
{
    struct server_ctx *ctx = req->ctx;
    atomic_fetch_add(&ctx->stream_begins, 1);
    req->state = calloc(1, sizeof(struct upload_sum));
}

static void stream_chunk(struct udcs_http_req *req, const char *data, size_t len)
{
    struct upload_sum *s = req->state;
    if (s->bytes == 0 && len && data[0] == 'X') {
        udcs_http_reply_error(req, 422, "a body must not start with X");
        return;
    }
    sum_step(s, data, len);
}

static void stream_handle(struct udcs_http_req *req)
{
    struct upload_sum *s = req->state;
    udcs_http_reply_json(req, 200, json_pack("{s:I, s:I}", "bytes", (json_int_t)s->bytes,
                                             "sum", (json_int_t)(s->sum >> 1)));
}

static void stream_cleanup(struct udcs_http_req *req)
{
    struct server_ctx *ctx = req->ctx;
    free(req->state);
    req->state = NULL;
    atomic_fetch_add(&ctx->stream_cleanups, 1);
}

static void early_begin(struct udcs_http_req *req)
{
    udcs_http_reply_error(req, 409, "early refusal before the body");
}

static void early_handle(struct udcs_http_req *req)
{
    struct server_ctx *ctx = req->ctx;
    atomic_fetch_add(&ctx->early_handle_calls, 1);
    udcs_http_reply(req, 200, "text/plain", "late", 4);
}

struct pattern_reply {
    struct server_ctx *ctx;
    uint64_t size;
};

static long pattern_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct pattern_reply *p = arg;
    size_t n = p->size - pos < max ? (size_t)(p->size - pos) : max;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)pattern_at(pos + i);
    return (long)n;
}

static void pattern_done(void *arg)
{
    struct pattern_reply *p = arg;
    atomic_fetch_add(&p->ctx->reply_done_calls, 1);
    free(p);
}

static void blob_handle(struct udcs_http_req *req)
{
    struct server_ctx *ctx = req->ctx;
    if (strcmp(req->subpath, "big") == 0) {
        struct pattern_reply *p = malloc(sizeof(*p));
        p->ctx = ctx;
        p->size = BIG_REPLY_BYTES;
        udcs_http_reply_stream(req, 200, "application/octet-stream", p->size, pattern_read,
                               pattern_done, p);
    } else if (strcmp(req->subpath, "fd") == 0) {
        int fd = open(ctx->fd_file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            udcs_http_reply_error(req, 500, "cannot open %s", ctx->fd_file);
            if (fd >= 0)
                close(fd);
            return;
        }
        udcs_http_reply_fd(req, 200, "application/octet-stream", fd, (uint64_t)st.st_size);
    } else {
        char text[512];
        int n = snprintf(text, sizeof(text), "subpath=%s", req->subpath);
        udcs_http_add_header(req, "X-Subpath", req->subpath);
        udcs_http_reply(req, 200, "text/plain", text, (size_t)n);
    }
}

static void open_handle(struct udcs_http_req *req)
{
    const char *q = udcs_http_req_query(req, "x");
    const char *ct = udcs_http_req_header(req, "Content-Type");
    char text[256];
    int n = snprintf(text, sizeof(text), "open x=%s ct=%s", q ? q : "-", ct ? ct : "-");
    udcs_http_reply(req, 200, "text/plain", text, (size_t)n);
}

static void fail_handle(struct udcs_http_req *req)
{
    udcs_http_reply_error(req, 500, "disk on fire: replace %s", "/dev/sda");
}

static void plain_fail_handle(struct udcs_http_req *req)
{
    udcs_http_reply(req, 503, "text/plain", "busy", 4);
}

static void silent_handle(struct udcs_http_req *req)
{
    (void)req;   /* forgets to answer */
}

static int start_server(struct fixture *f, const char *token, int auth_reads)
{
    struct udcs_http_server_options opt = { .listen = "127.0.0.1:0", .token = token,
                                            .auth_reads = auth_reads };
    if (udcs_http_server_new(&opt, &f->srv) < 0)
        return -1;
    struct server_ctx *c = f->ctx;
    const struct udcs_http_route routes[] = {
        { .method = "PUT", .path = "/buffered", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = BUFFERED_MAX, .handle = echo_body, .ctx = c },
        { .method = "PUT", .path = "/stream", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = STREAM_MAX, .begin = stream_begin, .chunk = stream_chunk,
          .handle = stream_handle, .cleanup = stream_cleanup, .ctx = c },
        { .method = "PUT", .path = "/tiny", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = 1000, .begin = stream_begin, .chunk = stream_chunk,
          .handle = stream_handle, .cleanup = stream_cleanup, .ctx = c },
        { .method = "PUT", .path = "/early", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = STREAM_MAX, .begin = early_begin, .chunk = stream_chunk,
          .handle = early_handle, .ctx = c },
        { .method = "POST", .path = "/early", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = STREAM_MAX, .begin = early_begin, .chunk = stream_chunk,
          .handle = early_handle, .ctx = c },
        { .method = "GET", .path = "/blob/", .auth = UDCS_HTTP_AUTH_READ, .handle = blob_handle,
          .ctx = c },
        { .method = "GET", .path = "/open", .auth = UDCS_HTTP_AUTH_NONE, .handle = open_handle },
        { .method = "POST", .path = "/open", .auth = UDCS_HTTP_AUTH_NONE, .max_body = 100,
          .handle = open_handle },
        { .method = "GET", .path = "/fail", .handle = fail_handle },
        { .method = "GET", .path = "/plainfail", .handle = plain_fail_handle },
        { .method = "GET", .path = "/silent", .handle = silent_handle },
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (udcs_http_server_add_route(f->srv, &routes[i]) < 0)
            return -1;
    if (udcs_http_server_start(f->srv) < 0)
        return -1;
    return udcs_http_client_new(udcs_http_server_url(f->srv), TOKEN, &f->client) < 0 ? -1 : 0;
}

static int setup_with(void **state, const char *token, int auth_reads)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("http");
    f->ctx = calloc(1, sizeof(*f->ctx));
    snprintf(f->ctx->fd_file, sizeof(f->ctx->fd_file), "%s/fd-file", f->dir);
    *state = f;
    return start_server(f, token, auth_reads);
}

static int setup(void **state)
{
    return setup_with(state, TOKEN, 0);
}

static int setup_auth_reads(void **state)
{
    return setup_with(state, TOKEN, 1);
}

static int setup_no_token(void **state)
{
    return setup_with(state, NULL, 0);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    udcs_http_client_free(f->client);
    udcs_http_server_free(f->srv);
    test_rmtree(f->dir);
    free(f->ctx);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int call(struct udcs_http_client *c, const char *method, const char *path,
                const void *body, size_t len, struct udcs_buf *response, struct udcs_http_call *out)
{
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = method;
    k.path = path;
    k.body = body;
    k.body_len = len;
    k.response = response;
    int rc = udcs_http_client_call(c, &k);
    if (out)
        *out = k;
    return rc;
}

static struct udcs_http_client *client_with(struct fixture *f, const char *token)
{
    struct udcs_http_client *c = NULL;
    assert_int_equal(udcs_http_client_new(udcs_http_server_url(f->srv), token, &c), 0);
    return c;
}

static void wait_for_count(atomic_int *counter, int want)
{
    for (int i = 0; i < WAIT_LIMIT_MS && atomic_load(counter) < want; i++)
        usleep(1000);
    assert_int_equal(atomic_load(counter), want);
}

/* ---- routing ------------------------------------------------------------------------------ */

static void unknown_path_is_404_with_a_json_error(void **state)
{
    struct fixture *f = *state;
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "GET", "/nope", NULL, 0, NULL, &k), UDCS_ENOTFOUND);
    assert_int_equal(k.status, 404);
    assert_string_equal(k.error, "no such endpoint: /nope");
    /* a prefix route needs its slash */
    assert_int_equal(call(f->client, "GET", "/blob", NULL, 0, NULL, &k), UDCS_ENOTFOUND);
}

static void wrong_method_is_405(void **state)
{
    struct fixture *f = *state;
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "DELETE", "/open", NULL, 0, NULL, &k), UDCS_EPROTO);
    assert_int_equal(k.status, 405);
    assert_string_equal(k.error, "DELETE is not allowed on /open");
    assert_int_equal(call(f->client, "GET", "/buffered", NULL, 0, NULL, &k), UDCS_EPROTO);
    assert_int_equal(k.status, 405);
}

static void prefix_route_gets_the_subpath_and_query(void **state)
{
    struct fixture *f = *state;
    struct udcs_buf r = UDCS_BUF_INIT(1024);
    assert_int_equal(call(f->client, "GET", "/blob/ab/cdef?x=1", NULL, 0, &r, NULL), 0);
    assert_string_equal(r.data, "subpath=ab/cdef");
    udcs_buf_reset(&r);
    assert_int_equal(call(f->client, "GET", "/open?x=42", NULL, 0, &r, NULL), 0);
    assert_string_equal(r.data, "open x=42 ct=-");
    udcs_buf_reset(&r);
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "POST";
    k.path = "/open";
    k.content_type = "application/x-test";
    k.body = "hi";
    k.body_len = 2;
    k.response = &r;
    assert_int_equal(udcs_http_client_call(f->client, &k), 0);
    assert_int_equal(k.status, 200);
    assert_string_equal(r.data, "open x=- ct=application/x-test");
    udcs_buf_release(&r);
}

static void head_falls_back_to_the_get_route_without_a_body(void **state)
{
    struct fixture *f = *state;
    struct udcs_buf r = UDCS_BUF_INIT(1024);
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "HEAD", "/open", NULL, 0, &r, &k), 0);
    assert_int_equal(k.status, 200);
    assert_int_equal(r.len, 0);
    assert_int_equal(call(f->client, "HEAD", "/nope", NULL, 0, &r, &k), UDCS_ENOTFOUND);
    udcs_buf_release(&r);
}

/* ---- auth --------------------------------------------------------------------------------- */

static void write_routes_need_the_token_and_read_routes_do_not(void **state)
{
    struct fixture *f = *state;
    struct udcs_http_client *anon = client_with(f, NULL), *wrong = client_with(f, "guess");
    struct udcs_http_call k;
    assert_int_equal(call(anon, "PUT", "/buffered", "abc", 3, NULL, &k), UDCS_EAUTH);
    assert_int_equal(k.status, 401);
    assert_non_null(strstr(k.error, "needs a bearer token"));
    assert_int_equal(call(wrong, "PUT", "/buffered", "abc", 3, NULL, &k), UDCS_EAUTH);
    assert_int_equal(k.status, 403);
    assert_non_null(strstr(k.error, "refused"));
    struct udcs_buf r = UDCS_BUF_INIT(16);
    assert_int_equal(call(f->client, "PUT", "/buffered", "abc", 3, &r, &k), 0);
    assert_string_equal(r.data, "abc");
    /* a token that only starts like the right one is still wrong */
    struct udcs_http_client *longer = client_with(f, TOKEN "x");
    assert_int_equal(call(longer, "PUT", "/buffered", "abc", 3, NULL, &k), UDCS_EAUTH);
    assert_int_equal(k.status, 403);
    /* reads are open unless the server guards them */
    assert_int_equal(call(anon, "GET", "/blob/x", NULL, 0, NULL, &k), 0);
    assert_int_equal(k.status, 200);
    udcs_buf_release(&r);
    udcs_http_client_free(anon);
    udcs_http_client_free(wrong);
    udcs_http_client_free(longer);
}

static void guarded_reads_need_the_token_but_open_routes_do_not(void **state)
{
    struct fixture *f = *state;
    struct udcs_http_client *anon = client_with(f, NULL);
    struct udcs_http_call k;
    assert_int_equal(call(anon, "GET", "/blob/x", NULL, 0, NULL, &k), UDCS_EAUTH);
    assert_int_equal(k.status, 401);
    assert_int_equal(call(f->client, "GET", "/blob/x", NULL, 0, NULL, &k), 0);
    assert_int_equal(call(anon, "GET", "/open", NULL, 0, NULL, &k), 0);   /* AUTH_NONE */
    udcs_http_client_free(anon);
}

static void server_without_a_token_guards_nothing(void **state)
{
    struct fixture *f = *state;
    struct udcs_http_client *anon = client_with(f, NULL);
    struct udcs_buf r = UDCS_BUF_INIT(16);
    assert_int_equal(call(anon, "PUT", "/buffered", "abc", 3, &r, NULL), 0);
    assert_string_equal(r.data, "abc");
    udcs_buf_release(&r);
    udcs_http_client_free(anon);
}

/* ---- request bodies ----------------------------------------------------------------------- */

static void buffered_body_arrives_whole(void **state)
{
    struct fixture *f = *state;
    size_t len = BUFFERED_MAX;   /* exactly the limit */
    char *body = malloc(len);
    test_fill(body, len, 3, 0);
    struct udcs_buf r = UDCS_BUF_INIT(2 * BUFFERED_MAX);
    assert_int_equal(call(f->client, "PUT", "/buffered", body, len, &r, NULL), 0);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.data, body, len);
    udcs_buf_release(&r);
    free(body);
}

static void body_over_max_by_content_length_is_413(void **state)
{
    struct fixture *f = *state;
    size_t len = BUFFERED_MAX + 1;
    char *body = calloc(1, len);
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "PUT", "/buffered", body, len, NULL, &k), UDCS_ETOOBIG);
    assert_int_equal(k.status, 413);
    assert_non_null(strstr(k.error, "limit of 1048576 bytes"));
    /* a POST this small goes out at once, without waiting for "100 Continue" */
    char small[200 * 1024] = { 0 };
    assert_int_equal(call(f->client, "POST", "/open", small, sizeof(small), NULL, &k),
                     UDCS_ETOOBIG);
    assert_int_equal(k.status, 413);
    assert_non_null(strstr(k.error, "limit of 100 bytes"));
    /* refused from the header alone: a streaming route never saw the request begin */
    assert_int_equal(call(f->client, "PUT", "/tiny", small, 1001, NULL, &k), UDCS_ETOOBIG);
    assert_int_equal(k.status, 413);
    assert_int_equal(atomic_load(&f->ctx->stream_begins), 0);
    /* the client and server are fine afterwards */
    struct udcs_buf r = UDCS_BUF_INIT(16);
    assert_int_equal(call(f->client, "PUT", "/buffered", "ok", 2, &r, NULL), 0);
    assert_string_equal(r.data, "ok");
    udcs_buf_release(&r);
    free(body);
}

static void streamed_upload_from_a_descriptor_reaches_the_chunk_handler(void **state)
{
    struct fixture *f = *state;
    size_t len = 8 * 1024 * 1024 + 77;
    char *data = malloc(len);
    test_fill(data, len, 4, 0);
    char *path = udcs_path_join(f->dir, "upload");
    test_write_file(path, data, len);
    struct upload_sum want = { 0, 0 };
    sum_step(&want, data, len);

    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct udcs_buf r = UDCS_BUF_INIT(1024);
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "PUT";
    k.path = "/stream";
    k.body_fd = fd;
    k.body_fd_len = len;
    k.response = &r;
    assert_int_equal(udcs_http_client_call(f->client, &k), 0);
    close(fd);
    json_t *j = NULL;
    char why[128];
    uint64_t bytes = 0, sum = 0;
    assert_int_equal(udcs_json_parse(r.data, r.len, &j, why, sizeof(why)), 0);
    assert_int_equal(udcs_json_get_uint(j, "bytes", &bytes, why, sizeof(why)), 0);
    assert_int_equal(udcs_json_get_uint(j, "sum", &sum, why, sizeof(why)), 0);
    assert_int_equal(bytes, len);
    assert_int_equal(sum, want.sum >> 1);
    wait_for_count(&f->ctx->stream_cleanups, 1);
    json_decref(j);
    udcs_buf_release(&r);
    free(path);
    free(data);
}

/* Send `request` on a fresh connection and return the start of the answer (at least its
 * headers), malloc()ed. For what the client cannot send, such as a chunked body. */
static char *raw_exchange(unsigned port, const char *request, size_t len)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { .tv_sec = WAIT_LIMIT_MS / 1000 };
    assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(udcs_write_full(s, request, len), 0);
    struct udcs_buf r = UDCS_BUF_INIT(64 * 1024);
    char chunk[4096];
    ssize_t n;
    while ((!r.data || !strstr(r.data, "\r\n\r\n")) && (n = read(s, chunk, sizeof(chunk))) > 0)
        assert_int_equal(udcs_buf_append(&r, chunk, (size_t)n), 0);
    close(s);
    return udcs_buf_detach(&r, NULL);
}

static void chunked_body_over_max_is_413_while_reading(void **state)
{
    struct fixture *f = *state;
    struct udcs_buf req = UDCS_BUF_INIT(64 * 1024);
    assert_int_equal(udcs_buf_appendf(&req, "PUT /tiny HTTP/1.1\r\nHost: t\r\n"
                                      "Authorization: Bearer %s\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n", TOKEN), 0);
    for (int i = 0; i < 4; i++) {   /* 4 x 400 bytes against a limit of 1000 */
        assert_int_equal(udcs_buf_appendf(&req, "190\r\n"), 0);
        for (int k = 0; k < 400; k++)
            assert_int_equal(udcs_buf_append(&req, "a", 1), 0);
        assert_int_equal(udcs_buf_appendf(&req, "\r\n"), 0);
    }
    assert_int_equal(udcs_buf_appendf(&req, "0\r\n\r\n"), 0);
    char *answer = raw_exchange(udcs_http_server_port(f->srv), req.data, req.len);
    assert_memory_equal(answer, "HTTP/1.1 413", 12);
    assert_int_equal(atomic_load(&f->ctx->stream_begins), 1);   /* no Content-Length to refuse */
    wait_for_count(&f->ctx->stream_cleanups, 1);
    free(answer);
    udcs_buf_release(&req);
}

static void added_headers_and_the_auth_challenge_go_out_with_the_reply(void **state)
{
    struct fixture *f = *state;
    static const char get[] = "GET /blob/ab/cd HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    char *answer = raw_exchange(udcs_http_server_port(f->srv), get, strlen(get));
    assert_memory_equal(answer, "HTTP/1.1 200", 12);
    assert_non_null(strstr(answer, "\r\nX-Subpath: ab/cd\r\n"));
    free(answer);
    static const char put[] = "PUT /buffered HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
    answer = raw_exchange(udcs_http_server_port(f->srv), put, strlen(put));
    assert_memory_equal(answer, "HTTP/1.1 401", 12);
    assert_non_null(strstr(answer, "\r\nWWW-Authenticate: Bearer\r\n"));
    free(answer);
}

static int upload_fd(struct fixture *f, int fd, uint64_t len, struct udcs_buf *r,
                     struct udcs_http_call *k)
{
    *k = (struct udcs_http_call)UDCS_HTTP_CALL_INIT;
    k->method = "PUT";
    k->path = "/buffered";
    k->body_fd = fd;
    k->body_fd_len = len;
    k->response = r;
    k->timeout_ms = WAIT_LIMIT_MS;   /* a stalled upload becomes a failure, not a hang */
    return udcs_http_client_call(f->client, k);
}

static void upload_from_a_descriptor_sends_exactly_body_fd_len_bytes(void **state)
{
    struct fixture *f = *state;
    char *path = udcs_path_join(f->dir, "ten");
    test_write_file(path, "0123456789", 10);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct udcs_buf r = UDCS_BUF_INIT(64);
    struct udcs_http_call k;
    assert_int_equal(upload_fd(f, fd, 4, &r, &k), 0);
    assert_string_equal(r.data, "0123");
    /* the rest of the file did not leak onto the connection as a next request */
    udcs_buf_reset(&r);
    assert_int_equal(call(f->client, "GET", "/open", NULL, 0, &r, &k), 0);
    assert_string_equal(r.data, "open x=- ct=-");

    /* a file shorter than promised fails the call at once */
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    udcs_buf_reset(&r);
    assert_int_equal(upload_fd(f, fd, 20, &r, &k), UDCS_ENET);
    assert_int_equal(k.status, 0);
    assert_int_equal(call(f->client, "GET", "/open", NULL, 0, NULL, &k), 0);
    close(fd);
    udcs_buf_release(&r);
    free(path);
}

static void chunk_handler_may_refuse_early_and_connection_stays_usable(void **state)
{
    struct fixture *f = *state;
    size_t len = 2 * 1024 * 1024;
    char *body = malloc(len);
    memset(body, 'X', len);
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "PUT", "/stream", body, len, NULL, &k), UDCS_EPROTO);
    assert_int_equal(k.status, 422);
    assert_string_equal(k.error, "a body must not start with X");
    wait_for_count(&f->ctx->stream_cleanups, 1);
    struct udcs_buf r = UDCS_BUF_INIT(1024);
    assert_int_equal(call(f->client, "PUT", "/stream", "abc", 3, &r, &k), 0);
    assert_non_null(strstr(r.data, "\"bytes\":3"));
    udcs_buf_release(&r);
    free(body);
}

static void begin_may_answer_before_the_body_is_read(void **state)
{
    struct fixture *f = *state;
    size_t len = 4 * 1024 * 1024;
    char *body = calloc(1, len);
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "PUT", "/early", body, len, NULL, &k), UDCS_EPROTO);
    assert_int_equal(k.status, 409);
    assert_string_equal(k.error, "early refusal before the body");
    assert_int_equal(atomic_load(&f->ctx->early_handle_calls), 0);
    assert_int_equal(call(f->client, "GET", "/open", NULL, 0, NULL, &k), 0);
    /* a small POST goes out at once, before the answer can stop it */
    assert_int_equal(call(f->client, "POST", "/early", body, 300 * 1024, NULL, &k), UDCS_EPROTO);
    assert_int_equal(k.status, 409);
    assert_string_equal(k.error, "early refusal before the body");
    assert_int_equal(atomic_load(&f->ctx->early_handle_calls), 0);
    free(body);
}

/* ---- replies ------------------------------------------------------------------------------ */

struct pattern_check {
    uint64_t pos;
    int mismatches;
    int calls;
    int abort_after;   /* 0: never */
};

static int check_pattern(void *arg, const void *data, size_t len)
{
    struct pattern_check *c = arg;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern_at(c->pos + i))
            c->mismatches++;
    c->pos += len;
    c->calls++;
    return c->abort_after && c->calls >= c->abort_after ? UDCS_ECORRUPT : 0;
}

static void streamed_reply_arrives_intact_through_on_data(void **state)
{
    struct fixture *f = *state;
    struct pattern_check c = { 0 };
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = "/blob/big";
    k.on_data = check_pattern;
    k.arg = &c;
    assert_int_equal(udcs_http_client_call(f->client, &k), 0);
    assert_int_equal(c.pos, BIG_REPLY_BYTES);
    assert_int_equal(c.mismatches, 0);
    assert_true(c.calls > 1);
    wait_for_count(&f->ctx->reply_done_calls, 1);
}

static void on_data_can_abort_the_transfer_with_its_code(void **state)
{
    struct fixture *f = *state;
    struct pattern_check c = { .abort_after = 1 };
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = "/blob/big";
    k.on_data = check_pattern;
    k.arg = &c;
    assert_int_equal(udcs_http_client_call(f->client, &k), UDCS_ECORRUPT);
    assert_int_equal(k.callback_rc, UDCS_ECORRUPT);
    assert_true(c.pos < BIG_REPLY_BYTES);
    wait_for_count(&f->ctx->reply_done_calls, 1);   /* the server let go of its state */
    assert_int_equal(call(f->client, "GET", "/open", NULL, 0, NULL, NULL), 0);
}

static void reply_fd_sends_the_whole_file(void **state)
{
    struct fixture *f = *state;
    char *data = malloc(FD_REPLY_BYTES);
    test_fill(data, FD_REPLY_BYTES, 5, 1);
    test_write_file(f->ctx->fd_file, data, FD_REPLY_BYTES);
    struct udcs_buf r = UDCS_BUF_INIT(2 * FD_REPLY_BYTES);
    assert_int_equal(call(f->client, "GET", "/blob/fd", NULL, 0, &r, NULL), 0);
    assert_int_equal(r.len, FD_REPLY_BYTES);
    assert_memory_equal(r.data, data, FD_REPLY_BYTES);
    udcs_buf_release(&r);
    free(data);
}

static void response_over_the_buffer_limit_is_etoobig(void **state)
{
    struct fixture *f = *state;
    struct udcs_buf r = UDCS_BUF_INIT(1000);
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "GET", "/blob/big", NULL, 0, &r, &k), UDCS_ETOOBIG);
    assert_int_equal(k.callback_rc, UDCS_ETOOBIG);
    assert_true(r.len <= 1000);
    udcs_buf_release(&r);
}

static void server_errors_surface_in_call_error(void **state)
{
    struct fixture *f = *state;
    struct udcs_buf r = UDCS_BUF_INIT(1024);
    struct udcs_http_call k;
    assert_int_equal(call(f->client, "GET", "/fail", NULL, 0, &r, &k), UDCS_EREMOTE);
    assert_int_equal(k.status, 500);
    assert_string_equal(k.error, "disk on fire: replace /dev/sda");
    assert_int_equal(r.len, 0);   /* an error body is not the response */
    udcs_buf_release(&r);
    struct pattern_check c = { 0 };
    k = (struct udcs_http_call)UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = "/fail";
    k.on_data = check_pattern;
    k.arg = &c;
    assert_int_equal(udcs_http_client_call(f->client, &k), UDCS_EREMOTE);
    assert_int_equal(c.calls, 0);
    assert_string_equal(k.error, "disk on fire: replace /dev/sda");

    /* without a JSON body, the error says what answered what */
    char want[512];
    snprintf(want, sizeof(want), "GET %s/plainfail answered HTTP 503",
             udcs_http_server_url(f->srv));
    assert_int_equal(call(f->client, "GET", "/plainfail", NULL, 0, NULL, &k), UDCS_EREMOTE);
    assert_string_equal(k.error, want);

    assert_int_equal(call(f->client, "GET", "/silent", NULL, 0, NULL, &k), UDCS_EREMOTE);
    assert_string_equal(k.error, "the handler for GET /silent gave no answer");
}

/* ---- connections (addresses, refusals, timeouts: test_common_http_conn.c) ------------------ */

/* TCP sockets of this host whose local or remote port is `port`, listeners excluded. */
static int tcp_sockets_on_port(unsigned port)
{
    FILE *in = fopen("/proc/net/tcp", "r");
    assert_non_null(in);
    char line[512];
    int count = 0;
    while (fgets(line, sizeof(line), in)) {
        unsigned lport, rport, st;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %x", &lport, &rport, &st) == 3 &&
            (lport == port || rport == port) && st != 0x0A)
            count++;
    }
    fclose(in);
    return count;
}

static void many_calls_reuse_one_connection(void **state)
{
    struct fixture *f = *state;
    /* Other sockets may share the port (TIME_WAIT leftovers of earlier connections, as
     * the listener has SO_REUSEADDR): count only what these calls add. */
    unsigned port = udcs_http_server_port(f->srv);
    int before = tcp_sockets_on_port(port);
    struct udcs_buf r = UDCS_BUF_INIT(64);
    for (int i = 0; i < 200; i++) {
        udcs_buf_reset(&r);
        assert_int_equal(call(f->client, i % 2 ? "GET" : "PUT", i % 2 ? "/open" : "/buffered",
                              "z", 1, &r, NULL), 0);
    }
    /* one connection has two ends; new connections each time would leave ~200 behind */
    assert_in_range(tcp_sockets_on_port(port) - before, 1, 4);
    udcs_buf_release(&r);
}

#define HTTP_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        HTTP_TEST(unknown_path_is_404_with_a_json_error),
        HTTP_TEST(wrong_method_is_405),
        HTTP_TEST(prefix_route_gets_the_subpath_and_query),
        HTTP_TEST(head_falls_back_to_the_get_route_without_a_body),
        HTTP_TEST(write_routes_need_the_token_and_read_routes_do_not),
        cmocka_unit_test_setup_teardown(guarded_reads_need_the_token_but_open_routes_do_not,
                                        setup_auth_reads, teardown),
        cmocka_unit_test_setup_teardown(server_without_a_token_guards_nothing, setup_no_token,
                                        teardown),
        HTTP_TEST(buffered_body_arrives_whole),
        HTTP_TEST(body_over_max_by_content_length_is_413),
        HTTP_TEST(streamed_upload_from_a_descriptor_reaches_the_chunk_handler),
        HTTP_TEST(chunked_body_over_max_is_413_while_reading),
        HTTP_TEST(added_headers_and_the_auth_challenge_go_out_with_the_reply),
        HTTP_TEST(upload_from_a_descriptor_sends_exactly_body_fd_len_bytes),
        HTTP_TEST(chunk_handler_may_refuse_early_and_connection_stays_usable),
        HTTP_TEST(begin_may_answer_before_the_body_is_read),
        HTTP_TEST(streamed_reply_arrives_intact_through_on_data),
        HTTP_TEST(on_data_can_abort_the_transfer_with_its_code),
        HTTP_TEST(reply_fd_sends_the_whole_file),
        HTTP_TEST(response_over_the_buffer_limit_is_etoobig),
        HTTP_TEST(server_errors_surface_in_call_error),
        HTTP_TEST(many_calls_reuse_one_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
