/* common/proc.c - spawning, output capture, timeouts and process-group kills; see proc.h.
 *
 * Children are started with posix_spawn (vfork-like, cheap even from a large process),
 * in a new process group; a child with resource limits is started with fork, because
 * posix_spawn cannot set them and setting them afterwards would race with the child. Waiting uses a pidfd when the kernel has one, so the child's
 * exit wakes poll() together with its output; otherwise poll() wakes every few ms. */
#include "common/proc.h"
#include "common/clock.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Poll interval when no pidfd is available to wake us when the child exits. */
#define PROC_POLL_FALLBACK_MS 5
/* How long to wait for the pipes' end of file after the child has ended. */
#define PROC_DRAIN_GRACE_MS 200
/* Scratch size for draining a pipe. */
#define PROC_PIPE_CHUNK 65536

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
#else
    (void)pid;
#endif
    return -1;
}

/* How the child's stdio is set up: descriptor `src` becomes `target` (0, 1 or 2). Every
 * file is opened here, in the parent, so a bad path is this call's error. */
struct stdio_plan {
    int src[3];        /* -1: inherit */
    int opened[3];     /* descriptors we opened and close after spawning */
};

static int plan_stdio(struct stdio_plan *pl, struct udcs_proc_stdio *s, int target,
                      int *pipe_read_end)
{
    int fd = -1;
    *pipe_read_end = -1;
    switch (s->mode) {
    case UDCS_PROC_INHERIT:
        return 0;
    case UDCS_PROC_NULL:
        fd = open("/dev/null", (target == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
        break;
    case UDCS_PROC_FILE:
        if (!s->path)
            return -EINVAL;
        fd = target == 0 ? open(s->path, O_RDONLY | O_CLOEXEC)
                         : open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        break;
    case UDCS_PROC_FD:
        pl->src[target] = s->fd;   /* the caller's: not ours to close */
        return 0;
    case UDCS_PROC_CAPTURE: {
        if (target == 0 || !s->buf)
            return -EINVAL;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
            return -errno;
        *pipe_read_end = fds[0];
        s->truncated = 0;
        fd = fds[1];
        break;
    }
    default:
        return -EINVAL;
    }
    if (fd < 0)
        return -errno;
    pl->src[target] = pl->opened[target] = fd;
    return 0;
}

static void close_opened(struct stdio_plan *pl)
{
    for (int i = 0; i < 3; i++)
        if (pl->opened[i] >= 0)
            close(pl->opened[i]);
}

static int has_limits(const struct udcs_proc_limits *l)
{
    return l->cpu_s || l->as_bytes || l->fsize_bytes || l->nproc || l->nofile;
}

/* The program's path as execve needs it: argv[0] itself when it has a slash, else the
 * first executable match in PATH (as posix_spawnp would find it). */
static int resolve_program(const char *name, char *out, size_t out_len)
{
    if (strchr(name, '/')) {
        snprintf(out, out_len, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *dir = path; *dir;) {
        size_t n = strcspn(dir, ":");
        int len = n ? snprintf(out, out_len, "%.*s/%s", (int)n, dir, name)
                    : snprintf(out, out_len, "./%s", name);
        if (len > 0 && (size_t)len < out_len && access(out, X_OK) == 0)
            return 0;
        dir += n + (dir[n] == ':');
    }
    return -ENOENT;
}

/* The fork path: only async-signal-safe calls between fork and exec. An exec failure
 * comes back through a close-on-exec pipe as the child's errno. */
static int spawn_with_limits(struct udcs_proc *p, const struct stdio_plan *pl,
                             char *const *envp)
{
    char program[4096];
    int rc = resolve_program(p->argv[0], program, sizeof(program));
    if (rc < 0)
        return rc;
    struct rlimit lim[5];
    static const int which[5] = { RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC,
                                  RLIMIT_NOFILE };
    const uint64_t want[5] = { p->limits.cpu_s, p->limits.as_bytes, p->limits.fsize_bytes,
                               p->limits.nproc, p->limits.nofile };
    for (int i = 0; i < 5; i++)
        lim[i].rlim_cur = lim[i].rlim_max = (rlim_t)want[i];
    /* CPU: SIGXCPU at the limit (which ends the child and says why), SIGKILL a second
     * later should it catch that. */
    lim[0].rlim_max = lim[0].rlim_cur + 1;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        return -errno;
    sigset_t none;
    sigemptyset(&none);

    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(errpipe[0]);
        close(errpipe[1]);
        return rc;
    }
    if (pid == 0) {
        int err = 0;
        for (int t = 0; t < 3 && !err; t++)
            if (pl->src[t] >= 0 && dup2(pl->src[t], t) < 0)   /* dup2 clears CLOEXEC */
                err = errno;
        if (!err && p->cwd && chdir(p->cwd) < 0)
            err = errno;
        if (!err && setpgid(0, 0) < 0)
            err = errno;
        for (int i = 0; i < 5 && !err; i++)
            if (want[i] && setrlimit(which[i], &lim[i]) < 0)
                err = errno;
        if (!err) {
            struct sigaction dfl = { .sa_handler = SIG_DFL };
            for (int sig = 1; sig < NSIG; sig++)
                sigaction(sig, &dfl, NULL);   /* fails harmlessly for KILL and STOP */
            sigprocmask(SIG_SETMASK, &none, NULL);
            execve(program, p->argv, envp);
            err = errno;
        }
        ssize_t w = write(errpipe[1], &err, sizeof(err));
        (void)w;
        _exit(127);
    }
    close(errpipe[1]);
    int child_err = 0;
    ssize_t n;
    while ((n = read(errpipe[0], &child_err, sizeof(child_err))) < 0 && errno == EINTR)
        ;
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(child_err)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -child_err;
    }
    p->pid = pid;
    return 0;
}

static int spawn_plain(struct udcs_proc *p, const struct stdio_plan *pl, char *const *envp)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        return -rc;
    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    for (int t = 0; t < 3 && rc == 0; t++)
        if (pl->src[t] >= 0)
            rc = -posix_spawn_file_actions_adddup2(&fa, pl->src[t], t);
    if (rc == 0 && p->cwd)
        rc = -posix_spawn_file_actions_addchdir_np(&fa, p->cwd);

    /* Own process group; default signal dispositions and an empty mask in the child, so
     * it does not inherit an ignored SIGPIPE or a blocked SIGTERM from us. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (rc == 0)
        rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                                  POSIX_SPAWN_SETSIGMASK);
    if (rc == 0)
        rc = -posix_spawnattr_setpgroup(&attr, 0);
    if (rc == 0)
        rc = -posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0)
        rc = -posix_spawnattr_setsigmask(&attr, &none);
    /* Look the program up ourselves: access() per PATH entry is cheaper than the failed
     * execve() per entry that posix_spawnp() makes (same PATH, same first match). */
    char program[4096];
    if (rc == 0)
        rc = resolve_program(p->argv[0], program, sizeof(program));
    if (rc == 0)
        rc = -posix_spawn(&p->pid, program, &fa, &attr, p->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int udcs_proc_start(struct udcs_proc *p)
{
    p->pid = -1;
    p->pidfd = -1;
    p->pipes[0] = p->pipes[1] = -1;
    p->exit_code = -1;
    p->term_signal = 0;
    p->timed_out = 0;
    p->duration_ms = 0;
    p->reaped = 0;
    if (!p->argv || !p->argv[0])
        return -EINVAL;

    struct stdio_plan pl = { { -1, -1, -1 }, { -1, -1, -1 } };
    int rc = plan_stdio(&pl, &p->in, 0, &(int){ -1 });
    if (rc == 0)
        rc = plan_stdio(&pl, &p->out, 1, &p->pipes[0]);
    if (rc == 0)
        rc = plan_stdio(&pl, &p->err, 2, &p->pipes[1]);
    if (rc == 0) {
        char *const *envp = p->env ? p->env : environ;
        p->start_ms = udcs_mono_ms();
        rc = has_limits(&p->limits) ? spawn_with_limits(p, &pl, envp)
                                    : spawn_plain(p, &pl, envp);
    }
    close_opened(&pl);

    if (rc < 0) {
        p->pid = -1;
        for (int i = 0; i < 2; i++) {
            if (p->pipes[i] >= 0)
                close(p->pipes[i]);
            p->pipes[i] = -1;
        }
        return rc;
    }
    p->pidfd = open_pidfd(p->pid);
    for (int i = 0; i < 2; i++)
        if (p->pipes[i] >= 0)
            fcntl(p->pipes[i], F_SETFL, O_NONBLOCK);
    return 0;
}

int udcs_proc_signal(struct udcs_proc *p, int sig)
{
    if (p->pid <= 0 || p->reaped)
        return -ESRCH;
    if (kill(-p->pid, sig) < 0)
        return -errno;
    return 0;
}

/* Read what a capture pipe has now. Returns 1 at end of file, 0 otherwise. */
static int drain_pipe(int fd, struct udcs_proc_stdio *s)
{
    char chunk[PROC_PIPE_CHUNK];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : 1;
        }
        if (n == 0)
            return 1;
        if (!s->truncated) {
            size_t room = s->buf->max - s->buf->len;
            size_t take = (size_t)n < room ? (size_t)n : room;
            if (udcs_buf_append(s->buf, chunk, take) < 0 || take < (size_t)n)
                s->truncated = 1;   /* keep reading so the child never blocks on us */
        }
    }
}

/* Reap the child if it has ended. Returns 1 when reaped. */
static int try_reap(struct udcs_proc *p, int options)
{
    int status;
    pid_t r;
    while ((r = waitpid(p->pid, &status, options)) < 0 && errno == EINTR)
        ;
    if (r < 0 && errno == ECHILD) {
        /* Reaped behind our back (the program ignores SIGCHLD): the child is gone, its
         * status is lost. Say so rather than wait forever. */
        p->exit_code = -1;
        p->term_signal = 0;
        return 1;
    }
    if (r != p->pid)
        return 0;
    if (WIFEXITED(status)) {
        p->exit_code = WEXITSTATUS(status);
        p->term_signal = 0;
    } else if (WIFSIGNALED(status)) {
        p->exit_code = -1;
        p->term_signal = WTERMSIG(status);
    }
    return 1;
}

/* Wait up to `ms` for the child to end, draining pipes meanwhile. Returns 1 if reaped. */
static int wait_for_exit(struct udcs_proc *p, int64_t ms, int *open_pipes)
{
    uint64_t deadline = udcs_mono_ms() + (uint64_t)(ms < 0 ? 0 : ms);
    for (;;) {
        if (try_reap(p, WNOHANG))
            return 1;
        struct pollfd pfd[3];
        int n = 0;
        for (int i = 0; i < 2; i++) {
            if (p->pipes[i] >= 0) {
                pfd[n].fd = p->pipes[i];
                pfd[n].events = POLLIN;
                n++;
            }
        }
        if (p->pidfd >= 0) {
            pfd[n].fd = p->pidfd;
            pfd[n].events = POLLIN;
            n++;
        }
        int64_t left = ms < 0 ? -1 : (int64_t)(deadline - udcs_mono_ms());
        if (ms >= 0 && left <= 0)
            return 0;
        int wait_ms = left < 0 || left > INT32_MAX ? -1 : (int)left;
        if (p->pidfd < 0 && (wait_ms < 0 || wait_ms > PROC_POLL_FALLBACK_MS))
            wait_ms = PROC_POLL_FALLBACK_MS;
        if (poll(pfd, (nfds_t)n, wait_ms) < 0 && errno != EINTR)
            return 0;
        for (int i = 0; i < 2; i++) {
            if (p->pipes[i] >= 0) {
                struct udcs_proc_stdio *s = i == 0 ? &p->out : &p->err;
                if (drain_pipe(p->pipes[i], s)) {
                    close(p->pipes[i]);
                    p->pipes[i] = -1;
                    (*open_pipes)--;
                }
            }
        }
    }
}

/* Read what is left in the pipes once the child is gone: all it wrote is there. Wait a
 * little for the end of file (group members being killed close their ends), but never
 * for long: a process that left the group (setsid) may hold a pipe open for good. */
static void drain_rest(struct udcs_proc *p)
{
    uint64_t deadline = udcs_mono_ms() + PROC_DRAIN_GRACE_MS;
    for (;;) {
        struct pollfd pfd[2];
        int n = 0;
        for (int i = 0; i < 2; i++) {
            if (p->pipes[i] < 0)
                continue;
            if (drain_pipe(p->pipes[i], i == 0 ? &p->out : &p->err)) {
                close(p->pipes[i]);
                p->pipes[i] = -1;
                continue;
            }
            pfd[n].fd = p->pipes[i];
            pfd[n].events = POLLIN;
            n++;
        }
        uint64_t now = udcs_mono_ms();
        if (n == 0 || now >= deadline)
            break;
        poll(pfd, (nfds_t)n, (int)(deadline - now));
    }
    for (int i = 0; i < 2; i++) {
        if (p->pipes[i] >= 0)
            close(p->pipes[i]);
        p->pipes[i] = -1;
    }
}

int udcs_proc_wait(struct udcs_proc *p)
{
    if (p->pid <= 0 || p->reaped)
        return -ECHILD;
    int open_pipes = (p->pipes[0] >= 0) + (p->pipes[1] >= 0);
    int64_t budget = -1;
    if (p->timeout_ms) {
        uint64_t elapsed = udcs_mono_ms() - p->start_ms;
        budget = elapsed >= p->timeout_ms ? 0 : (int64_t)(p->timeout_ms - elapsed);
    }
    int rc = 0;
    if (!wait_for_exit(p, budget, &open_pipes)) {
        p->timed_out = 1;
        rc = -ETIMEDOUT;
        udcs_proc_signal(p, SIGTERM);
        if (!wait_for_exit(p, (int64_t)p->kill_grace_ms, &open_pipes)) {
            udcs_proc_signal(p, SIGKILL);
            wait_for_exit(p, -1, &open_pipes);
        }
    }
    /* The child is gone; whatever it wrote is in the pipes. Members of its group that
     * outlive it (and may hold the pipes open) are ended unless the caller keeps them. */
    if (!p->keep_group || p->timed_out)
        kill(-p->pid, SIGKILL);
    drain_rest(p);
    if (p->pidfd >= 0) {
        close(p->pidfd);
        p->pidfd = -1;
    }
    p->duration_ms = udcs_mono_ms() - p->start_ms;
    p->reaped = 1;   /* further signals must not reach a reused pid */
    return rc;
}

int udcs_proc_run(struct udcs_proc *p)
{
    int rc = udcs_proc_start(p);
    if (rc < 0)
        return rc;
    return udcs_proc_wait(p);
}
