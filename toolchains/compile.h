/* toolchains/compile.h - udcs-compile: a compiler wrapper that caches objects by content
 * and, with a farm, shares them and compiles misses on agents.
 *
 * The pieces, in the order one call goes through them:
 *   compile_args.c      the gcc/clang command line: what it asks for, whether it can be
 *                       cached (and why not), the arguments that go into the key
 *   compile_compiler.c  finding the real compiler (also behind a masquerade symlink) and
 *                       its identity, remembered by path, size and mtime
 *   compile_depfile.c   reading make-style dependency files (the include list of a miss)
 *   compile_key.c       the keys: the direct-mode manifest key and the result keys
 *   compile_manifest.c  direct mode: which header contents led to which result
 *   compile_stats.c     the counters --show-stats prints, shared by concurrent calls
 *   compile_cache.c     one call: look up, replay a hit, or compile and store
 *   compile_farm.c      udcs-compile-farm only: the shared cache and remote compiles
 *   compile_main.c      the command line of udcs-compile itself
 *
 * udcs-compile links the store and nothing that talks to the network, so a hit costs a few
 * file reads and no shared libraries it does not need. With a farm configured, a call the
 * local store cannot answer continues in udcs-compile-farm (the same code plus libcurl),
 * which the fast binary execs in its place. */
#ifndef UDCS_TOOLCHAINS_COMPILE_H
#define UDCS_TOOLCHAINS_COMPILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cas/cas.h"
#include "common/buf.h"

/* ---- the command line ---------------------------------------------------------------- */

enum cc_lang {
    CC_LANG_NONE = 0,
    CC_LANG_C,          /* c */
    CC_LANG_CXX,        /* c++ */
    CC_LANG_C_I,        /* cpp-output: already preprocessed C */
    CC_LANG_CXX_I,      /* c++-cpp-output */
    CC_LANG_ASM_CPP,    /* assembler-with-cpp (.S, .sx) */
    CC_LANG_OTHER,      /* anything else: not cached */
};

enum cc_family { CC_FAMILY_GCC = 0, CC_FAMILY_CLANG };

enum cc_dep_kind { CC_DEP_NONE = 0, CC_DEP_MD, CC_DEP_MMD };

/* Why a call is not cached. The names are what --show-stats prints. */
enum cc_uncacheable {
    CC_OK = 0,
    CC_UNC_LINK,             /* no -c or -S: linking (or nothing to do) */
    CC_UNC_PREPROCESS,       /* -E, or -M/-MM without -MD/-MMD */
    CC_UNC_NO_SOURCE,        /* no source file named */
    CC_UNC_MULTIPLE_SOURCES,
    CC_UNC_LANGUAGE,         /* a language other than C, C++ or assembler with cpp */
    CC_UNC_STDIN,            /* source or output is "-" */
    CC_UNC_RESPONSE_FILE,    /* an @file that cannot be read */
    CC_UNC_PROFILE,          /* profiling or coverage (-fprofile-*, --coverage, ...) */
    CC_UNC_EXTRA_OUTPUT,     /* outputs beside the object: -save-temps, -gsplit-dwarf, ... */
    CC_UNC_PLUGIN,           /* -fplugin, -Xclang -load */
    CC_UNC_UNSUPPORTED,      /* other options whose effects cannot be captured */
    CC_UNC_SOURCE_MISSING,   /* the source file does not exist */
    CC_UNC_TIME_MACROS,      /* __DATE__/__TIME__/__TIMESTAMP__ in a source or header */
    CC_UNC_COMPILE_FAILED,   /* the compiler failed: errors are never cached */
    CC_UNC_HEADER_CHANGED,   /* an input changed while it was being compiled */
    CC_UNC_COUNT
};
const char *cc_uncacheable_name(enum cc_uncacheable u);

/* One parsed call. Strings point into argv or are owned by the struct (released with
 * cc_args_release); the vectors are NULL-terminated. */
struct cc_args {
    char **argv;                /* the call with response files expanded; argv[0] the compiler */
    int argc;
    enum cc_uncacheable reason; /* CC_OK when cacheable */
    char *detail;               /* the option or file behind `reason`, for the log */

    enum cc_family family;
    enum cc_lang lang;
    int source_index;           /* argv index of the source */
    const char *source;
    char *output;               /* -o's value, or the compiler's default name */
    int explicit_output;        /* -o was given */
    int assemble_only;          /* -S rather than -c */

    enum cc_dep_kind dep;       /* the dependency file the user asked for */
    char *dep_file;             /* where it goes (-MF, -Wp,-MD,FILE, or the default) */
    int dep_via_wp;             /* asked for with -Wp,-MD,FILE / -Wp,-MMD,FILE */
    int dep_targets_given;      /* -MT or -MQ given */
    int dep_file_given;         /* -MF given (else dep_file is the compiler's default) */
    int dep_phony;              /* -MP */

    int debug;                  /* debug information requested (-g, not -g0) */
    int native_cpu;             /* -march=native, -mcpu=native, -mtune=native */
    int remote_ok;              /* an agent compiling the preprocessed text writes the same
                                 * object (see cc_args_parse) */
    int color_set;              /* -f[no-]diagnostics-color / -f[no-]color-diagnostics given */
    char **prefix_maps;         /* "OLD=NEW" of -fdebug-prefix-map / -ffile-prefix-map */
    size_t n_prefix_maps;

    /* Derived argument lists (pointers into argv or owned strings; see compile_args.c):
     *   key_args   what the result depends on: everything but -o and the dependency-file
     *              options, absolute paths under the base directory made relative
     *   cpp_args   compiler argv to preprocess to stdout (-E, no -o, no -c/-S, no -M*)
     *   remote_args arguments that compile the preprocessed source elsewhere: no
     *              preprocessor options, the source and output left for the caller */
    char **key_args;
    size_t n_key_args;
    char **cpp_args;
    size_t n_cpp_args;
    char **remote_args;
    size_t n_remote_args;
    char **dep_args;            /* the dependency options as given (-MD, -MF x, -Wp,-MD,x ...) */
    size_t n_dep_args;

    char **owned;               /* strings allocated while parsing */
    size_t n_owned;
};

/* Parse `argv` (argv[0] the compiler). `basedir` (may be NULL) is UDCS_BASEDIR and `cwd`
 * the working directory, for rewriting absolute paths. Returns 0 (see a->reason for
 * whether the call can be cached) or -ENOMEM. */
int cc_args_parse(int argc, char **argv, const char *cwd, const char *basedir,
                  struct cc_args *a);
void cc_args_release(struct cc_args *a);

/* The language gcc infers from a file name's suffix; CC_LANG_NONE when it is not a
 * source (object files, libraries). */
enum cc_lang cc_lang_of_path(const char *path);

/* ---- the compiler -------------------------------------------------------------------- */

/* A program a gcc driver runs ("cc1", "cc1plus", "as") and the digest of its file. */
struct cc_program {
    char name[16];
    char hex[CAS_HEX_LEN + 1];
};
#define CC_MAX_PROGRAMS 3

struct cc_compiler {
    char *path;                        /* absolute path of the real compiler */
    char *name;                        /* its name as called: "gcc", "x86_64-linux-gnu-g++" */
    char hex[CAS_HEX_LEN + 1];         /* identity: the driver and the programs it runs */
    char driver_hex[CAS_HEX_LEN + 1];  /* digest of the driver file alone (agents' fingerprint) */
    char target[128];                  /* -dumpmachine */
    struct cc_program programs[CC_MAX_PROGRAMS];   /* those of `hex` the driver found (gcc; */
    size_t n_programs;                             /* none for clang), as agents list them */
};

/* Find the real compiler named `name` (a path, or a name looked up in PATH, skipping
 * entries that are this program itself, as a masquerade symlink would be). 0, -ENOENT,
 * or -ELOOP when every match is udcs-compile. */
int cc_compiler_find(const char *name, const char *self_path, char **path_out);
/* The identity of the compiler at `path`, cached in `cache_dir` by path, size, mtime and
 * inode so that only a changed compiler is hashed (and asked for its target) again. */
int cc_compiler_identify(const char *path, const char *name, const char *cache_dir,
                         struct cc_compiler *out);
void cc_compiler_release(struct cc_compiler *c);

/* ---- dependency files ---------------------------------------------------------------- */

/* The prerequisites of a make-style dependency file (targets and phony rules left out),
 * unescaped, sorted, without duplicates. Returns 0, -ENOMEM or UDCS_EPROTO when the text
 * is not a rule. Release with cc_strv_free(). */
int cc_depfile_parse(const char *text, size_t len, char ***deps, size_t *n);
void cc_strv_free(char **v, size_t n);

/* The files a preprocessed output came from, from its line markers ("# 12 "a.h" 2"),
 * without the pseudo-files "<built-in>" and "<command-line>". Same contract. */
int cc_linemarker_files(const char *text, size_t len, char ***files, size_t *n);

/* ---- keys ----------------------------------------------------------------------------- */

/* Sloppiness: risks the user accepts (UDCS_SLOPPINESS, comma-separated names). */
enum {
    CC_SLOPPY_TIME_MACROS = 1 << 0,     /* cache sources using __DATE__/__TIME__ */
    CC_SLOPPY_SYSTEM_HEADERS = 1 << 1,  /* with -MMD, do not watch system include dirs */
    CC_SLOPPY_INCLUDE_MTIME = 1 << 2,   /* accept headers modified during the compile */
};
int cc_sloppiness_parse(const char *text, unsigned *out);

/* The part of every key that does not depend on the source: compiler identity, key
 * arguments, relevant environment, working directory when debug information records
 * it, the CPU for -march=native. Hashed into `h`. */
struct cc_call;
void cc_key_common(const struct cc_call *call, struct cas_hasher *h);

/* ---- counters ----------------------------------------------------------------------- */

enum cc_stat {
    CC_STAT_CALLS = 0,
    CC_STAT_DIRECT_HITS,
    CC_STAT_PREPROCESSED_HITS,
    CC_STAT_REMOTE_HITS,         /* answered by the farm's cache */
    CC_STAT_MISSES,
    CC_STAT_REMOTE_COMPILES,     /* misses compiled on an agent */
    CC_STAT_LOCAL_FALLBACKS,     /* meant for the farm, compiled here after all; one of: */
    CC_STAT_ERRORS,              /* our own failures; the compiler ran unchanged */
    CC_STAT_FALLBACK_FARM_DOWN,  /* the master did not answer, now or in the last minute */
    CC_STAT_FALLBACK_NO_AGENT,   /* no agent has this compiler, or none took the unit soon */
    CC_STAT_FALLBACK_REMOTE_FAILED, /* the remote compile failed, was noisy or too slow */
    CC_STAT_FIXED_COUNT
};
#define CC_STAT_COUNT (CC_STAT_FIXED_COUNT + CC_UNC_COUNT)
/* The counter of an uncacheable reason. */
#define CC_STAT_UNCACHEABLE(u) (CC_STAT_FIXED_COUNT + (int)(u))

struct cc_stats { uint64_t v[CC_STAT_COUNT]; };

const char *cc_stat_name(int index);
/* Add `delta` to the counters in the file at `path` (created as needed; concurrent
 * callers serialized with a lock). Failures are only logged: stats never fail a build. */
void cc_stats_add(const char *path, const struct cc_stats *delta);
int cc_stats_read(const char *path, struct cc_stats *out);
int cc_stats_zero(const char *path);

/* ---- one call -------------------------------------------------------------------------- */

enum cc_mode { CC_MODE_DIRECT = 0, CC_MODE_PREPROCESSOR };

/* Settings of one call (environment, config file, defaults). */
struct cc_settings {
    const char *cache_dir;       /* the store (shared with the other UDCS tools) */
    uint64_t max_size;
    const char *farm;            /* UDCS_FARM: master URL; NULL: none */
    const char *token_file;
    const char *basedir;
    const char *logfile;
    unsigned sloppiness;
    enum cc_mode mode;
    int disable;                 /* UDCS_DISABLE: run the compiler, nothing else */
    int remote_only;             /* UDCS_REMOTE_ONLY: no local compile slots */
    int local_only;              /* UDCS_LOCAL_ONLY: never compile on agents */
    unsigned local_slots;        /* compiles at once on this machine (default: cores) */
    uint64_t remote_timeout_ms;  /* longest wait for an agent's compile */
    uint64_t farm_timeout_ms;    /* UDCS_FARM_TIMEOUT: longest wait for one answer of the
                                  * master (to connect, with nothing moving, in all) */
    const char *job_stats;       /* UDCS_JOB_STATS: a second counters file (project mode) */
    enum cc_ship { CC_SHIP_AUTO = 0, CC_SHIP_ALWAYS, CC_SHIP_NEVER } ship;
                                 /* UDCS_SHIP_TOOLCHAIN: send this compiler to agents */
};

/* What one call knows; shared by the cache and the farm code. */
struct cc_call {
    const struct cc_settings *set;
    struct cc_args args;
    struct cc_compiler compiler;
    char cwd[4096];
    struct cas_store *store;
    struct cas *cas;             /* udcs-compile-farm: local store + the farm's store */
    struct cc_stats stats;       /* this call's counts, added to the files at the end */
    uint64_t start_ns;           /* wall clock at the start, for "modified too recently" */
    int color;                   /* stderr is a terminal: the compiler is asked for colour */
    struct cas_digest direct_key;
    int have_direct_key;
    struct cas_digest cpp_key;   /* preprocessor mode: the key of the preprocessed text */
    int have_cpp_key;
    char *stats_path;
};

/* How udcs-compile-farm continues a call the local store could not answer. */
struct cc_farm_ops {
    /* Look a key up in the farm's cache; 1 found (copied into the local store), 0 not. */
    int (*ac_get)(struct cc_call *call, const struct cas_digest *key,
                  struct cas_action_result *out);
    /* Copy a result and its blobs to the farm's cache. */
    void (*ac_put)(struct cc_call *call, const struct cas_digest *key,
                   const struct cas_action_result *r);
    /* A miss: compile on an agent or here (using a local slot), store, and write the
     * outputs. Returns the compiler's exit status, or a negative code when nothing ran. */
    int (*miss)(struct cc_call *call, char **argv, int argc);
};

/* Run one compiler call: answer from the cache, or compile (with `farm`, possibly on an
 * agent) and store. Returns the exit status the compiler had (or would have had). */
int cc_call_run(const struct cc_settings *set, const char *self_path, int argc, char **argv,
                const struct cc_farm_ops *farm);

/* udcs-compile --project DIR --targets LIST [--parallel N] [-- BUILD ARGS]
 * (compile_project.c): argv holds the command's arguments, --project among them, in any
 * order up to "--". Returns an exit status. */
int cc_project_main(const struct cc_settings *set, int argc, char **argv);

/* Where the counters of a cache live. Caller frees. */
char *cc_stats_path(const char *cache_dir);

#endif
