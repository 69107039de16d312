/* agents/agent.h - the agent daemon (udcs-agent): registration, heartbeats, the lease
 * loop of each slot, and the executors that run units. Detection is agents/detect.h. */
#ifndef UDCS_AGENTS_AGENT_H
#define UDCS_AGENTS_AGENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "cas/cas.h"
#include "common/proc.h"

/* How long a slot keeps trying to reach the master for a unit it holds (fetching its
 * inputs, uploading its outputs, reporting its result): the master may be restarting. */
#define AGENT_MASTER_PATIENCE_MS (10 * 60 * 1000)
/* Delays between those tries: doubling from the first to the last. */
#define AGENT_RETRY_MIN_MS 200
#define AGENT_RETRY_MAX_MS 5000

struct agent_config {
    const char *farm_url;        /* "http://127.0.0.1:8080" */
    const char *token;           /* the farm token; may be NULL */
    const char *work_dir;        /* unit directories and the local store live here */
    const char *name;            /* shown in /api/devices */
    int slots;                   /* units run at once */
    uint64_t cache_max_bytes;    /* the local store's size limit */
    uint64_t lease_wait_ms;      /* how long one lease request may wait for work */
    int keep_units;              /* leave the last unit's files behind (debugging) */
};

/* One slot: a thread that leases, runs and reports units one at a time. */
struct agent_slot {
    struct agent_daemon *d;
    int index;
    pthread_t thread;
    int started;
    /* the unit it runs now (guarded by d->lock) */
    int64_t unit;
    uint64_t epoch;
    struct udcs_proc *proc;      /* while the command runs: for cancels */
    int cancelled;
    int hand_back;               /* stopped by us, not the master: report it as an error */
};

struct agent_daemon {
    struct agent_config cfg;
    json_t *info;                /* what detection found */
    char *key;                   /* stable identity, kept in work_dir/agent.key */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int64_t agent_id;            /* from registration; 0 until registered */
    uint64_t heartbeat_ms, lease_ttl_ms;
    int draining;                /* SIGTERM: finish what runs, take nothing new */
    int stopping;                /* everything is to end now */
    int stop_now;                /* stopped hard: stop waiting for the master too */
    int reregister;              /* the master forgot us: register again */
    struct agent_slot *slots;
    pthread_t heartbeat;
    int heartbeat_started;
};

/* Register (retrying until the master answers), start the heartbeat and the slots.
 * Returns 0, or an error once it is clear the master refuses us (bad token). */
int agent_daemon_start(struct agent_daemon *d);
/* Finish the units that run (drain), then stop everything. `hard`: kill them now and
 * hand them back. */
void agent_daemon_stop(struct agent_daemon *d, int hard);
/* Kill the units running now and report them back to the master as errors (so it gives
 * them to other agents at once). Safe while agent_daemon_stop() drains. */
void agent_daemon_hand_back(struct agent_daemon *d);

/* Run one unit of kind exec: fill its input directory from the store, run the command
 * with its environment, limits and timeout, store stdout, stderr and the outputs, and
 * describe the outcome in `r`. `slot` lets a cancel reach the process. Returns 0 when
 * the command ran (whatever its exit status), or an error with `why` for people (inputs
 * missing, timeout, cannot start); `*is_infra` then says whether the agent's own part
 * failed (its directory, inputs, storing outputs), not the command (timeout, cannot
 * start). Blobs that could not be uploaded to the master are only in the local store:
 * the caller uploads them before reporting (cas_result_upload). */
int agent_exec_run(struct agent_daemon *d, struct agent_slot *slot, struct cas *c,
                   const struct cas_action *a, int64_t unit, uint64_t epoch,
                   struct cas_action_result *r, int *is_infra, char *why, size_t why_len);

/* Shipped toolchains (toolchain.c). Unpack the archive `tc` once into
 * WORK_DIR/toolchains/HEX (its path into `root`); 0, or an error with `why`. */
int agent_toolchain_prepare(struct agent_daemon *d, struct cas *c, const struct cas_digest *tc,
                            char *root, size_t root_len, char *why, size_t why_len);
/* The bubblewrap command that runs `argv` with the unpacked toolchain as its whole root
 * and the unit's directory as /work (`cwd_rel` below it, or NULL). Free with
 * agent_toolchain_argv_free(); NULL when out of memory. */
char **agent_toolchain_argv(const char *toolchain_root, const char *unit_root, const char *cwd_rel,
                            char *const *argv);
void agent_toolchain_argv_free(char **v);

#endif
