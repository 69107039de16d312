/* farm/client.h - what the files of the udcs command share: the connection to the master
 * and the calls every command makes. */
#ifndef UDCS_FARM_CLIENT_H
#define UDCS_FARM_CLIENT_H

#include <jansson.h>

#include "common/config.h"
#include "common/http_client.h"

struct client {
    struct udcs_config cfg;
    char *url;                      /* the master, http://HOST:PORT */
    char *token;                    /* the client token, or NULL */
    struct udcs_http_client *http;
};

/* A JSON call to the master; *answer (may be NULL to ignore) is the parsed reply. Logs
 * and returns an error code (common/err.h) on failure. */
int client_call_json(struct client *c, const char *method, const char *path, const char *body,
                     json_t **answer);
/* The exit status for a call's error code. */
int client_status_of(int rc);
/* POST /api/submit; the job's id goes to *id. */
int client_submit(struct client *c, const char *text, long long *id);

enum wait_mode { WAIT_PROGRESS, WAIT_JSON, WAIT_QUIET };
/* Follow a job's events until it ends. Returns UDCS_EXIT_OK when it is done,
 * UDCS_EXIT_FAILED when it failed or was cancelled (or the master was lost). */
int client_wait_job(struct client *c, const char *id, enum wait_mode mode);

/* udcs run (udcs_run.c). */
int cmd_run(struct client *c, int argc, char **argv);

#endif
