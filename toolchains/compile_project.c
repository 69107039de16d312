/* toolchains/compile_project.c - udcs-compile --project: build one source tree for several
 * targets (x86_64-linux, aarch64-linux, x86_64-windows, ...) with Debian's cross
 * compilers, each target in its own build directory with udcs-compile as the compiler
 * launcher, then say per target what the cache did. This file reads the options, finds
 * the build system and the targets' compilers, and prints the summary; running one
 * target's build is compile_project_build.c's. The compile calls themselves are
 * compile_cache.c's, and they add their counters to the target's file through
 * UDCS_JOB_STATS. */
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

/* ---- targets ---------------------------------------------------------------------------- */

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

static const char *const state_names[] = { "pending", "built", "failed", "refused" };

static const char *const bs_names[] = { "none", "cmake", "meson", "autotools", "make" };
const char *const project_bs_titles[] = { "", "CMake", "Meson", "autotools (configure)",
                                         "Make" };

/* ---- small helpers ------------------------------------------------------------------------- */

/* Whether `name` is an executable file in a PATH directory. */
int project_is_on_path(const char *name)
{
    char *path = NULL;
    int found = cc_compiler_find(name, NULL, &path) == 0;
    free(path);
    return found;
}

int project_file_exists(const char *dir, const char *name)
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
    if (project_file_exists(dir, "CMakeLists.txt"))
        return BS_CMAKE;
    if (project_file_exists(dir, "meson.build"))
        return BS_MESON;
    if (project_file_exists(dir, "configure"))
        return BS_CONFIGURE;
    if (project_file_exists(dir, "configure.ac") || project_file_exists(dir, "configure.in")) {
        udcs_log_error("%s has configure.ac but no configure script; run 'autoreconf -i' "
                       "there first (Debian: apt-get install autoconf automake libtool)", dir);
        return BS_NONE;
    }
    if (project_file_exists(dir, "GNUmakefile") || project_file_exists(dir, "makefile") ||
        project_file_exists(dir, "Makefile"))
        return BS_MAKE;
    udcs_log_error("no build system found in %s: expected CMakeLists.txt, meson.build, "
                   "configure (or configure.ac), or a Makefile", dir);
    return BS_NONE;
}

/* The programs the build system needs. 0, or UDCS_EUSAGE after naming what to install. */
static int check_build_tools(enum build_system bs)
{
    const char *missing = NULL, *deb = NULL;
    if (bs == BS_CMAKE && !project_is_on_path("cmake"))
        missing = "cmake", deb = "cmake";
    else if (bs == BS_MESON && !project_is_on_path("meson"))
        missing = "meson", deb = "meson ninja-build";
    else if (bs == BS_MESON && !project_is_on_path("ninja"))
        missing = "ninja", deb = "ninja-build";
    /* CMake's default generator is Unix Makefiles; CMAKE_GENERATOR may name another */
    const char *generator = getenv("CMAKE_GENERATOR");
    int needs_make = bs == BS_CONFIGURE || bs == BS_MAKE ||
                     (bs == BS_CMAKE && (!generator || !*generator));
    if (!missing && needs_make && !project_is_on_path("make"))
        missing = "make", deb = "make";
    if (!missing)
        return 0;
    udcs_log_error("the project uses %s, but %s is not on PATH; install %s", project_bs_titles[bs],
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
    if (r->is_native && project_is_on_path("gcc")) {
        snprintf(r->cc, sizeof(r->cc), "gcc");
        snprintf(r->cxx, sizeof(r->cxx), "g++");
    } else if (project_is_on_path(cross_cc)) {
        snprintf(r->cc, sizeof(r->cc), "%s", cross_cc);
        snprintf(r->cxx, sizeof(r->cxx), "%s-g++", d->triplet);
    } else {
        snprintf(r->reason, sizeof(r->reason), "no %s%s on PATH; install %s",
                 r->is_native ? "gcc or " : "", cross_cc, r->is_native ? "gcc" : d->gcc_deb);
        r->state = RUN_REFUSED;
        return;
    }
    r->has_cxx = project_is_on_path(r->cxx);
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
                            json_integer((json_int_t)(project_stat_hits(s) + s->v[CC_STAT_MISSES])));
        json_object_set_new(t, "hits", json_integer((json_int_t)project_stat_hits(s)));
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
               (unsigned long long)(project_stat_hits(s) + s->v[CC_STAT_MISSES]),
               (unsigned long long)project_stat_hits(s),
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
            project_bs_titles[pj.bs], buildable, n, n == 1 ? "" : "s");

    struct sigaction sa = { .sa_handler = project_on_signal }, old[3];
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
        if (project_interrupted()) {
            runs[i].state = RUN_FAILED;
            snprintf(runs[i].reason, sizeof(runs[i].reason), "not started: interrupted");
            continue;
        }
        project_run_target(&pj, &runs[i]);
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
