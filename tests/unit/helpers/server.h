/* tests/unit/helpers/server.h - a real `udcs-cas serve` on 127.0.0.1 with an ephemeral
 * port, for tests of the remote store. */
#ifndef UDCS_TESTS_SERVER_H
#define UDCS_TESTS_SERVER_H

#include "common/proc.h"

struct test_server {
    struct udcs_proc proc;
    char *dir;          /* temporary directory: store/, token, port, log */
    char *store;        /* the server's store directory */
    char *token;        /* the token text */
    char *token_file;
    char url[64];
};

/* Start a server on a fresh store; `extra` is a NULL-terminated list of more arguments
 * (may be NULL). Waits until it listens. Aborts the test on failure. */
void test_server_start(struct test_server *s, const char *const *extra);
/* SIGTERM, wait, and remove its directory. */
void test_server_stop(struct test_server *s);

#endif
