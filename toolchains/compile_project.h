/* toolchains/compile_project.h - what the two halves of udcs-compile --project share:
 * compile_project.c (options, targets, the summary) and compile_project_build.c (running
 * each target's build with its build system). Nothing else includes it. */
#ifndef UDCS_TOOLCHAINS_COMPILE_PROJECT_H
#define UDCS_TOOLCHAINS_COMPILE_PROJECT_H

#include "toolchains/compile.h"

#include <stddef.h>
#include <stdint.h>

#define PROJECT_BUILD_SUBDIR "build-udcs"   /* default build base: DIR/build-udcs/TARGET */
#define PROJECT_STATS_NAME "udcs-stats"     /* per target, in its build directory */
#define PROJECT_LOG_NAME "udcs-build.log"   /* everything the build printed */
#define PROJECT_MAKE_COPY "src"             /* plain Make: the source copy, in the build dir */
#define PROJECT_TAIL_LINES 30               /* of the log, shown when a target fails */
#define PROJECT_TAIL_BYTES 16384            /* read from the log's end to find them */
#define PROJECT_MAX_PARALLEL 4096           /* a sanity bound on --parallel */
#define PROJECT_NAME_MAX 96                 /* longest compiler name we build */

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

enum run_state { RUN_PENDING = 0, RUN_BUILT, RUN_FAILED, RUN_REFUSED };
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
/* Build systems by name, as the summary shows them. */
extern const char *const project_bs_titles[];

/* A NULL-terminated vector of owned strings; an allocation failure is remembered and
 * reported once, by whoever uses the vector. */
struct strv {
    char **v;
    size_t n, cap;
    int failed;
};

struct project_opts {
    const char *dir;
    const char *targets;
    const char *build_dir;
    unsigned parallel;
    int as_json;
    char **build_args;
    int n_build_args;
};

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

/* Argument and environment vectors (compile_project_build.c). */
void project_strv_add(struct strv *s, const char *text);
void project_strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void project_strv_release(struct strv *s);

/* compile_project.c */
int project_is_on_path(const char *name);
int project_file_exists(const char *dir, const char *name);

/* compile_project_build.c: build one target (prepare its directory and counters, run its
 * build system, read the counters back); the signal handler that passes Ctrl-C on to the
 * build; whether one came. */
void project_run_target(const struct project *pj, struct target_run *r);
void project_on_signal(int sig);
int project_interrupted(void);
uint64_t project_stat_hits(const struct cc_stats *s);

#endif
