/* toolchains/compile_project.c - udcs-compile --project: build one source tree for several
 * targets (x86_64-linux, aarch64-linux, x86_64-windows, ...) with Debian's cross
 * compilers, each target in its own build directory with udcs-compile as the compiler
 * launcher, then say per target what the cache did. This file finds the build system and
 * drives it; the compile calls themselves are compile_cache.c's, and they add their
 * counters to the target's file through UDCS_JOB_STATS.
 * Past the 800 lines STYLE.md suggests; the natural split is the build-system drivers
 * (build_target and what it calls) into a file of their own. */
#include "toolchains/compile.h"
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

#define PROJECT_BUILD_SUBDIR "build-udcs"   /* default build base: DIR/build-udcs/TARGET */
#define PROJECT_STATS_NAME "udcs-stats"     /* per target, in its build directory */
#define PROJECT_LOG_NAME "udcs-build.log"   /* everything the build printed */
#define PROJECT_MAKE_COPY "src"             /* plain Make: the source copy, in the build dir */
#define PROJECT_TAIL_LINES 30               /* of the log, shown when a target fails */
#define PROJECT_TAIL_BYTES 16384            /* read from the log's end to find them */
#define PROJECT_MAX_PARALLEL 4096           /* a sanity bound on --parallel */
#define PROJECT_NAME_MAX 96                 /* longest compiler name we build */

/* ---- targets ---------------------------------------------------------------------------- */

struct target_def {
    const char *name;         /* what --targets names */
    const char *triplet;      /* the GNU triplet: compiler prefix and configure --host */
    const char *machine;      /* uname -m of a host that builds it natively; NULL: never */
    const char *system;       /* CMAKE_SYSTEM_NAME; lower-cased for Meson */
    const char *cpu;          /* CMAKE_SYSTEM_PROCESSOR, Meson's cpu */
    const char *cpu_family;   /* Meson's cpu_family */
    const char *gcc_deb;      /* the Debian packages of its C and C++ cross compilers */
    const char *gxx_deb;
    const char *refusal;      /* set: never built here, and why */
};

static const struct target_def target_defs[] = {
    { "x86_64-linux", "x86_64-linux-gnu", "x86_64", "Linux", "x86_64", "x86_64",
      "gcc-x86-64-linux-gnu", "g++-x86-64-linux-gnu", NULL },
    { "aarch64-linux", "aarch64-linux-gnu", "aarch64", "Linux", "aarch64", "aarch64",
      "gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu", NULL },
    { "arm-linux", "arm-linux-gnueabihf", "armv7l", "Linux", "arm", "arm",
      "gcc-arm-linux-gnueabihf", "g++-arm-linux-gnueabihf", NULL },
    { "riscv64-linux", "riscv64-linux-gnu", "riscv64", "Linux", "riscv64", "riscv64",
      "gcc-riscv64-linux-gnu", "g++-riscv64-linux-gnu", NULL },
    { "x86_64-windows", "x86_64-w64-mingw32", NULL, "Windows", "x86_64", "x86_64",
      "gcc-mingw-w64-x86-64", "g++-mingw-w64-x86-64", NULL },
    { "i686-windows", "i686-w64-mingw32", NULL, "Windows", "i686", "x86",
      "gcc-mingw-w64-i686", "g++-mingw-w64-i686", NULL },
    { "arm64-darwin", "aarch64-apple-darwin", NULL, "Darwin", "arm64", "aarch64", NULL, NULL,
      "needs the macOS SDK, which Debian does not ship" },
    { "x86_64-darwin", "x86_64-apple-darwin", NULL, "Darwin", "x86_64", "x86_64", NULL, NULL,
      "needs the macOS SDK, which Debian does not ship" },
};
#define N_TARGET_DEFS (sizeof(target_defs) / sizeof(target_defs[0]))

enum run_state { RUN_PENDING = 0, RUN_BUILT, RUN_FAILED, RUN_REFUSED };
static const char *const state_names[] = { "pending", "built", "failed", "refused" };

/* One target of this run. */
struct target_run {
    const struct target_def *def;
    char cc[PROJECT_NAME_MAX];    /* the compilers, as names found on PATH */
    char cxx[PROJECT_NAME_MAX];
    int is_native;
    int has_cxx;                  /* the C++ compiler is on PATH (only C ones are required) */
    char *build_dir;              /* BASE/TARGET */
    char *work_dir;               /* where the build runs: build_dir, or its source copy */
    char *log_path;
    char *stats_path;
    enum run_state state;
    char reason[1024];            /* why refused or failed */
    struct cc_stats stats;
    uint64_t wall_ms;
};

enum build_system { BS_NONE = 0, BS_CMAKE, BS_MESON, BS_CONFIGURE, BS_MAKE };
static const char *const bs_names[] = { "none", "cmake", "meson", "autotools", "make" };
static const char *const bs_titles[] = { "", "CMake", "Meson", "autotools (configure)",
                                         "Make" };

/* ---- argument vectors --------------------------------------------------------------------- */

/* A NULL-terminated vector of owned strings; an allocation failure is remembered and
 * reported once, by whoever uses the vector. */
struct strv {
    char **v;
    size_t n, cap;
    int failed;
};

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

static void strv_add(struct strv *s, const char *text)
{
    strv_add_owned(s, strdup(text));
}

__attribute__((format(printf, 2, 3)))
static void strv_addf(struct strv *s, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    strv_add_owned(s, text);
}

static void strv_release(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- small helpers ------------------------------------------------------------------------- */

/* Whether `name` is an executable file in a PATH directory. */
static int is_on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char full[PATH_MAX];
    struct stat st;
    for (const char *dir = path; *dir;) {
        size_t n = strcspn(dir, ":");
        int len = n ? snprintf(full, sizeof(full), "%.*s/%s", (int)n, dir, name)
                    : snprintf(full, sizeof(full), "./%s", name);
        if (len > 0 && (size_t)len < sizeof(full) && stat(full, &st) == 0 &&
            S_ISREG(st.st_mode) && access(full, X_OK) == 0)
            return 1;
        dir += n + (dir[n] == ':');
    }
    return 0;
}

static int file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    return snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path) &&
           stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The udcs-compile to put in front of every compile: this program, unless it is
 * udcs-compile-farm, whose fast sibling should answer the hits (it hands misses over by
 * itself). NULL when /proc/self/exe cannot be read. Caller frees. */
static char *launcher_path(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash && strcmp(slash + 1, "udcs-compile-farm") == 0) {
        char sibling[PATH_MAX];
        if (snprintf(sibling, sizeof(sibling), "%.*s/udcs-compile", (int)(slash - self),
                     self) < (int)sizeof(sibling) && access(sibling, X_OK) == 0)
            return strdup(sibling);
    }
    return strdup(self);
}

/* An absolute, canonical path for the directory `arg` (created first when `create`).
 * Returns NULL after saying why. */
static char *absolute_dir(const char *what, const char *arg, int create)
{
    int rc = create ? udcs_mkdir_p(arg, 0755) : 0;
    char *path = rc == 0 ? realpath(arg, NULL) : NULL;
    if (!path && rc == 0)
        rc = -errno;
    struct stat st;
    if (path && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))) {
        free(path);
        path = NULL;
        rc = -ENOTDIR;
    }
    if (!path)
        udcs_log_error("%s %s: %s", what, arg, udcs_strerror(rc));
    return path;
}

/* ---- options ------------------------------------------------------------------------------ */

struct project_opts {
    const char *dir;
    const char *targets;
    const char *build_dir;
    unsigned parallel;
    int as_json;
    char **build_args;
    int n_build_args;
};

static void project_usage(FILE *out)
{
    fprintf(out,
            "usage: udcs-compile --project DIR --targets LIST [--parallel N] [--build-dir DIR]\n"
            "                    [--json] [-- BUILD ARGS...]\n"
            "\n"
            "  Build the project in DIR (CMake, Meson, autotools configure or plain Make, in\n"
            "  that order of preference) once per target, every compile through udcs-compile,\n"
            "  and print per target: compiler, state, objects compiled, cache hits, remote\n"
            "  compiles and wall time.\n"
            "\n"
            "  --targets LIST     comma-separated:");
    for (size_t i = 0; i < N_TARGET_DEFS; i++)
        fprintf(out, "%s %s", i ? "," : "", target_defs[i].name);
    fprintf(out,
            "\n"
            "  --parallel N, -j N jobs of each build (default: the number of cores); the\n"
            "                     targets build one after another\n"
            "  --build-dir DIR    build target T in DIR/T (default: PROJECT/" PROJECT_BUILD_SUBDIR "/T)\n"
            "  --json             the summary as JSON on standard output\n"
            "  -- BUILD ARGS      given to cmake's configure step, meson setup, configure,\n"
            "                     or make for a plain Makefile\n"
            "\n"
            "  A plain Makefile is built in a copy of DIR (BUILD/" PROJECT_MAKE_COPY "). Each build's\n"
            "  output is in BUILD/" PROJECT_LOG_NAME ". Exit status: 0 when every target was built,\n"
            "  1 when one was refused or failed, 2 for a usage error.\n");
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: 1 with *value set (NULL when the value is
 * missing), 0 when argv[*i] is another argument. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

static int parse_opts(int argc, char **argv, struct project_opts *o)
{
    memset(o, 0, sizeof(*o));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->parallel = cores > 0 ? (unsigned)cores : 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL, *parallel = NULL;
        if (strcmp(a, "--") == 0) {
            o->build_args = argv + i + 1;
            o->n_build_args = argc - i - 1;
            break;
        }
        if (strcmp(a, "--json") == 0) {
            o->as_json = 1;
        } else if (option_value(argc, argv, &i, "--project", &v)) {
            if (!v || !*v) {
                udcs_log_error("--project needs the project's directory");
                return UDCS_EUSAGE;
            }
            o->dir = v;
        } else if (option_value(argc, argv, &i, "--targets", &v)) {
            if (!v || !*v) {
                udcs_log_error("--targets needs a list, e.g. --targets x86_64-linux,aarch64-linux");
                return UDCS_EUSAGE;
            }
            o->targets = v;
        } else if (option_value(argc, argv, &i, "--build-dir", &v)) {
            if (!v || !*v) {
                udcs_log_error("--build-dir needs a directory");
                return UDCS_EUSAGE;
            }
            o->build_dir = v;
        } else if (option_value(argc, argv, &i, "--parallel", &parallel) ||
                   option_value(argc, argv, &i, "-j", &parallel) ||
                   (strncmp(a, "-j", 2) == 0 && (parallel = a + 2))) {
            char *end = NULL;
            errno = 0;
            unsigned long n = parallel ? strtoul(parallel, &end, 10) : 0;
            if (!parallel || !*parallel || *end || errno || n == 0 || n > PROJECT_MAX_PARALLEL) {
                udcs_log_error("%s needs a number of jobs from 1 to %d", a,
                               PROJECT_MAX_PARALLEL);
                return UDCS_EUSAGE;
            }
            o->parallel = (unsigned)n;
        } else if (a[0] == '-') {
            udcs_log_error("unknown option '%s' for --project; it takes --targets LIST, "
                           "--parallel N, --build-dir DIR, --json, and the build's own "
                           "arguments after '--'", a);
            return UDCS_EUSAGE;
        } else {
            udcs_log_error("unexpected argument '%s'; arguments for the build go after '--'", a);
            return UDCS_EUSAGE;
        }
    }
    if (!o->dir) {
        udcs_log_error("--project needs the project's directory");
        return UDCS_EUSAGE;
    }
    if (!o->targets) {
        udcs_log_error("--project needs --targets, e.g. --targets x86_64-linux,aarch64-linux");
        return UDCS_EUSAGE;
    }
    return 0;
}

/* Split the target list into `runs` (duplicates dropped). Returns how many, or
 * UDCS_EUSAGE after naming the unknown ones and the known ones. */
static int parse_targets(const char *list, struct target_run *runs, size_t max)
{
    char *copy = strdup(list);
    if (!copy)
        return -ENOMEM;
    size_t n = 0;
    struct udcs_buf unknown = UDCS_BUF_INIT(4096);
    char *save = NULL;
    for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        const struct target_def *def = NULL;
        for (size_t i = 0; i < N_TARGET_DEFS && !def; i++)
            if (strcmp(target_defs[i].name, w) == 0)
                def = &target_defs[i];
        if (!def) {
            udcs_buf_appendf(&unknown, "%s'%s'", unknown.len ? ", " : "", w);
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= runs[i].def == def;
        if (!dup && n < max)
            runs[n++].def = def;
    }
    free(copy);
    int rc = (int)n;
    if (unknown.len || n == 0) {
        struct udcs_buf known = UDCS_BUF_INIT(4096);
        for (size_t i = 0; i < N_TARGET_DEFS; i++)
            udcs_buf_appendf(&known, "%s%s", i ? ", " : "", target_defs[i].name);
        if (unknown.len)
            udcs_log_error("unknown target%s %s; known targets: %s",
                           strchr(unknown.data, ',') ? "s" : "", unknown.data, known.data);
        else
            udcs_log_error("--targets names no target; known targets: %s", known.data);
        udcs_buf_release(&known);
        rc = UDCS_EUSAGE;
    }
    udcs_buf_release(&unknown);
    return rc;
}

/* ---- what to build with ------------------------------------------------------------------ */

/* Which build system DIR uses. BS_NONE after saying why nothing can be built. */
static enum build_system detect_build_system(const char *dir)
{
    if (file_exists(dir, "CMakeLists.txt"))
        return BS_CMAKE;
    if (file_exists(dir, "meson.build"))
        return BS_MESON;
    if (file_exists(dir, "configure"))
        return BS_CONFIGURE;
    if (file_exists(dir, "configure.ac") || file_exists(dir, "configure.in")) {
        udcs_log_error("%s has configure.ac but no configure script; run 'autoreconf -i' "
                       "there first (Debian: apt-get install autoconf automake libtool)", dir);
        return BS_NONE;
    }
    if (file_exists(dir, "GNUmakefile") || file_exists(dir, "makefile") ||
        file_exists(dir, "Makefile"))
        return BS_MAKE;
    udcs_log_error("no build system found in %s: expected CMakeLists.txt, meson.build, "
                   "configure (or configure.ac), or a Makefile", dir);
    return BS_NONE;
}

/* The programs the build system needs. 0, or UDCS_EUSAGE after naming what to install. */
static int check_build_tools(enum build_system bs)
{
    const char *missing = NULL, *deb = NULL;
    if (bs == BS_CMAKE && !is_on_path("cmake"))
        missing = "cmake", deb = "cmake";
    else if (bs == BS_MESON && !is_on_path("meson"))
        missing = "meson", deb = "meson ninja-build";
    else if (bs == BS_MESON && !is_on_path("ninja"))
        missing = "ninja", deb = "ninja-build";
    /* CMake's default generator is Unix Makefiles; CMAKE_GENERATOR may name another */
    const char *generator = getenv("CMAKE_GENERATOR");
    int needs_make = bs == BS_CONFIGURE || bs == BS_MAKE ||
                     (bs == BS_CMAKE && (!generator || !*generator));
    if (!missing && needs_make && !is_on_path("make"))
        missing = "make", deb = "make";
    if (!missing)
        return 0;
    udcs_log_error("the project uses %s, but %s is not on PATH; install %s", bs_titles[bs],
                   missing, deb);
    return UDCS_EUSAGE;
}

/* Pick the target's compilers, or refuse the target saying what to install. A target the
 * host runs natively uses plain gcc/g++ when present. The C++ compiler is not required:
 * many projects are C only; when a build fails without it, the reason says so. */
static void choose_compilers(struct target_run *r, const char *host_machine)
{
    const struct target_def *d = r->def;
    if (d->refusal) {
        snprintf(r->reason, sizeof(r->reason), "%s", d->refusal);
        r->state = RUN_REFUSED;
        return;
    }
    r->is_native = d->machine && strcmp(d->machine, host_machine) == 0;
    char cross_cc[PROJECT_NAME_MAX];
    snprintf(cross_cc, sizeof(cross_cc), "%s-gcc", d->triplet);
    if (r->is_native && is_on_path("gcc")) {
        snprintf(r->cc, sizeof(r->cc), "gcc");
        snprintf(r->cxx, sizeof(r->cxx), "g++");
    } else if (is_on_path(cross_cc)) {
        snprintf(r->cc, sizeof(r->cc), "%s", cross_cc);
        snprintf(r->cxx, sizeof(r->cxx), "%s-g++", d->triplet);
    } else {
        snprintf(r->reason, sizeof(r->reason), "no %s%s on PATH; install %s",
                 r->is_native ? "gcc or " : "", cross_cc, r->is_native ? "gcc" : d->gcc_deb);
        r->state = RUN_REFUSED;
        return;
    }
    r->has_cxx = is_on_path(r->cxx);
}

/* ---- running the build ------------------------------------------------------------------- */

/* Ctrl-C reaches our process group only: the build runs in its own (common/proc.c), so
 * the signal is passed on to it. The handler can only see a process-wide object, hence
 * this one exception to keeping state in structs. */
static struct udcs_proc *volatile running_build;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
    struct udcs_proc *p = running_build;
    if (p)
        udcs_proc_signal(p, sig);
}

/* What every step of a project shares. */
struct project {
    const struct cc_settings *set;
    struct project_opts opts;
    enum build_system bs;
    char *dir;                 /* canonical project directory */
    char *build_base;          /* canonical: each target builds in build_base/TARGET */
    char *launcher;            /* udcs-compile */
    char *exclude_top;         /* plain Make: the top-level entry of dir holding the build
                                * base, which the copy skips (as it skips build-udcs) */
};

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
            strv_add(env, *e);
    }
    strv_addf(env, "UDCS_JOB_STATS=%s", r->stats_path);
    strv_addf(env, "UDCS_CACHE_DIR=%s", pj->set->cache_dir);
    if (pj->set->farm && *pj->set->farm)
        strv_addf(env, "UDCS_FARM=%s", pj->set->farm);
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
            if (!is_on_path(name))
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
    strv_add(&argv, "cp");
    strv_add(&argv, "-af");
    strv_add(&argv, "--");
    size_t first = argv.n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, PROJECT_BUILD_SUBDIR) == 0 ||
            (pj->exclude_top && strcmp(e->d_name, pj->exclude_top) == 0))
            continue;
        strv_addf(&argv, "%s/%s", pj->dir, e->d_name);
    }
    closedir(d);
    int rc = 0;
    if (argv.failed) {
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        rc = -1;
    } else if (argv.n > first) {
        strv_addf(&argv, "%s/", r->work_dir);
        rc = argv.failed ? -1 : run_step(r, log_fd, env, argv.v, pj->dir);
    }
    strv_release(&argv);
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
        strv_add(&a, "cmake");
        strv_addf(&a, "-S%s", pj->dir);
        strv_addf(&a, "-B%s", r->build_dir);
        strv_addf(&a, "-DCMAKE_C_COMPILER=%s", r->cc);
        strv_addf(&a, "-DCMAKE_CXX_COMPILER=%s", r->cxx);
        strv_addf(&a, "-DCMAKE_C_COMPILER_LAUNCHER=%s", pj->launcher);
        strv_addf(&a, "-DCMAKE_CXX_COMPILER_LAUNCHER=%s", pj->launcher);
        if (!r->is_native) {
            char pkgconfig[PROJECT_NAME_MAX];
            strv_addf(&a, "-DCMAKE_SYSTEM_NAME=%s", d->system);
            strv_addf(&a, "-DCMAKE_SYSTEM_PROCESSOR=%s", d->cpu);
            snprintf(pkgconfig, sizeof(pkgconfig), "%s-pkg-config", d->triplet);
            if (is_on_path(pkgconfig))
                strv_addf(&a, "-DPKG_CONFIG_EXECUTABLE=%s", pkgconfig);
        }
        for (int i = 0; i < o->n_build_args; i++)
            strv_add(&a, o->build_args[i]);
        strv_add(&b, "cmake");
        strv_add(&b, "--build");
        strv_add(&b, r->build_dir);
        strv_addf(&b, "-j%u", o->parallel);
        break;
    case BS_MESON:
        if (write_meson_file(pj, r, ini, sizeof(ini)) < 0)
            return -1;
        strv_add(&a, "meson");
        strv_add(&a, "setup");
        if (file_exists(r->build_dir, "meson-private/coredata.dat"))
            strv_add(&a, "--reconfigure");
        strv_add(&a, r->is_native ? "--native-file" : "--cross-file");
        strv_add(&a, ini);
        for (int i = 0; i < o->n_build_args; i++)
            strv_add(&a, o->build_args[i]);
        strv_add(&a, r->build_dir);
        strv_add(&a, pj->dir);
        a_cwd = pj->dir;
        strv_add(&b, "ninja");
        strv_add(&b, "-C");
        strv_add(&b, r->build_dir);
        strv_addf(&b, "-j%u", o->parallel);
        break;
    case BS_CONFIGURE: {
        char configure[PATH_MAX];
        snprintf(configure, sizeof(configure), "%s/configure", pj->dir);
        if (access(configure, X_OK) != 0)
            strv_add(&a, "sh");   /* a configure that lost its x bit still runs */
        strv_add(&a, configure);
        if (!r->is_native)
            strv_addf(&a, "--host=%s", d->triplet);
        strv_addf(&a, "CC=%s %s", pj->launcher, r->cc);
        strv_addf(&a, "CXX=%s %s", pj->launcher, r->cxx);
        for (int i = 0; i < o->n_build_args; i++)
            strv_add(&a, o->build_args[i]);
        strv_add(&b, "make");
        strv_addf(&b, "-j%u", o->parallel);
        break;
    }
    case BS_MAKE:
        if (copy_tree(pj, r, log_fd, env) < 0)
            return -1;
        strv_add(&b, "make");
        strv_add(&b, "-C");
        strv_add(&b, r->work_dir);
        strv_addf(&b, "-j%u", o->parallel);
        strv_addf(&b, "CC=%s %s", pj->launcher, r->cc);
        strv_addf(&b, "CXX=%s %s", pj->launcher, r->cxx);
        if (!r->is_native) {
            static const char *const tools[][2] = { { "AR", "ar" }, { "RANLIB", "ranlib" },
                                                    { "STRIP", "strip" } };
            for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
                char name[PROJECT_NAME_MAX];
                snprintf(name, sizeof(name), "%s-%s", d->triplet, tools[i][1]);
                if (is_on_path(name))
                    strv_addf(&b, "%s=%s", tools[i][0], name);
            }
        }
        for (int i = 0; i < o->n_build_args; i++)
            strv_add(&b, o->build_args[i]);
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
    strv_release(&a);
    strv_release(&b);
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

static uint64_t stat_hits(const struct cc_stats *s)
{
    return s->v[CC_STAT_DIRECT_HITS] + s->v[CC_STAT_PREPROCESSED_HITS] +
           s->v[CC_STAT_REMOTE_HITS];
}

/* Prepare the target's directory and counters, build, and read the counters back. */
static void run_target(const struct project *pj, struct target_run *r)
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
            bs_titles[pj->bs], r->work_dir, r->cc, pj->opts.parallel);
    struct strv env = { 0 };
    char **envp = build_env(pj, r, &env);
    if (!envp) {
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        rc = -1;
    } else {
        rc = build_target(pj, r, log_fd, envp);
    }
    strv_release(&env);
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
    uint64_t objects = stat_hits(&r->stats) + r->stats.v[CC_STAT_MISSES];
    if (rc == 0) {
        r->state = RUN_BUILT;
        fprintf(stderr, "udcs-compile: %s: built in %.1f s: %llu objects, %llu cache hits\n",
                name, (double)r->wall_ms / 1000.0, (unsigned long long)objects,
                (unsigned long long)stat_hits(&r->stats));
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

/* ---- the summary -------------------------------------------------------------------------- */

static int print_json(const struct project *pj, const struct target_run *runs, size_t n)
{
    json_t *top = json_object(), *list = json_array();
    json_object_set_new(top, "project", json_string(pj->dir));
    json_object_set_new(top, "build_system", json_string(bs_names[pj->bs]));
    if (pj->build_base)
        json_object_set_new(top, "build_base", json_string(pj->build_base));
    json_object_set_new(top, "parallel", json_integer((json_int_t)pj->opts.parallel));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const struct target_run *r = &runs[i];
        const struct cc_stats *s = &r->stats;
        json_t *t = json_object();
        bad += r->state != RUN_BUILT;
        json_object_set_new(t, "target", json_string(r->def->name));
        json_object_set_new(t, "compiler", r->cc[0] ? json_string(r->cc) : json_null());
        json_object_set_new(t, "state", json_string(state_names[r->state]));
        if (r->state != RUN_BUILT)
            json_object_set_new(t, "reason", json_string(r->reason));
        json_object_set_new(t, "objects",
                            json_integer((json_int_t)(stat_hits(s) + s->v[CC_STAT_MISSES])));
        json_object_set_new(t, "hits", json_integer((json_int_t)stat_hits(s)));
        json_object_set_new(t, "misses", json_integer((json_int_t)s->v[CC_STAT_MISSES]));
        json_object_set_new(t, "remote_compiles",
                            json_integer((json_int_t)s->v[CC_STAT_REMOTE_COMPILES]));
        json_object_set_new(t, "calls", json_integer((json_int_t)s->v[CC_STAT_CALLS]));
        json_object_set_new(t, "wall_ms", json_integer((json_int_t)r->wall_ms));
        if (r->state != RUN_REFUSED) {
            json_object_set_new(t, "build_dir", json_string(r->build_dir));
            json_object_set_new(t, "work_dir", json_string(r->work_dir));
            json_object_set_new(t, "log", json_string(r->log_path));
        }
        json_array_append_new(list, t);
    }
    json_object_set_new(top, "targets", list);
    json_object_set_new(top, "ok", json_boolean(bad == 0));
    char *text = json_dumps(top, JSON_INDENT(2));
    json_decref(top);
    if (!text) {
        udcs_log_error("cannot write the summary: out of memory");
        return -ENOMEM;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_table(const struct target_run *runs, size_t n)
{
    printf("%-15s %-24s %-8s %8s %8s %8s %9s\n", "target", "compiler", "state", "objects",
           "hits", "remote", "time");
    for (size_t i = 0; i < n; i++) {
        const struct target_run *r = &runs[i];
        const struct cc_stats *s = &r->stats;
        if (r->state == RUN_REFUSED) {
            printf("%-15s %-24s %-8s %8s %8s %8s %9s\n", r->def->name, r->cc[0] ? r->cc : "-",
                   state_names[r->state], "-", "-", "-", "-");
            continue;
        }
        char t[32];
        snprintf(t, sizeof(t), "%.1fs", (double)r->wall_ms / 1000.0);
        printf("%-15s %-24s %-8s %8llu %8llu %8llu %9s\n", r->def->name, r->cc,
               state_names[r->state],
               (unsigned long long)(stat_hits(s) + s->v[CC_STAT_MISSES]),
               (unsigned long long)stat_hits(s),
               (unsigned long long)s->v[CC_STAT_REMOTE_COMPILES], t);
    }
    for (size_t i = 0; i < n; i++)
        if (runs[i].state == RUN_REFUSED || runs[i].state == RUN_FAILED)
            printf("%s %s: %s\n", runs[i].def->name, state_names[runs[i].state],
                   runs[i].reason);
}

/* ---- the command -------------------------------------------------------------------------- */

/* Where each target builds, and which top-level entry the Make copy leaves out. */
static int plan_dirs(struct project *pj, struct target_run *runs, size_t n)
{
    if (pj->opts.build_dir) {
        pj->build_base = absolute_dir("--build-dir", pj->opts.build_dir, 1);
    } else {
        char *base = udcs_path_join(pj->dir, PROJECT_BUILD_SUBDIR);
        pj->build_base = base ? absolute_dir("build directory", base, 1) : NULL;
        free(base);
    }
    if (!pj->build_base)
        return UDCS_EUSAGE;
    size_t dlen = strlen(pj->dir);
    if (strcmp(pj->build_base, pj->dir) == 0) {
        udcs_log_error("--build-dir is the project itself (%s); choose a directory of its own",
                       pj->dir);
        return UDCS_EUSAGE;
    }
    if (strncmp(pj->build_base, pj->dir, dlen) == 0 && pj->build_base[dlen] == '/') {
        const char *top = pj->build_base + dlen + 1;
        pj->exclude_top = strndup(top, strcspn(top, "/"));
        if (!pj->exclude_top)
            return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct target_run *r = &runs[i];
        r->build_dir = udcs_path_join(pj->build_base, r->def->name);
        r->work_dir = pj->bs == BS_MAKE && r->build_dir
                          ? udcs_path_join(r->build_dir, PROJECT_MAKE_COPY)
                          : (r->build_dir ? strdup(r->build_dir) : NULL);
        r->log_path = r->build_dir ? udcs_path_join(r->build_dir, PROJECT_LOG_NAME) : NULL;
        r->stats_path = r->build_dir ? udcs_path_join(r->build_dir, PROJECT_STATS_NAME) : NULL;
        if (!r->build_dir || !r->work_dir || !r->log_path || !r->stats_path)
            return -ENOMEM;
    }
    return 0;
}

int cc_project_main(const struct cc_settings *set, int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            project_usage(stdout);
            return UDCS_EXIT_OK;
        }
    }
    struct project pj = { .set = set };
    struct target_run runs[N_TARGET_DEFS];
    memset(runs, 0, sizeof(runs));
    int status = UDCS_EXIT_USAGE;
    size_t n = 0;
    if (parse_opts(argc, argv, &pj.opts) < 0)
        return UDCS_EXIT_USAGE;
    int rc = parse_targets(pj.opts.targets, runs, N_TARGET_DEFS);
    if (rc < 0)
        return UDCS_EXIT_USAGE;
    n = (size_t)rc;
    pj.dir = absolute_dir("--project", pj.opts.dir, 0);
    if (!pj.dir)
        goto out;
    pj.bs = detect_build_system(pj.dir);
    status = UDCS_EXIT_FAILED;
    if (pj.bs == BS_NONE || check_build_tools(pj.bs) < 0)
        goto out;
    pj.launcher = launcher_path();
    if (!pj.launcher) {
        udcs_log_error("cannot find this program's path in /proc/self/exe: %s",
                       strerror(errno));
        goto out;
    }
    struct utsname host;
    if (uname(&host) < 0)
        snprintf(host.machine, sizeof(host.machine), "unknown");
    size_t buildable = 0;
    for (size_t i = 0; i < n; i++) {
        choose_compilers(&runs[i], host.machine);
        if (runs[i].state == RUN_REFUSED)
            fprintf(stderr, "udcs-compile: %s: refused: %s\n", runs[i].def->name,
                    runs[i].reason);
        else
            buildable++;
    }
    if (buildable && (rc = plan_dirs(&pj, runs, n)) < 0) {
        if (rc != UDCS_EUSAGE)
            udcs_log_error("cannot plan the build directories: %s", udcs_strerror(rc));
        status = rc == UDCS_EUSAGE ? UDCS_EXIT_USAGE : UDCS_EXIT_FAILED;
        goto out;
    }
    fprintf(stderr, "udcs-compile: %s: %s project, %zu of %zu target%s to build\n", pj.dir,
            bs_titles[pj.bs], buildable, n, n == 1 ? "" : "s");

    struct sigaction sa = { .sa_handler = on_signal }, old[3];
    static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) {
        /* a signal ignored when we started (nohup, a background job) stays ignored */
        sigaction(sigs[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (runs[i].state == RUN_REFUSED)
            continue;
        if (interrupted) {
            runs[i].state = RUN_FAILED;
            snprintf(runs[i].reason, sizeof(runs[i].reason), "not started: interrupted");
            continue;
        }
        run_target(&pj, &runs[i]);
    }
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);

    status = UDCS_EXIT_OK;
    for (size_t i = 0; i < n; i++)
        if (runs[i].state != RUN_BUILT)
            status = UDCS_EXIT_FAILED;
    if (pj.opts.as_json) {
        if (print_json(&pj, runs, n) < 0)
            status = UDCS_EXIT_FAILED;
    } else {
        print_table(runs, n);
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(runs[i].build_dir);
        free(runs[i].work_dir);
        free(runs[i].log_path);
        free(runs[i].stats_path);
    }
    free(pj.dir);
    free(pj.build_base);
    free(pj.launcher);
    free(pj.exclude_top);
    return status;
}
