/* farm/farm.h - the farm master as a library: its state (SQLite under a state
 * directory, a content-addressed store beside it), the scheduler, and its HTTP API.
 * udcs-farm (farm/main.c) parses the command line and serves; see docs/FARM.md for the
 * protocol. */
#ifndef UDCS_FARM_H
#define UDCS_FARM_H

#include <stdint.h>

struct farm;

struct farm_options {
    const char *state_dir;       /* farm.db and cas/ live here */
    uint64_t lease_ttl_ms;       /* a lease not renewed for this long expires */
    uint64_t heartbeat_ms;       /* how often agents are asked to renew */
    int max_attempts;            /* per unit, unless the job says otherwise */
    uint64_t backoff_ms;         /* first retry delay; doubles with each attempt */
    uint64_t backoff_max_ms;     /* ... up to this */
    int blocklist_after;         /* failures of one job's units before an agent is kept off it */
    uint64_t max_submit_bytes;   /* largest POST /api/submit body */
    uint64_t cas_max_size;       /* the master's store; 0: no limit */
};

#define FARM_DEFAULT_LEASE_TTL_MS 15000
#define FARM_DEFAULT_HEARTBEAT_MS 3000
#define FARM_DEFAULT_MAX_ATTEMPTS 3
#define FARM_DEFAULT_BACKOFF_MS 1000
/* A retry waits at most a minute: past that, waiting longer finds no better agent. */
#define FARM_DEFAULT_BACKOFF_MAX_MS 60000
#define FARM_DEFAULT_BLOCKLIST_AFTER 3
#define FARM_DEFAULT_MAX_SUBMIT_BYTES (256ull * 1024 * 1024)

/* Open (or create) the state under opt->state_dir and load it: jobs that were running
 * when the master stopped go on. Returns 0, or an error after logging what was wrong. */
int farm_open(const struct farm_options *opt, struct farm **out);

struct farm_listen {
    const char *api_listen;      /* "127.0.0.1:8080": API, agent protocol, CAS */
    const char *web_listen;      /* "127.0.0.1:8081": status page (and read-only API); NULL: none */
    const char *agent_token;     /* agents (and CAS writes) */
    const char *client_token;    /* clients: submit, cancel (and CAS writes) */
    int auth_reads;              /* reads need a token too */
    const char *web_dir;         /* the built dashboard (index.html, app.js ...); NULL: none,
                                  * the web port shows a plain status page */
};

/* Where a built dashboard is by default: the first of EXE_DIR/../share/udcs/web and
 * EXE_DIR/../web that holds index.html (EXE_DIR from /proc/self/exe), or NULL. The caller
 * frees it. */
char *farm_web_dir_default(void);

/* Start serving on internal threads (and the background work: lease expiry, retries,
 * callbacks). Returns 0 or an error (logged). */
int farm_serve(struct farm *f, const struct farm_listen *l);
unsigned farm_api_port(const struct farm *f);
unsigned farm_web_port(const struct farm *f);

/* Stop serving, wait for the threads, close the state. NULL is fine. */
void farm_close(struct farm *f);

#endif
