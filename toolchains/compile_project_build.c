/* toolchains/compile_project_build.c - udcs-compile --project, the half that builds: for
 * one target, its build directory and counters file, the build system's steps (CMake,
 * Meson with a generated cross file, configure --host, or plain Make in a copy of the
 * tree) run through common/proc.h with the output in the target's log, Ctrl-C passed on
 * to the build, and the counters read back. */
#include "toolchains/compile_project.h"
#include "common/buf.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static void strv_add_owned(struct strv *s, char *text)
{
    if (!text || s->failed) {
        s->failed = 1;
        free(text);
        return;
    }
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            s->failed = 1;
            free(text);
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = text;
    s->v[s->n] = NULL;
}

void project_strv_add(struct strv *s, const char *text)
{
    strv_add_owned(s, strdup(text));
}

void project_strv_addf(struct strv *s, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    strv_add_owned(s, text);
}

void project_strv_release(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- running the build ------------------------------------------------------------------- */

/* Ctrl-C reaches our process group only: the build runs in its own (common/proc.c), so
 * the signal is passed on to it. The handler can only see a process-wide object, hence
 * this one exception to keeping state in structs. */
static struct udcs_proc *volatile running_build;
static volatile sig_atomic_t interrupted;

void project_on_signal(int sig)
{
    interrupted = sig;
    struct udcs_proc *p = running_build;
    if (p)
        udcs_proc_signal(p, sig);
}

/* The build's environment: ours, with this target's counters file and the settings the
 * flags gave us (the compile calls read only the environment and the config file). CC
 * and CXX are left out, so a build cannot pick them over the target's compilers. */
static char **build_env(const struct project *pj, const struct target_run *r, struct strv *env)
{
    static const char *const replaced[] = { "UDCS_JOB_STATS", "UDCS_CACHE_DIR", "UDCS_FARM",
                                            "CC", "CXX" };
    for (char **e = environ; *e; e++) {
        int keep = 1;
        for (size_t i = 0; i < sizeof(replaced) / sizeof(replaced[0]) && keep; i++) {
            size_t n = strlen(replaced[i]);
            keep = !(strncmp(*e, replaced[i], n) == 0 && (*e)[n] == '=');
        }
        if (keep)
            project_strv_add(env, *e);
    }
    project_strv_addf(env, "UDCS_JOB_STATS=%s", r->stats_path);
    project_strv_addf(env, "UDCS_CACHE_DIR=%s", pj->set->cache_dir);
    if (pj->set->farm && *pj->set->farm)
        project_strv_addf(env, "UDCS_FARM=%s", pj->set->farm);
    return env->failed ? NULL : env->v;
}

/* Run one step of a build with its output appended to the log. 0 when it exits 0; else
 * -1 with r->reason saying how it ended. */
static int run_step(struct target_run *r, int log_fd, char **env, char **argv,
                    const char *cwd)
{
    struct udcs_buf line = UDCS_BUF_INIT(1 << 20);
    udcs_buf_append_str(&line, "\n$");
    for (char **a = argv; *a; a++) {
        if (!**a || strpbrk(*a, " \t\n'\"\\$`*?;&|<>()")) {
            /* quoted as a shell would need it, so the line can be pasted to retry */
            udcs_buf_append_str(&line, " '");
            for (const char *c = *a; *c; c++) {
                if (*c == '\'')
                    udcs_buf_append_str(&line, "'\\''");
                else
                    udcs_buf_append(&line, c, 1);
            }
            udcs_buf_append_str(&line, "'");
        } else {
            udcs_buf_appendf(&line, " %s", *a);
        }
    }
    udcs_buf_appendf(&line, "   (in %s)\n", cwd);
    if (line.data)
        udcs_write_full(log_fd, line.data, line.len);
    udcs_buf_release(&line);

    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.env = env;
    p.cwd = cwd;
    p.in.mode = UDCS_PROC_NULL;
    p.out.mode = p.err.mode = UDCS_PROC_FD;
    p.out.fd = p.err.fd = log_fd;
    int rc = udcs_proc_start(&p);
    if (rc < 0) {
        snprintf(r->reason, sizeof(r->reason), "cannot run %s: %s", argv[0], udcs_strerror(rc));
        return -1;
    }
    running_build = &p;
    if (interrupted)
        udcs_proc_signal(&p, SIGTERM);   /* the signal came just before it started */
    rc = udcs_proc_wait(&p);
    running_build = NULL;
    if (rc < 0)
        snprintf(r->reason, sizeof(r->reason), "waiting for %s failed: %s", argv[0],
                 udcs_strerror(rc));
    else if (interrupted)
        snprintf(r->reason, sizeof(r->reason), "interrupted (signal %d)", (int)interrupted);
    else if (p.term_signal)
        snprintf(r->reason, sizeof(r->reason), "%s was killed by signal %d (%s)", argv[0],
                 p.term_signal, strsignal(p.term_signal));
    else if (p.exit_code != 0)
        snprintf(r->reason, sizeof(r->reason), "%s%s exited with status %d", argv[0],
                 argv[1] && strcmp(argv[1], "--build") == 0 ? " --build" : "", p.exit_code);
    else
        return 0;
    return -1;
}

/* Append `s` to `b` as a Meson string literal. */
static void meson_quote(struct udcs_buf *b, const char *s)
{
    udcs_buf_append_str(b, "'");
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            udcs_buf_append_str(b, "\\");
        udcs_buf_append(b, s, 1);
    }
    udcs_buf_append_str(b, "'");
}

/* Meson's machine file: compilers behind udcs-compile; for a cross target, the binutils
 * and the host machine too. Written to BUILD/udcs-cross.ini or BUILD/udcs-native.ini. */
static int write_meson_file(const struct project *pj, struct target_run *r,
                            char *path, size_t path_len)
{
    const struct target_def *d = r->def;
    snprintf(path, path_len, "%s/udcs-%s.ini", r->build_dir, r->is_native ? "native" : "cross");
    struct udcs_buf b = UDCS_BUF_INIT(1 << 16);
    udcs_buf_append_str(&b, "# written by udcs-compile --project\n[binaries]\nc = [");
    meson_quote(&b, pj->launcher);
    udcs_buf_append_str(&b, ", ");
    meson_quote(&b, r->cc);
    udcs_buf_append_str(&b, "]\ncpp = [");
    meson_quote(&b, pj->launcher);
    udcs_buf_append_str(&b, ", ");
    meson_quote(&b, r->cxx);
    udcs_buf_append_str(&b, "]\n");
    if (!r->is_native) {
        static const char *const tools[] = { "ar", "strip", "windres", "pkg-config" };
        for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
            char name[PROJECT_NAME_MAX];
            snprintf(name, sizeof(name), "%s-%s", d->triplet, tools[i]);
            if (!project_is_on_path(name))
                continue;
            udcs_buf_appendf(&b, "%s = ", tools[i]);
            meson_quote(&b, name);
            udcs_buf_append_str(&b, "\n");
        }
        char system[32];
        size_t i;
        for (i = 0; d->system[i] && i + 1 < sizeof(system); i++)
            system[i] = (char)(d->system[i] >= 'A' && d->system[i] <= 'Z' ? d->system[i] + 32
                                                                          : d->system[i]);
        system[i] = '\0';
        udcs_buf_appendf(&b, "\n[host_machine]\nsystem = '%s'\ncpu_family = '%s'\n"
                         "cpu = '%s'\nendian = 'little'\n", system, d->cpu_family, d->cpu);
    }
    int rc = b.data ? udcs_write_atomic(path, b.data, b.len, 0644) : -ENOMEM;
    udcs_buf_release(&b);
    if (rc < 0)
        snprintf(r->reason, sizeof(r->reason), "cannot write %s: %s", path,
                 udcs_strerror(rc));
    return rc;
}

/* Plain Make cannot be pointed at another build directory, so each target builds in its
 * own copy of the tree (cp -a keeps the times, so a rebuild stays incremental). Build
 * directories inside the project are left out: build-udcs, and the top-level directory
 * holding --build-dir, so that copies never nest. Files deleted from the project stay in
 * the copy. */
static int copy_tree(const struct project *pj, struct target_run *r, int log_fd, char **env)
{
    if (udcs_mkdir_p(r->work_dir, 0755) < 0) {
        snprintf(r->reason, sizeof(r->reason), "cannot create %s: %s", r->work_dir,
                 strerror(errno));
        return -1;
    }
    DIR *d = opendir(pj->dir);
    if (!d) {
        snprintf(r->reason, sizeof(r->reason), "cannot read %s: %s", pj->dir, strerror(errno));
        return -1;
    }
    struct strv argv = { 0 };
    project_strv_add(&argv, "cp");
    project_strv_add(&argv, "-af");
    project_strv_add(&argv, "--");
    size_t first = argv.n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, PROJECT_BUILD_SUBDIR) == 0 ||
            (pj->exclude_top && strcmp(e->d_name, pj->exclude_top) == 0))
            continue;
        project_strv_addf(&argv, "%s/%s", pj->dir, e->d_name);
    }
    closedir(d);
    int rc = 0;
    if (argv.failed) {
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        rc = -1;
    } else if (argv.n > first) {
        project_strv_addf(&argv, "%s/", r->work_dir);
        rc = argv.failed ? -1 : run_step(r, log_fd, env, argv.v, pj->dir);
    }
    project_strv_release(&argv);
    return rc;
}

/* The steps of one target's build; 0, or -1 with r->reason set. */
static int build_target(const struct project *pj, struct target_run *r, int log_fd,
                        char **env)
{
    const struct target_def *d = r->def;
    const struct project_opts *o = &pj->opts;
    struct strv a = { 0 }, b = { 0 };
    const char *a_cwd = r->build_dir, *b_cwd = r->build_dir;
    char ini[PATH_MAX];
    int rc = 0;
    switch (pj->bs) {
    case BS_CMAKE:
        project_strv_add(&a, "cmake");
        project_strv_addf(&a, "-S%s", pj->dir);
        project_strv_addf(&a, "-B%s", r->build_dir);
        project_strv_addf(&a, "-DCMAKE_C_COMPILER=%s", r->cc);
        project_strv_addf(&a, "-DCMAKE_CXX_COMPILER=%s", r->cxx);
        project_strv_addf(&a, "-DCMAKE_C_COMPILER_LAUNCHER=%s", pj->launcher);
        project_strv_addf(&a, "-DCMAKE_CXX_COMPILER_LAUNCHER=%s", pj->launcher);
        if (!r->is_native) {
            char pkgconfig[PROJECT_NAME_MAX];
            project_strv_addf(&a, "-DCMAKE_SYSTEM_NAME=%s", d->system);
            project_strv_addf(&a, "-DCMAKE_SYSTEM_PROCESSOR=%s", d->cpu);
            snprintf(pkgconfig, sizeof(pkgconfig), "%s-pkg-config", d->triplet);
            if (project_is_on_path(pkgconfig))
                project_strv_addf(&a, "-DPKG_CONFIG_EXECUTABLE=%s", pkgconfig);
        }
        for (int i = 0; i < o->n_build_args; i++)
            project_strv_add(&a, o->build_args[i]);
        project_strv_add(&b, "cmake");
        project_strv_add(&b, "--build");
        project_strv_add(&b, r->build_dir);
        project_strv_addf(&b, "-j%u", o->parallel);
        break;
    case BS_MESON:
        if (write_meson_file(pj, r, ini, sizeof(ini)) < 0)
            return -1;
        project_strv_add(&a, "meson");
        project_strv_add(&a, "setup");
        if (project_file_exists(r->build_dir, "meson-private/coredata.dat"))
            project_strv_add(&a, "--reconfigure");
        project_strv_add(&a, r->is_native ? "--native-file" : "--cross-file");
        project_strv_add(&a, ini);
        for (int i = 0; i < o->n_build_args; i++)
            project_strv_add(&a, o->build_args[i]);
        project_strv_add(&a, r->build_dir);
        project_strv_add(&a, pj->dir);
        a_cwd = pj->dir;
        project_strv_add(&b, "ninja");
        project_strv_add(&b, "-C");
        project_strv_add(&b, r->build_dir);
        project_strv_addf(&b, "-j%u", o->parallel);
        break;
    case BS_CONFIGURE: {
        char configure[PATH_MAX];
        snprintf(configure, sizeof(configure), "%s/configure", pj->dir);
        if (access(configure, X_OK) != 0)
            project_strv_add(&a, "sh");   /* a configure that lost its x bit still runs */
        project_strv_add(&a, configure);
        if (!r->is_native)
            project_strv_addf(&a, "--host=%s", d->triplet);
        project_strv_addf(&a, "CC=%s %s", pj->launcher, r->cc);
        project_strv_addf(&a, "CXX=%s %s", pj->launcher, r->cxx);
        for (int i = 0; i < o->n_build_args; i++)
            project_strv_add(&a, o->build_args[i]);
        project_strv_add(&b, "make");
        project_strv_addf(&b, "-j%u", o->parallel);
        break;
    }
    case BS_MAKE:
        if (copy_tree(pj, r, log_fd, env) < 0)
            return -1;
        project_strv_add(&b, "make");
        project_strv_add(&b, "-C");
        project_strv_add(&b, r->work_dir);
        project_strv_addf(&b, "-j%u", o->parallel);
        project_strv_addf(&b, "CC=%s %s", pj->launcher, r->cc);
        project_strv_addf(&b, "CXX=%s %s", pj->launcher, r->cxx);
        if (!r->is_native) {
            static const char *const tools[][2] = { { "AR", "ar" }, { "RANLIB", "ranlib" },
                                                    { "STRIP", "strip" } };
            for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
                char name[PROJECT_NAME_MAX];
                snprintf(name, sizeof(name), "%s-%s", d->triplet, tools[i][1]);
                if (project_is_on_path(name))
                    project_strv_addf(&b, "%s=%s", tools[i][0], name);
            }
        }
        for (int i = 0; i < o->n_build_args; i++)
            project_strv_add(&b, o->build_args[i]);
        b_cwd = r->work_dir;
        break;
    case BS_NONE:
        break;
    }
    if (a.failed || b.failed) {
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        rc = -1;
    }
    if (rc == 0 && a.n)
        rc = run_step(r, log_fd, env, a.v, a_cwd);
    if (rc == 0 && b.n)
        rc = run_step(r, log_fd, env, b.v, b_cwd);
    project_strv_release(&a);
    project_strv_release(&b);
    return rc;
}

/* The last `max` bytes of the file at `path`, as a C string the caller frees; NULL when
 * it cannot be read or is empty. */
static char *read_tail(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *buf = malloc(max + 1);
    off_t from = (uint64_t)st.st_size > max ? st.st_size - (off_t)max : 0;
    ssize_t n = buf ? udcs_pread_full(fd, buf, max, from) : -1;
    close(fd);
    if (n <= 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Print the last lines of a failed target's log to stderr. */
static void print_log_tail(const char *path)
{
    char *buf = read_tail(path, PROJECT_TAIL_BYTES);
    if (!buf)
        return;
    char *start = buf + strlen(buf);
    int lines = 0;
    if (start > buf && start[-1] == '\n')
        start--;
    while (start > buf && lines < PROJECT_TAIL_LINES)
        if (*--start == '\n')
            lines++;
    if (*start == '\n')
        start++;
    fprintf(stderr, "udcs-compile: the last lines of %s:\n", path);
    for (char *line = start, *end; *line; line = end + (*end != '\0')) {
        end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        fprintf(stderr, "  | %.*s\n", (int)(end - line), line);
    }
    free(buf);
}

/* Whether the build's own output near the end of the log names `what` (our "$ command"
 * lines, which name every compiler, do not count). */
static int log_mentions(const char *path, const char *what)
{
    char *buf = read_tail(path, PROJECT_TAIL_BYTES * 4);
    int found = 0;
    for (char *line = buf, *end; line && *line && !found; line = end + (*end != '\0')) {
        end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        if (line[0] == '$' && line[1] == ' ')
            continue;
        char *hit = strstr(line, what);
        found = hit && hit < end;
    }
    free(buf);
    return found;
}

uint64_t project_stat_hits(const struct cc_stats *s)
{
    return s->v[CC_STAT_DIRECT_HITS] + s->v[CC_STAT_PREPROCESSED_HITS] +
           s->v[CC_STAT_REMOTE_HITS];
}

/* Prepare the target's directory and counters, build, and read the counters back. */
void project_run_target(const struct project *pj, struct target_run *r)
{
    const char *name = r->def->name;
    uint64_t start = udcs_mono_ms();
    int rc = udcs_mkdir_p(r->build_dir, 0755);
    if (rc < 0) {
        snprintf(r->reason, sizeof(r->reason), "cannot create %s: %s", r->build_dir,
                 udcs_strerror(rc));
        r->state = RUN_FAILED;
        fprintf(stderr, "udcs-compile: %s: failed: %s\n", name, r->reason);
        return;
    }
    /* counters of this run only: a file left by the last run starts again at zero */
    if (unlink(r->stats_path) < 0 && errno != ENOENT)
        cc_stats_zero(r->stats_path);
    int log_fd = open(r->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        snprintf(r->reason, sizeof(r->reason), "cannot create %s: %s", r->log_path,
                 strerror(errno));
        r->state = RUN_FAILED;
        fprintf(stderr, "udcs-compile: %s: failed: %s\n", name, r->reason);
        return;
    }
    fprintf(stderr, "udcs-compile: %s: building with %s in %s (%s, -j%u)\n", name,
            project_bs_titles[pj->bs], r->work_dir, r->cc, pj->opts.parallel);
    struct strv env = { 0 };
    char **envp = build_env(pj, r, &env);
    if (!envp) {
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        rc = -1;
    } else {
        rc = build_target(pj, r, log_fd, envp);
    }
    project_strv_release(&env);
    if (close(log_fd) < 0 && rc == 0) {
        snprintf(r->reason, sizeof(r->reason), "writing %s failed: %s", r->log_path,
                 strerror(errno));
        rc = -1;
    }
    r->wall_ms = udcs_mono_ms() - start;
    int src = cc_stats_read(r->stats_path, &r->stats);
    if (src < 0)
        udcs_log_warn("%s: cannot read the counters in %s: %s", name, r->stats_path,
                      udcs_strerror(src));
    uint64_t objects = project_stat_hits(&r->stats) + r->stats.v[CC_STAT_MISSES];
    if (rc == 0) {
        r->state = RUN_BUILT;
        fprintf(stderr, "udcs-compile: %s: built in %.1f s: %llu objects, %llu cache hits\n",
                name, (double)r->wall_ms / 1000.0, (unsigned long long)objects,
                (unsigned long long)project_stat_hits(&r->stats));
    } else {
        r->state = RUN_FAILED;
        if (!r->has_cxx && log_mentions(r->log_path, r->cxx)) {
            size_t len = strlen(r->reason);
            snprintf(r->reason + len, sizeof(r->reason) - len, "; the project needs %s, "
                     "which is not on PATH: install %s", r->cxx,
                     r->is_native ? "g++" : r->def->gxx_deb);
        }
        fprintf(stderr, "udcs-compile: %s: failed: %s\n", name, r->reason);
        if (!interrupted)
            print_log_tail(r->log_path);
    }
}

int project_interrupted(void)
{
    return interrupted;
}

