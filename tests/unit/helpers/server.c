/* tests/unit/helpers/server.c - see server.h. */
#include "tests/unit/helpers/server.h"
#include "common/clock.h"
#include "common/fs.h"
#include "tests/unit/helpers/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a server may take to start listening before the test gives up. */
#define SERVER_START_TIMEOUT_MS 10000

void test_server_start(struct test_server *s, const char *const *extra)
{
    memset(s, 0, sizeof(*s));
    s->dir = test_tmpdir("server");
    s->store = udcs_path_join(s->dir, "store");
    s->token_file = udcs_path_join(s->dir, "token");
    s->token = strdup("test-token-0123456789");
    test_write_file(s->token_file, s->token, strlen(s->token));
    char *port_file = udcs_path_join(s->dir, "port");
    char *log_file = udcs_path_join(s->dir, "server.log");

    const char *argv[32];
    int n = 0;
    argv[n++] = test_bin("udcs-cas");
    argv[n++] = "serve";
    argv[n++] = "--cache-dir";
    argv[n++] = s->store;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    argv[n++] = "--token-file";
    argv[n++] = s->token_file;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    s->proc = (struct udcs_proc)UDCS_PROC_INIT;
    s->proc.argv = (char *const *)argv;
    s->proc.err.mode = UDCS_PROC_FILE;
    s->proc.err.path = log_file;
    s->proc.out.mode = UDCS_PROC_NULL;
    if (udcs_proc_start(&s->proc) < 0) {
        fprintf(stderr, "cannot start %s\n", argv[0]);
        abort();
    }
    s->proc.argv = NULL;   /* argv lived on this stack frame */

    for (int waited = 0; waited < SERVER_START_TIMEOUT_MS; waited += 10) {
        if (access(port_file, F_OK) == 0) {
            size_t len;
            char *text = test_read_file(port_file, &len);
            snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", atoi(text));
            free(text);
            free(port_file);
            free(log_file);
            return;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "udcs-cas serve did not start listening; see %s\n", log_file);
    abort();
}

void test_server_stop(struct test_server *s)
{
    udcs_proc_signal(&s->proc, SIGTERM);
    /* The timeout counts from the start: allow 10 s more from now to stop. */
    s->proc.timeout_ms = udcs_mono_ms() - s->proc.start_ms + 10000;
    udcs_proc_wait(&s->proc);
    free(s->store);
    free(s->token);
    free(s->token_file);
    test_rmtree(s->dir);
}
