/* tests/unit/test_common_http_conn.c - the edges of common/http_server.h and
 * common/http_client.h that need no routes: listen addresses and base URLs that are
 * refused, a port already taken, a server that is not there, and an answer that comes
 * too late. Requests and replies through routes are in test_common_http.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/http_client.h"
#include "common/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_LIMIT_MS 10000

static void server_new_rejects_bad_listen_strings(void **state)
{
    (void)state;
    static const char *const bad[] = { "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "[::1]7070",
                                       "[::1", "127.0.0.1:-1", "127.0.0.1:99999", "h:65536",
                                       "h:1000000000000000000007070", ":" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct udcs_http_server_options opt = { .listen = bad[i] };
        struct udcs_http_server *srv = NULL;
        if (udcs_http_server_new(&opt, &srv) != UDCS_EUSAGE)
            fail_msg("listen address '%s' was accepted", bad[i]);
        assert_null(srv);
    }
    static const char *const good[] = { "127.0.0.1:0", "[::1]:0", ":0", "localhost:65535" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct udcs_http_server_options opt = { .listen = good[i] };
        struct udcs_http_server *srv = NULL;
        assert_int_equal(udcs_http_server_new(&opt, &srv), 0);
        udcs_http_server_free(srv);
    }
}

static int adopted_frees;

static void count_free(void *p)
{
    adopted_frees++;
    free(p);
}

static void server_reports_its_url_refuses_a_taken_port_and_frees_adopted_state(void **state)
{
    (void)state;
    struct udcs_http_server_options opt = { .listen = "127.0.0.1:0" };
    struct udcs_http_server *first = NULL;
    assert_int_equal(udcs_http_server_new(&opt, &first), 0);
    assert_int_equal(udcs_http_server_start(first), 0);
    char want[64];
    unsigned port = udcs_http_server_port(first);
    assert_true(port > 0);
    snprintf(want, sizeof(want), "http://127.0.0.1:%u", port);
    assert_string_equal(udcs_http_server_url(first), want);

    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    opt.listen = listen;
    struct udcs_http_server *second = NULL;
    assert_int_equal(udcs_http_server_new(&opt, &second), 0);
    adopted_frees = 0;
    assert_int_equal(udcs_http_server_adopt(second, malloc(16), count_free), 0);
    assert_int_equal(udcs_http_server_start(second), -EADDRINUSE);
    assert_int_equal(adopted_frees, 0);
    udcs_http_server_free(second);
    assert_int_equal(adopted_frees, 1);   /* once the server is freed, not before */
    udcs_http_server_free(first);
    udcs_http_server_free(NULL);
}

static void client_rejects_urls_that_are_not_http(void **state)
{
    (void)state;
    static const char *const bad[] = { "ftp://host", "127.0.0.1:7070", "", "http:/x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct udcs_http_client *c = NULL;
        assert_int_equal(udcs_http_client_new(bad[i], NULL, &c), UDCS_EUSAGE);
        assert_null(c);
    }
    struct udcs_http_client *c = NULL;
    assert_int_equal(udcs_http_client_new("http://127.0.0.1:1///", "t", &c), 0);
    assert_string_equal(udcs_http_client_url(c), "http://127.0.0.1:1");
    udcs_http_client_free(c);
    udcs_http_client_free(NULL);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static unsigned closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void connection_refused_is_enet_with_a_message(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", closed_port());
    struct udcs_http_client *c = NULL;
    assert_int_equal(udcs_http_client_new(url, NULL, &c), 0);
    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = "/x";
    assert_int_equal(udcs_http_client_call(c, &k), UDCS_ENET);
    assert_int_equal(k.status, 0);
    assert_non_null(strstr(k.error, url));             /* names what it tried to reach */
    assert_true(strlen(k.error) > strlen(url) + 10);   /* and says why */
    udcs_http_client_free(c);
}

static atomic_int release_slow;

static void slow_handle(struct udcs_http_req *req)
{
    for (int i = 0; i < WAIT_LIMIT_MS && !atomic_load(&release_slow); i++)
        usleep(1000);
    udcs_http_reply(req, 200, "text/plain", "slow", 4);
}

static void answer_later_than_the_call_timeout_is_enet(void **state)
{
    (void)state;
    struct udcs_http_server_options opt = { .listen = "127.0.0.1:0" };
    struct udcs_http_server *srv = NULL;
    const struct udcs_http_route slow = { .method = "GET", .path = "/slow", .handle = slow_handle };
    assert_int_equal(udcs_http_server_new(&opt, &srv), 0);
    assert_int_equal(udcs_http_server_add_route(srv, &slow), 0);
    assert_int_equal(udcs_http_server_start(srv), 0);
    struct udcs_http_client *c = NULL;
    assert_int_equal(udcs_http_client_new(udcs_http_server_url(srv), NULL, &c), 0);

    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = "/slow";
    k.timeout_ms = 200;
    assert_int_equal(udcs_http_client_call(c, &k), UDCS_ENET);
    assert_int_equal(k.status, 0);
    assert_non_null(strstr(k.error, "/slow"));

    /* the client's default applies when the call gives none */
    udcs_http_client_set_timeouts(c, 1000, 200);
    k.timeout_ms = 0;
    assert_int_equal(udcs_http_client_call(c, &k), UDCS_ENET);
    atomic_store(&release_slow, 1);
    udcs_http_client_set_timeouts(c, 1000, 0);
    assert_int_equal(udcs_http_client_call(c, &k), 0);
    assert_int_equal(k.status, 200);
    udcs_http_client_free(c);
    udcs_http_server_free(srv);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A server that accepts connections (the kernel does, from the listen queue) and never
 * answers: without a total limit, the stall limit ends the call. */
static void silent_server_costs_the_stall_limit_not_a_minute(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    struct udcs_http_client *c = NULL;
    assert_int_equal(udcs_http_client_new(url, NULL, &c), 0);
    udcs_http_client_set_timeouts(c, 1000, 0);
    udcs_http_client_set_stall(c, 1000);

    struct udcs_http_call k = UDCS_HTTP_CALL_INIT;
    k.method = "GET";
    k.path = "/ac/0";
    uint64_t t0 = now_ms();
    assert_int_equal(udcs_http_client_call(c, &k), UDCS_ENET);
    uint64_t took = now_ms() - t0;
    assert_int_equal(k.status, 0);
    /* about a second; the bound is loose, the default stall limit is a minute */
    if (took > WAIT_LIMIT_MS)
        fail_msg("a silent server held the call for %llu ms with a 1 s stall limit",
                 (unsigned long long)took);
    udcs_http_client_free(c);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_new_rejects_bad_listen_strings),
        cmocka_unit_test(server_reports_its_url_refuses_a_taken_port_and_frees_adopted_state),
        cmocka_unit_test(client_rejects_urls_that_are_not_http),
        cmocka_unit_test(connection_refused_is_enet_with_a_message),
        cmocka_unit_test(answer_later_than_the_call_timeout_is_enet),
        cmocka_unit_test(silent_server_costs_the_stall_limit_not_a_minute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
