/* tests/unit/test_common_proc.c - common/proc.h: exit status and signals, output capture
 * and its limit, stdio from files, environment and working directory, timeouts that end
 * the child's whole process group. The children are /bin/sh and coreutils. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/clock.h"
#include "common/proc.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a test waits for a condition before failing, and how often it looks. */
#define WAIT_LIMIT_MS 10000
#define WAIT_STEP_US 10000
/* A safety timeout for children that must end by themselves: a hang becomes a failure. */
#define SAFETY_TIMEOUT_MS 20000

static int make_dir(void **state)
{
    *state = test_tmpdir("proc");
    return 0;
}

static int remove_dir(void **state)
{
    test_rmtree(*state);
    return 0;
}

static char *path_in(const char *dir, const char *name)
{
    char *p = udcs_path_join(dir, name);
    assert_non_null(p);
    return p;
}

/* Run `sh -c script` with stdout and stderr captured into `out` and `err`. */
static int run_sh(struct udcs_proc *p, const char *script, struct udcs_buf *out,
                  struct udcs_buf *err)
{
    static char *argv[4];
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = (char *)script;
    argv[3] = NULL;
    p->argv = argv;
    if (out) {
        p->out.mode = UDCS_PROC_CAPTURE;
        p->out.buf = out;
    }
    if (err) {
        p->err.mode = UDCS_PROC_CAPTURE;
        p->err.buf = err;
    }
    if (!p->timeout_ms)
        p->timeout_ms = SAFETY_TIMEOUT_MS;
    return udcs_proc_run(p);
}

/* Gone: no such process, or a zombie nobody has reaped yet (it runs no more). */
static int pid_is_gone(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 1;
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT;
    ssize_t n = udcs_read_full(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (n <= 0)
        return 1;
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static void wait_until_gone(pid_t pid)
{
    for (int waited = 0; !pid_is_gone(pid); waited += WAIT_STEP_US / 1000) {
        if (waited > WAIT_LIMIT_MS)
            fail_msg("process %ld is still running", (long)pid);
        usleep(WAIT_STEP_US);
    }
}

/* The pid a child wrote to `path`, waiting for the file to be complete. */
static pid_t wait_for_pid_file(const char *path)
{
    for (int waited = 0; waited <= WAIT_LIMIT_MS; waited += WAIT_STEP_US / 1000) {
        struct udcs_buf b = UDCS_BUF_INIT(64);
        int rc = udcs_read_file(path, &b);
        long pid = rc == 0 && b.len && b.data[b.len - 1] == '\n' ? atol(b.data) : 0;
        udcs_buf_release(&b);
        if (pid > 0)
            return (pid_t)pid;
        usleep(WAIT_STEP_US);
    }
    fail_msg("no pid appeared in %s", path);
    return -1;
}

/* ---- status ------------------------------------------------------------------------------ */

static void exit_code_is_reported(void **state)
{
    (void)state;
    struct udcs_proc p = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&p, "exit 7", NULL, NULL), 0);
    assert_int_equal(p.exit_code, 7);
    assert_int_equal(p.term_signal, 0);
    assert_int_equal(p.timed_out, 0);
    assert_true(p.pid > 0);

    struct udcs_proc q = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&q, "true", NULL, NULL), 0);
    assert_int_equal(q.exit_code, 0);
}

static void terminating_signal_is_reported_apart_from_exit_code(void **state)
{
    (void)state;
    struct udcs_proc p = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&p, "kill -9 $$", NULL, NULL), 0);
    assert_int_equal(p.term_signal, SIGKILL);
    assert_int_equal(p.exit_code, -1);
    assert_int_equal(p.timed_out, 0);
}

static void signal_reaches_the_child_and_is_refused_after_reaping(void **state)
{
    (void)state;
    char *argv[] = { "sleep", "1000", NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.timeout_ms = SAFETY_TIMEOUT_MS;
    assert_int_equal(udcs_proc_start(&p), 0);
    assert_int_equal(udcs_proc_signal(&p, SIGTERM), 0);
    assert_int_equal(udcs_proc_wait(&p), 0);
    assert_int_equal(p.term_signal, SIGTERM);
    assert_int_equal(p.timed_out, 0);
    /* the pid may be reused by now: nothing may be sent to it */
    assert_int_equal(udcs_proc_signal(&p, SIGTERM), -ESRCH);
    assert_int_equal(udcs_proc_wait(&p), -ECHILD);
}

static void duration_covers_the_run(void **state)
{
    (void)state;
    char *argv[] = { "sleep", "0.2", NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_int_equal(p.exit_code, 0);
    assert_true(p.duration_ms >= 200);
    assert_true(p.duration_ms < SAFETY_TIMEOUT_MS);
}

/* ---- capture -------------------------------------------------------------------------- */

static void stdout_and_stderr_are_captured_separately(void **state)
{
    (void)state;
    struct udcs_buf out = UDCS_BUF_INIT(1024), err = UDCS_BUF_INIT(1024);
    struct udcs_proc p = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&p, "echo to-out; echo to-err >&2; echo more-out; exit 3", &out,
                            &err), 0);
    assert_int_equal(p.exit_code, 3);
    assert_string_equal(out.data, "to-out\nmore-out\n");
    assert_string_equal(err.data, "to-err\n");
    assert_int_equal(p.out.truncated, 0);
    assert_int_equal(p.err.truncated, 0);
    udcs_buf_release(&out);
    udcs_buf_release(&err);
}

static void large_output_on_both_pipes_arrives_whole(void **state)
{
    (void)state;
    /* 2 MB on each pipe, written alternately: needs both drained while the child runs */
    struct udcs_buf out = UDCS_BUF_INIT(4 << 20), err = UDCS_BUF_INIT(4 << 20);
    struct udcs_proc p = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&p, "head -c 2000000 /dev/urandom | tee /dev/stderr", &out, &err),
                     0);
    assert_int_equal(p.exit_code, 0);
    assert_int_equal(out.len, 2000000);
    assert_int_equal(err.len, 2000000);
    assert_memory_equal(out.data, err.data, out.len);
    udcs_buf_release(&out);
    udcs_buf_release(&err);
}

static void capture_over_max_sets_truncated_and_does_not_block_the_child(void **state)
{
    (void)state;
    struct udcs_buf out = UDCS_BUF_INIT(1000), err = UDCS_BUF_INIT(1000);
    struct udcs_proc p = UDCS_PROC_INIT;
    /* far more than a pipe holds: the child only finishes if the rest is read and dropped */
    assert_int_equal(run_sh(&p, "head -c 3000000 /dev/zero | tr '\\0' x; echo end >&2", &out,
                            &err), 0);
    assert_int_equal(p.timed_out, 0);
    assert_int_equal(p.exit_code, 0);
    assert_int_equal(p.out.truncated, 1);
    assert_int_equal(out.len, 1000);
    assert_int_equal(out.data[0], 'x');
    assert_int_equal(out.data[999], 'x');
    assert_int_equal(p.err.truncated, 0);
    assert_string_equal(err.data, "end\n");
    udcs_buf_release(&out);
    udcs_buf_release(&err);
}

static void capture_of_exactly_max_is_not_truncated(void **state)
{
    (void)state;
    struct udcs_buf out = UDCS_BUF_INIT(5);
    struct udcs_proc p = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&p, "printf 12345", &out, NULL), 0);
    assert_int_equal(p.out.truncated, 0);
    assert_string_equal(out.data, "12345");
    udcs_buf_release(&out);

    struct udcs_buf six = UDCS_BUF_INIT(5);
    struct udcs_proc q = UDCS_PROC_INIT;
    assert_int_equal(run_sh(&q, "printf 123456", &six, NULL), 0);
    assert_int_equal(q.out.truncated, 1);
    assert_string_equal(six.data, "12345");
    udcs_buf_release(&six);
}

static void child_gets_default_sigpipe_even_when_parent_ignores_it(void **state)
{
    (void)state;
    struct udcs_buf out = UDCS_BUF_INIT(100), err = UDCS_BUF_INIT(4096);
    struct udcs_proc p = UDCS_PROC_INIT;
    /* with SIGPIPE ignored, `yes` would complain "Broken pipe" on stderr */
    assert_int_equal(run_sh(&p, "yes | head -c 4", &out, &err), 0);
    assert_string_equal(out.data, "y\ny\n");
    assert_string_equal(err.data ? err.data : "", "");
    udcs_buf_release(&out);
    udcs_buf_release(&err);
}

/* ---- stdio from files and descriptors ---------------------------------------------------- */

static void stdin_and_stdout_can_be_files(void **state)
{
    char *in = path_in(*state, "in.txt"), *out = path_in(*state, "out.txt");
    test_write_file(in, "line one\nline two\n", 18);
    test_write_file(out, "old contents that are longer than the new ones\n", 48);
    char *argv[] = { "tr", "a-z", "A-Z", NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.in.mode = UDCS_PROC_FILE;
    p.in.path = in;
    p.out.mode = UDCS_PROC_FILE;
    p.out.path = out;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_int_equal(p.exit_code, 0);
    size_t len;
    char *got = test_read_file(out, &len);
    assert_int_equal(len, 18);   /* truncated, not overwritten in place */
    assert_memory_equal(got, "LINE ONE\nLINE TWO\n", 18);
    free(got);
    free(in);
    free(out);
}

static void missing_stdin_file_fails_before_starting(void **state)
{
    char *in = path_in(*state, "absent"), *marker = path_in(*state, "ran");
    char script[PATH_MAX + 32];
    snprintf(script, sizeof(script), "touch %s", marker);
    char *argv[] = { "/bin/sh", "-c", script, NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.in.mode = UDCS_PROC_FILE;
    p.in.path = in;
    assert_int_equal(udcs_proc_run(&p), -ENOENT);
    assert_int_equal(p.pid, -1);
    assert_int_equal(access(marker, F_OK), -1);
    free(in);
    free(marker);
}

static void null_stdin_reads_as_empty_and_fd_output_goes_to_the_callers_descriptor(void **state)
{
    char *path = path_in(*state, "fd-out");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    char *argv[] = { "/bin/sh", "-c", "n=$(wc -c); echo \"stdin had $n bytes\"", NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.in.mode = UDCS_PROC_NULL;
    p.out.mode = UDCS_PROC_FD;
    p.out.fd = fd;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_true(fcntl(fd, F_GETFD) >= 0);   /* the caller keeps its descriptor */
    close(fd);
    size_t len;
    char *got = test_read_file(path, &len);
    assert_int_equal(len, strlen("stdin had 0 bytes\n"));
    assert_memory_equal(got, "stdin had 0 bytes\n", len);
    free(got);
    free(path);
}

static void missing_program_gives_enoent(void **state)
{
    (void)state;
    char *bare[] = { "udcs-no-such-program-here", NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = bare;
    assert_int_equal(udcs_proc_run(&p), -ENOENT);
    assert_int_equal(p.pid, -1);

    char *full[] = { "/nonexistent/bin/tool", NULL };
    struct udcs_buf out = UDCS_BUF_INIT(100);
    struct udcs_proc q = UDCS_PROC_INIT;
    q.argv = full;
    q.out.mode = UDCS_PROC_CAPTURE;
    q.out.buf = &out;
    assert_int_equal(udcs_proc_run(&q), -ENOENT);
    assert_int_equal(q.pipes[0], -1);   /* the capture pipe was not left open */
    udcs_buf_release(&out);

    struct udcs_proc r = UDCS_PROC_INIT;   /* capture makes no sense for stdin */
    r.argv = full;
    r.in.mode = UDCS_PROC_CAPTURE;
    r.in.buf = &out;
    assert_int_equal(udcs_proc_start(&r), -EINVAL);
}

/* ---- cwd and environment ------------------------------------------------------------------ */

static void child_runs_in_the_given_directory(void **state)
{
    char real[PATH_MAX];
    assert_non_null(realpath(*state, real));
    char *argv[] = { "/bin/pwd", "-P", NULL };
    struct udcs_buf out = UDCS_BUF_INIT(PATH_MAX + 2);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.cwd = *state;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = &out;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_int_equal(p.exit_code, 0);
    assert_int_equal(out.len, strlen(real) + 1);
    assert_memory_equal(out.data, real, strlen(real));
    udcs_buf_release(&out);

    char *missing = path_in(*state, "no-such-dir");
    struct udcs_proc q = UDCS_PROC_INIT;
    q.argv = argv;
    q.cwd = missing;
    assert_int_equal(udcs_proc_run(&q), -ENOENT);
    free(missing);
}

static void child_sees_only_the_environment_it_is_given(void **state)
{
    (void)state;
    assert_int_equal(setenv("UDCS_TEST_PARENT_ONLY", "leak", 1), 0);
    char *env[] = { "ONLY=this", "SECOND=two words", NULL };
    char *argv[] = { "env", NULL };   /* found through the parent's PATH */
    struct udcs_buf out = UDCS_BUF_INIT(4096);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.env = env;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = &out;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_string_equal(out.data, "ONLY=this\nSECOND=two words\n");
    udcs_buf_release(&out);

    char *empty[] = { NULL };
    struct udcs_buf none = UDCS_BUF_INIT(4096);
    struct udcs_proc q = UDCS_PROC_INIT;
    q.argv = argv;
    q.env = empty;
    q.out.mode = UDCS_PROC_CAPTURE;
    q.out.buf = &none;
    assert_int_equal(udcs_proc_run(&q), 0);
    assert_int_equal(none.len, 0);
    udcs_buf_release(&none);

    /* NULL: the parent's environment */
    struct udcs_buf inherited = UDCS_BUF_INIT(1 << 20);
    struct udcs_proc r = UDCS_PROC_INIT;
    r.argv = argv;
    r.out.mode = UDCS_PROC_CAPTURE;
    r.out.buf = &inherited;
    assert_int_equal(udcs_proc_run(&r), 0);
    assert_non_null(strstr(inherited.data, "UDCS_TEST_PARENT_ONLY=leak\n"));
    udcs_buf_release(&inherited);
    unsetenv("UDCS_TEST_PARENT_ONLY");
}

/* ---- timeouts and the process group ------------------------------------------------------ */

/* Start `sh -c script sh pid_file`; the script writes a background job's pid to "$1".
 * Returns that pid once the file is complete (written to "$1.tmp", then renamed). */
static pid_t start_with_grandchild(struct udcs_proc *p, const char *script, const char *pid_file)
{
    static char *argv[6];
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = (char *)script;
    argv[3] = "sh";
    argv[4] = (char *)pid_file;
    argv[5] = NULL;
    p->argv = argv;
    assert_int_equal(udcs_proc_start(p), 0);
    return wait_for_pid_file(pid_file);
}

static void timeout_kills_the_whole_process_group(void **state)
{
    char *pid_file = path_in(*state, "grandchild.pid");
    struct udcs_buf out = UDCS_BUF_INIT(100);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.timeout_ms = 500;
    p.kill_grace_ms = 5000;
    p.out.mode = UDCS_PROC_CAPTURE;   /* the grandchild holds this pipe open too */
    p.out.buf = &out;
    pid_t grandchild = start_with_grandchild(
        &p, "sleep 1000 & echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"; wait", pid_file);
    assert_true(kill(grandchild, 0) == 0);

    assert_int_equal(udcs_proc_wait(&p), -ETIMEDOUT);
    assert_int_equal(p.timed_out, 1);
    assert_int_equal(p.term_signal, SIGTERM);   /* ended by the first, polite signal */
    assert_int_equal(p.exit_code, -1);
    assert_true(p.duration_ms >= 500);
    assert_true(p.duration_ms < 5000);          /* did not need the grace period */
    wait_until_gone(p.pid);
    wait_until_gone(grandchild);
    udcs_buf_release(&out);
    free(pid_file);
}

static void timeout_escalates_to_sigkill_when_sigterm_is_ignored(void **state)
{
    char *pid_file = path_in(*state, "grandchild.pid");
    struct udcs_proc p = UDCS_PROC_INIT;
    p.timeout_ms = 300;
    p.kill_grace_ms = 300;
    pid_t grandchild = start_with_grandchild(
        &p, "trap '' TERM; sleep 1000 & echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"; wait",
        pid_file);
    assert_int_equal(udcs_proc_wait(&p), -ETIMEDOUT);
    assert_int_equal(p.timed_out, 1);
    assert_int_equal(p.term_signal, SIGKILL);
    assert_true(p.duration_ms >= 600);
    wait_until_gone(grandchild);
    free(pid_file);
}

static void group_members_left_behind_are_ended_when_the_child_exits(void **state)
{
    char *pid_file = path_in(*state, "grandchild.pid");
    struct udcs_buf out = UDCS_BUF_INIT(100);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.timeout_ms = SAFETY_TIMEOUT_MS;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = &out;
    /* the child exits at once; its background job keeps the capture pipe open */
    pid_t grandchild = start_with_grandchild(
        &p, "sleep 1000 & echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"; echo done", pid_file);
    assert_int_equal(udcs_proc_wait(&p), 0);
    assert_int_equal(p.timed_out, 0);
    assert_int_equal(p.exit_code, 0);
    assert_string_equal(out.data, "done\n");
    wait_until_gone(grandchild);
    udcs_buf_release(&out);
    free(pid_file);
}

static void keep_group_leaves_background_members_running(void **state)
{
    char *pid_file = path_in(*state, "grandchild.pid");
    struct udcs_proc p = UDCS_PROC_INIT;
    p.timeout_ms = SAFETY_TIMEOUT_MS;
    p.keep_group = 1;
    p.out.mode = UDCS_PROC_NULL;
    pid_t grandchild = start_with_grandchild(
        &p, "sleep 1000 & echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"", pid_file);
    assert_int_equal(udcs_proc_wait(&p), 0);
    assert_int_equal(p.exit_code, 0);
    int alive = !pid_is_gone(grandchild);
    kill(grandchild, SIGKILL);
    assert_true(alive);
    wait_until_gone(grandchild);
    free(pid_file);
}

static void timeout_applies_when_the_child_closed_its_output(void **state)
{
    (void)state;
    struct udcs_buf out = UDCS_BUF_INIT(100);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.timeout_ms = 300;
    p.kill_grace_ms = 1000;
    assert_int_equal(run_sh(&p, "echo bye; exec >&- 2>&-; exec sleep 1000", &out, NULL),
                     -ETIMEDOUT);
    assert_int_equal(p.timed_out, 1);
    assert_int_equal(p.term_signal, SIGTERM);
    assert_string_equal(out.data, "bye\n");
    udcs_buf_release(&out);
}

static void a_process_that_left_the_group_cannot_hold_up_the_wait(void **state)
{
    char *pid_file = path_in(*state, "escaped.pid");
    struct udcs_buf out = UDCS_BUF_INIT(100);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.timeout_ms = SAFETY_TIMEOUT_MS;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = &out;
    /* setsid: a new session, out of reach of the group kill, holding the pipe open */
    pid_t escaped = start_with_grandchild(
        &p, "setsid sleep 1000 & echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"; echo done",
        pid_file);
    uint64_t start = udcs_mono_ms();
    assert_int_equal(udcs_proc_wait(&p), 0);
    assert_true(udcs_mono_ms() - start < 5000);
    assert_int_equal(p.exit_code, 0);
    assert_string_equal(out.data, "done\n");
    kill(escaped, SIGKILL);
    wait_until_gone(escaped);
    udcs_buf_release(&out);
    free(pid_file);
}

static void wait_returns_when_the_program_ignores_sigchld(void **state)
{
    (void)state;
    struct udcs_proc p = UDCS_PROC_INIT;
    signal(SIGCHLD, SIG_IGN);   /* children are reaped by the kernel: no status to collect */
    int rc = run_sh(&p, "exit 3", NULL, NULL);
    signal(SIGCHLD, SIG_DFL);
    assert_int_equal(rc, 0);
    assert_int_equal(p.timed_out, 0);
    assert_int_equal(p.exit_code, -1);   /* unknown, and said so */
    assert_int_equal(p.term_signal, 0);
}

/* ---- resource limits (the fork path) ------------------------------------------------------- */

static void cpu_limit_ends_a_busy_loop(void **state)
{
    (void)state;
    struct udcs_proc p = UDCS_PROC_INIT;
    p.limits.cpu_s = 1;
    assert_int_equal(run_sh(&p, "while :; do :; done", NULL, NULL), 0);
    assert_int_equal(p.timed_out, 0);
    assert_int_equal(p.term_signal, SIGXCPU);
}

static void file_size_limit_stops_a_large_write(void **state)
{
    char *big = path_in(*state, "big");
    struct udcs_buf err = UDCS_BUF_INIT(4096);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.limits.fsize_bytes = 4096;
    char *argv[] = { "sh", "-c", "trap '' XFSZ; head -c 100000 /dev/zero > \"$0\"", big, NULL };
    p.argv = argv;
    p.err.mode = UDCS_PROC_CAPTURE;
    p.err.buf = &err;
    p.timeout_ms = SAFETY_TIMEOUT_MS;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_int_not_equal(p.exit_code, 0);
    struct stat st;
    assert_int_equal(stat(big, &st), 0);
    assert_true(st.st_size <= 4096);
    udcs_buf_release(&err);
    free(big);
}

static void limited_child_keeps_stdio_cwd_and_reports_a_missing_program(void **state)
{
    struct udcs_buf out = UDCS_BUF_INIT(4096);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.limits.nofile = 64;
    p.cwd = *state;
    assert_int_equal(run_sh(&p, "pwd; ulimit -n", &out, NULL), 0);
    assert_int_equal(p.exit_code, 0);
    char want[4200];
    snprintf(want, sizeof(want), "%s\n64\n", (char *)*state);
    assert_string_equal(out.data, want);
    udcs_buf_release(&out);

    struct udcs_proc q = UDCS_PROC_INIT;
    char *argv[] = { "no-such-program-udcs", NULL };
    q.argv = argv;
    q.limits.cpu_s = 5;
    assert_int_equal(udcs_proc_start(&q), -ENOENT);
}

#define PROC_TEST(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* as servers do: children must not inherit it */
    const struct CMUnitTest tests[] = {
        PROC_TEST(exit_code_is_reported),
        PROC_TEST(terminating_signal_is_reported_apart_from_exit_code),
        PROC_TEST(signal_reaches_the_child_and_is_refused_after_reaping),
        PROC_TEST(duration_covers_the_run),
        PROC_TEST(stdout_and_stderr_are_captured_separately),
        PROC_TEST(large_output_on_both_pipes_arrives_whole),
        PROC_TEST(capture_over_max_sets_truncated_and_does_not_block_the_child),
        PROC_TEST(capture_of_exactly_max_is_not_truncated),
        PROC_TEST(child_gets_default_sigpipe_even_when_parent_ignores_it),
        PROC_TEST(stdin_and_stdout_can_be_files),
        PROC_TEST(missing_stdin_file_fails_before_starting),
        PROC_TEST(null_stdin_reads_as_empty_and_fd_output_goes_to_the_callers_descriptor),
        PROC_TEST(missing_program_gives_enoent),
        PROC_TEST(child_runs_in_the_given_directory),
        PROC_TEST(child_sees_only_the_environment_it_is_given),
        PROC_TEST(timeout_kills_the_whole_process_group),
        PROC_TEST(timeout_escalates_to_sigkill_when_sigterm_is_ignored),
        PROC_TEST(group_members_left_behind_are_ended_when_the_child_exits),
        PROC_TEST(keep_group_leaves_background_members_running),
        PROC_TEST(timeout_applies_when_the_child_closed_its_output),
        PROC_TEST(a_process_that_left_the_group_cannot_hold_up_the_wait),
        PROC_TEST(wait_returns_when_the_program_ignores_sigchld),
        PROC_TEST(cpu_limit_ends_a_busy_loop),
        PROC_TEST(file_size_limit_stops_a_large_write),
        PROC_TEST(limited_child_keeps_stdio_cwd_and_reports_a_missing_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
