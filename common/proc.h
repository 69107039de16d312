/* common/proc.h - the one way UDCS runs another program.
 *
 * Only proc.c calls fork/exec/posix_spawn/waitpid. A child always leads its own process
 * group, so a timeout or a cancel ends the whole tree it started (SIGTERM, a grace period,
 * then SIGKILL). Exit status and terminating signal are reported separately. */
#ifndef UDCS_COMMON_PROC_H
#define UDCS_COMMON_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

enum udcs_proc_io {
    UDCS_PROC_INHERIT = 0, /* share the parent's descriptor */
    UDCS_PROC_NULL,        /* /dev/null */
    UDCS_PROC_FILE,        /* `path`: read for stdin; created/truncated (0644) for output */
    UDCS_PROC_FD,          /* `fd`, duplicated into place; the caller keeps it */
    UDCS_PROC_CAPTURE,     /* output only: collected into `buf` (bounded by buf->max) */
};

struct udcs_proc_stdio {
    enum udcs_proc_io mode;
    const char *path;
    int fd;
    struct udcs_buf *buf;
    int truncated;          /* out: CAPTURE met buf->max; the rest was read and dropped */
};

/* Resource limits for the child (setrlimit); 0 leaves a limit as inherited. */
struct udcs_proc_limits {
    uint64_t cpu_s;          /* RLIMIT_CPU: seconds of CPU time, then SIGXCPU/SIGKILL */
    uint64_t as_bytes;       /* RLIMIT_AS: address space */
    uint64_t fsize_bytes;    /* RLIMIT_FSIZE: largest file it may write (SIGXFSZ) */
    uint64_t nproc;          /* RLIMIT_NPROC: processes of this user */
    uint64_t nofile;         /* RLIMIT_NOFILE: open files */
};

struct udcs_proc {
    /* in */
    char *const *argv;          /* argv[0] without a slash is looked up in PATH */
    char *const *env;           /* NULL: the parent's environment */
    const char *cwd;            /* NULL: the parent's */
    struct udcs_proc_stdio in, out, err;
    uint64_t timeout_ms;        /* 0: no limit */
    uint64_t kill_grace_ms;     /* between SIGTERM and SIGKILL */
    int keep_group;             /* 1: leave the group's other members running at exit */
    struct udcs_proc_limits limits;

    /* out */
    pid_t pid;
    int exit_code;              /* the child's exit status, or -1 when a signal ended it */
    int term_signal;            /* the signal that ended it, 0 if it exited */
    int timed_out;              /* 1 when the timeout ended it */
    uint64_t duration_ms;

    /* private */
    int pidfd;
    int reaped;
    int pipes[2];               /* read ends for out, err; -1 when unused */
    uint64_t start_ms;
};

#define UDCS_PROC_DEFAULT_GRACE_MS 2000
#define UDCS_PROC_INIT { .in = { .fd = -1 }, .out = { .fd = -1 }, .err = { .fd = -1 }, \
                         .kill_grace_ms = UDCS_PROC_DEFAULT_GRACE_MS, .pid = -1, \
                         .exit_code = -1, .pidfd = -1, .pipes = { -1, -1 } }

/* Start the child. Returns 0, -ENOENT when the program is not found, or another -errno
 * (from spawning or from opening a stdio file). */
int udcs_proc_start(struct udcs_proc *p);

/* Collect captured output and wait for the child to end, enforcing the timeout. Returns 0
 * when the child ended by itself (whatever its status: see exit_code and term_signal),
 * -ETIMEDOUT when the timeout killed its group, or -errno. */
int udcs_proc_wait(struct udcs_proc *p);

/* Start, then wait. */
int udcs_proc_run(struct udcs_proc *p);

/* Send `sig` to the child's whole process group. Returns 0 or -errno. */
int udcs_proc_signal(struct udcs_proc *p, int sig);

#endif
