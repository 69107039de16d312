/* toolchains/compile_main.c - the udcs-compile command (and udcs-compile-farm, the same
 * program with the farm code linked in).
 *
 *   udcs-compile gcc -c a.c -o a.o        a compiler call (also as CMake's launcher)
 *   gcc -c a.c                            the same through a masquerade symlink named gcc
 *   udcs-compile --show-stats [--json]    and the other cache commands (--help lists them)
 *
 * A compiler call reads its settings from the environment and the config file only:
 * every argument belongs to the compiler. */
#include "toolchains/compile.h"
#include "toolchains/compile_farm.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "common/fs.h"
#include "common/units.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_REMOTE_TIMEOUT_S "120"
/* A compile takes seconds; a wrapper that waits longer than that for a master that does
 * not answer is slower than the compiler it wraps. */
#define DEFAULT_FARM_TIMEOUT_S "5"

static const struct udcs_setting settings[] = {
    /*           name            flag           env                   key                     default            type    help */
    UDCS_SETTING(cache_dir,      "--cache-dir", "UDCS_CACHE_DIR",     "cas.dir",              "~/.cache/udcs",   PATH,   "the local store (shared with the other UDCS tools)"),
    UDCS_SETTING(max_size,       NULL,          "UDCS_MAXSIZE",       "compile.max_size",     "5G",              SIZE,   "bytes the local store keeps (--max-size sets it for this store)"),
    UDCS_SETTING(farm,           "--farm",      "UDCS_FARM",          "compile.farm",         NULL,              STRING, "the farm master, http://HOST:PORT: shared cache and remote compiles"),
    UDCS_SETTING(token_file,     NULL,          "UDCS_TOKEN_FILE",    "farm.token_file",      NULL,              PATH,   "file holding the farm's client token"),
    UDCS_SETTING(basedir,        NULL,          "UDCS_BASEDIR",       "compile.basedir",      NULL,              PATH,   "absolute paths below it are keyed relative to the working directory"),
    UDCS_SETTING(logfile,        NULL,          "UDCS_LOGFILE",       "compile.logfile",      NULL,              PATH,   "where udcs-compile logs what it does (nothing goes to stderr)"),
    UDCS_SETTING(log_level,      "--log-level", "UDCS_LOG_LEVEL",     "log.level",            "info",            STRING, "error, warn, info or debug (in the log file)"),
    UDCS_SETTING(sloppiness,     NULL,          "UDCS_SLOPPINESS",    "compile.sloppiness",   "",                STRING, "risks you accept: time_macros, system_headers, include_file_mtime"),
    UDCS_SETTING(mode,           NULL,          "UDCS_MODE",          "compile.mode",         "direct",          STRING, "direct (manifests of included files) or preprocessor"),
    UDCS_SETTING(disable,        NULL,          "UDCS_DISABLE",       "compile.disable",      "false",           BOOL,   "run the compiler and nothing else"),
    UDCS_SETTING(remote_only,    NULL,          "UDCS_REMOTE_ONLY",   "compile.remote_only",  "false",           BOOL,   "send every miss to the farm first (no local slots)"),
    UDCS_SETTING(local_only,     NULL,          "UDCS_LOCAL_ONLY",    "compile.local_only",   "false",           BOOL,   "never compile on agents (the farm's cache is still used)"),
    UDCS_SETTING(local_slots,    NULL,          "UDCS_LOCAL_SLOTS",   "compile.local_slots",  NULL,              UINT,   "compiles at once on this machine before misses go to agents (default: cores)"),
    UDCS_SETTING(remote_timeout, NULL,          "UDCS_REMOTE_TIMEOUT","compile.remote_timeout", DEFAULT_REMOTE_TIMEOUT_S, UINT, "seconds a remote compile may take before it is done here"),
    UDCS_SETTING(farm_timeout,   NULL,          "UDCS_FARM_TIMEOUT",  "compile.farm_timeout", DEFAULT_FARM_TIMEOUT_S, UINT, "seconds to wait for one answer of the farm's master before compiling here"),
    UDCS_SETTING(ship_toolchain, NULL,          "UDCS_SHIP_TOOLCHAIN","compile.ship_toolchain", "auto",          STRING, "auto (to agents without this compiler), always, or never"),
    UDCS_SETTING(job_stats,      NULL,          "UDCS_JOB_STATS",     NULL,                   NULL,              PATH,   "a second counters file (udcs-compile --project uses it per target)"),
};

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-compile COMPILER [ARGS...]      compile through the cache\n"
            "       udcs-compile [OPTIONS]                the cache itself\n"
            "\n"
            "  COMPILER is gcc, g++, clang, clang++, cc, a cross compiler or a path. As a\n"
            "  masquerade, a symlink named like a compiler (gcc -> udcs-compile) placed first\n"
            "  on PATH works too; the real compiler is the next one on PATH.\n"
            "\n"
            "options:\n"
            "  -s, --show-stats [--json]    calls, hits, misses, remote compiles, uncacheable\n"
            "                               calls by reason, cache size\n"
            "  -z, --zero-stats             set the counters to zero\n"
            "  -C, --clear                  remove every cached object and result\n"
            "  -M, --max-size SIZE          keep at most SIZE in this store (5G, 500M)\n"
            "  --project DIR --targets LIST [--parallel N] [--build-dir DIR] [--json] [-- ARGS]\n"
            "                               build a Make, CMake, Meson or autotools project once\n"
            "                               per target (x86_64-linux, aarch64-linux, arm-linux,\n"
            "                               riscv64-linux, x86_64-windows, i686-windows) through\n"
            "                               the cache, and print a summary per target\n"
            "  -V, --version                the version\n"
            "  -h, --help                   this help\n"
            "  --print-config               every setting, its value and where it came from\n"
            "\n"
            "settings (environment, or the [compile] section of ~/.config/udcs/config):\n");
    udcs_config_print_flags(cfg, out);
    fprintf(out, "  UDCS_CACHE_DIR, UDCS_MAXSIZE, UDCS_FARM, UDCS_TOKEN_FILE, UDCS_BASEDIR,\n"
                 "  UDCS_LOGFILE, UDCS_SLOPPINESS, UDCS_MODE, UDCS_DISABLE, UDCS_REMOTE_ONLY,\n"
                 "  UDCS_LOCAL_ONLY, UDCS_LOCAL_SLOTS, UDCS_REMOTE_TIMEOUT, UDCS_FARM_TIMEOUT,\n"
                 "  UDCS_SHIP_TOOLCHAIN:\n"
                 "  see docs/COMPILE.md\n");
}

int cc_sloppiness_parse(const char *text, unsigned *out)
{
    *out = 0;
    char *copy = strdup(text ? text : "");
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        if (strcmp(w, "time_macros") == 0)
            *out |= CC_SLOPPY_TIME_MACROS;
        else if (strcmp(w, "system_headers") == 0)
            *out |= CC_SLOPPY_SYSTEM_HEADERS;
        else if (strcmp(w, "include_file_mtime") == 0)
            *out |= CC_SLOPPY_INCLUDE_MTIME;
        else
            rc = UDCS_EUSAGE;
    }
    free(copy);
    return rc;
}

/* The limit --max-size stored with the cache: the default below the environment and the
 * config file. */
static char *max_size_file(const char *cache_dir)
{
    char *p = NULL;
    return asprintf(&p, "%s/compile/max_size", cache_dir) < 0 ? NULL : p;
}

static void load_stored_max_size(struct udcs_config *cfg)
{
    char *file = max_size_file(udcs_config_str(cfg, "cache_dir"));
    FILE *f = file ? fopen(file, "re") : NULL;
    char line[64];
    if (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        uint64_t v;
        if (udcs_size_parse(line, &v) == 0)
            udcs_config_set(cfg, "max_size", line, UDCS_ORIGIN_SYSTEM_FILE);
    }
    if (f)
        fclose(f);
    free(file);
}

/* Fill `set` from the configuration. Returns 0 or UDCS_EUSAGE after saying why. */
static int settings_from(const struct udcs_config *cfg, struct cc_settings *set)
{
    memset(set, 0, sizeof(*set));
    uint64_t v;
    int rc = 0;
    set->cache_dir = udcs_config_str(cfg, "cache_dir");
    if (!set->cache_dir || !*set->cache_dir) {
        fprintf(stderr, "udcs-compile: error: no cache directory: set UDCS_CACHE_DIR (or HOME)\n");
        return UDCS_EUSAGE;
    }
    rc |= udcs_config_size(cfg, "max_size", &set->max_size);
    set->farm = udcs_config_str(cfg, "farm");
    set->token_file = udcs_config_str(cfg, "token_file");
    set->basedir = udcs_config_str(cfg, "basedir");
    set->logfile = udcs_config_str(cfg, "logfile");
    set->job_stats = udcs_config_str(cfg, "job_stats");
    if (cc_sloppiness_parse(udcs_config_str(cfg, "sloppiness"), &set->sloppiness) < 0) {
        fprintf(stderr, "udcs-compile: error: UDCS_SLOPPINESS: unknown word in '%s'; known: "
                "time_macros, system_headers, include_file_mtime\n",
                udcs_config_str(cfg, "sloppiness"));
        rc = UDCS_EUSAGE;
    }
    const char *mode = udcs_config_str(cfg, "mode");
    if (strcmp(mode, "direct") == 0) {
        set->mode = CC_MODE_DIRECT;
    } else if (strcmp(mode, "preprocessor") == 0) {
        set->mode = CC_MODE_PREPROCESSOR;
    } else {
        fprintf(stderr, "udcs-compile: error: UDCS_MODE is '%s'; use direct or preprocessor\n", mode);
        rc = UDCS_EUSAGE;
    }
    const char *ship = udcs_config_str(cfg, "ship_toolchain");
    if (strcmp(ship, "auto") == 0) {
        set->ship = CC_SHIP_AUTO;
    } else if (strcmp(ship, "always") == 0) {
        set->ship = CC_SHIP_ALWAYS;
    } else if (strcmp(ship, "never") == 0) {
        set->ship = CC_SHIP_NEVER;
    } else {
        fprintf(stderr, "udcs-compile: error: UDCS_SHIP_TOOLCHAIN is '%s'; use auto, always "
                "or never\n", ship);
        rc = UDCS_EUSAGE;
    }
    rc |= udcs_config_bool(cfg, "disable", &set->disable);
    rc |= udcs_config_bool(cfg, "remote_only", &set->remote_only);
    rc |= udcs_config_bool(cfg, "local_only", &set->local_only);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    set->local_slots = cores > 0 ? (unsigned)cores : 1;
    if (udcs_config_uint(cfg, "local_slots", &v) == 0)
        set->local_slots = v > 0 && v < 4096 ? (unsigned)v : set->local_slots;
    if (udcs_config_uint(cfg, "remote_timeout", &v) == 0)
        set->remote_timeout_ms = v * 1000;
    v = 0;
    rc |= udcs_config_uint(cfg, "farm_timeout", &v);   /* always set: it has a default */
    set->farm_timeout_ms = (v ? v : 1) * 1000;          /* 0 would wait for nothing at all */
    if (set->remote_only && set->local_only) {
        fprintf(stderr, "udcs-compile: error: UDCS_REMOTE_ONLY and UDCS_LOCAL_ONLY are both "
                "set; choose one\n");
        rc = UDCS_EUSAGE;
    }
    return rc < 0 ? UDCS_EUSAGE : 0;
}

/* The path of this program, to skip it when looking for the real compiler. */
static void self_path_of(char *out, size_t len)
{
    const char *env = getenv("UDCS_COMPILE_SELF");   /* set when udcs-compile hands over */
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return;
    }
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    out[n > 0 ? n : 0] = '\0';
}

static int is_our_name(const char *name)
{
    return strcmp(name, "udcs-compile") == 0 || strcmp(name, "udcs-compile-farm") == 0;
}

/* ---- the cache commands ----------------------------------------------------------------- */

static void print_line(const char *label, uint64_t v, uint64_t of)
{
    if (of)
        printf("%-26s %8llu / %8llu (%5.1f%%)\n", label, (unsigned long long)v,
               (unsigned long long)of, 100.0 * (double)v / (double)of);
    else
        printf("%-26s %8llu\n", label, (unsigned long long)v);
}

static int show_stats(const struct cc_settings *set, int as_json)
{
    char *path = cc_stats_path(set->cache_dir);
    struct cc_stats s;
    int rc = path ? cc_stats_read(path, &s) : -ENOMEM;
    free(path);
    if (rc < 0) {
        fprintf(stderr, "udcs-compile: error: cannot read the counters: %s\n", udcs_strerror(rc));
        return UDCS_EXIT_FAILED;
    }
    struct cas_stats cst = { 0 };
    struct cas_store *cs = NULL;
    struct cas_store_options so = { .root = set->cache_dir, .readonly = 1 };
    if (cas_store_open(&so, &cs) == 0) {
        cas_store_stats(cs, &cst);
        cas_store_close(cs);
    }
    uint64_t size = cst.blob_bytes + cst.ac_bytes;
    uint64_t hits = s.v[CC_STAT_DIRECT_HITS] + s.v[CC_STAT_PREPROCESSED_HITS] +
                    s.v[CC_STAT_REMOTE_HITS];
    uint64_t uncacheable = 0;
    for (int u = 1; u < CC_UNC_COUNT; u++)
        uncacheable += s.v[CC_STAT_UNCACHEABLE(u)];
    uint64_t cacheable = hits + s.v[CC_STAT_MISSES];
    if (as_json) {
        json_t *o = json_object(), *unc = json_object();
        for (int i = 0; i < CC_STAT_FIXED_COUNT; i++)
            json_object_set_new(o, cc_stat_name(i), json_integer((json_int_t)s.v[i]));
        for (int u = 1; u < CC_UNC_COUNT; u++)
            json_object_set_new(unc, cc_stat_name(CC_STAT_UNCACHEABLE(u)),
                                json_integer((json_int_t)s.v[CC_STAT_UNCACHEABLE(u)]));
        json_object_set_new(o, "hits", json_integer((json_int_t)hits));
        json_object_set_new(o, "uncacheable", unc);
        json_object_set_new(o, "cache_size_bytes", json_integer((json_int_t)size));
        json_object_set_new(o, "max_size_bytes", json_integer((json_int_t)set->max_size));
        json_object_set_new(o, "objects", json_integer((json_int_t)cst.blob_count));
        json_object_set_new(o, "cache_dir", json_string(set->cache_dir));
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(o);
        if (!text)
            return UDCS_EXIT_FAILED;
        printf("%s\n", text);
        free(text);
        return UDCS_EXIT_OK;
    }
    char a[32], b[32];
    printf("Cache directory            %s\n", set->cache_dir);
    print_line("Calls", s.v[CC_STAT_CALLS], 0);
    print_line("Cacheable calls", cacheable, s.v[CC_STAT_CALLS]);
    print_line("  Hits", hits, cacheable);
    print_line("    Direct", s.v[CC_STAT_DIRECT_HITS], hits);
    print_line("    Preprocessed", s.v[CC_STAT_PREPROCESSED_HITS], hits);
    print_line("    From the farm's cache", s.v[CC_STAT_REMOTE_HITS], hits);
    print_line("  Misses", s.v[CC_STAT_MISSES], cacheable);
    print_line("    Compiled on agents", s.v[CC_STAT_REMOTE_COMPILES], s.v[CC_STAT_MISSES]);
    print_line("    Local fallbacks", s.v[CC_STAT_LOCAL_FALLBACKS], 0);
    print_line("      farm down", s.v[CC_STAT_FALLBACK_FARM_DOWN], 0);
    print_line("      no agent", s.v[CC_STAT_FALLBACK_NO_AGENT], 0);
    print_line("      remote compile failed", s.v[CC_STAT_FALLBACK_REMOTE_FAILED], 0);
    print_line("Uncacheable calls", uncacheable, s.v[CC_STAT_CALLS]);
    for (int u = 1; u < CC_UNC_COUNT; u++) {
        if (s.v[CC_STAT_UNCACHEABLE(u)]) {
            char label[64];
            snprintf(label, sizeof(label), "  %s", cc_uncacheable_name((enum cc_uncacheable)u));
            print_line(label, s.v[CC_STAT_UNCACHEABLE(u)], 0);
        }
    }
    print_line("Errors (compiled anyway)", s.v[CC_STAT_ERRORS], 0);
    udcs_size_format(size, a, sizeof(a));
    udcs_size_format(set->max_size, b, sizeof(b));
    printf("%-26s %8s / %s (%.1f%%), %llu blobs\n", "Cache size", a, b,
           set->max_size ? 100.0 * (double)size / (double)set->max_size : 0.0,
           (unsigned long long)cst.blob_count);
    return UDCS_EXIT_OK;
}

static int open_store(const struct cc_settings *set, struct cas_store **cs)
{
    struct cas_store_options so = { .root = set->cache_dir, .max_size = set->max_size,
                                    .encode = { .level = 1 } };
    int rc = cas_store_open(&so, cs);
    if (rc < 0)
        fprintf(stderr, "udcs-compile: error: cannot open the cache %s: %s\n", set->cache_dir,
                udcs_strerror(rc));
    return rc;
}

static int clear_cache(const struct cc_settings *set)
{
    struct cas_store *cs;
    if (open_store(set, &cs) < 0)
        return UDCS_EXIT_FAILED;
    struct cas_trim_report rep = { 0 };
    int rc = cas_store_trim(cs, 1, &rep);
    cas_store_close(cs);
    if (rc < 0) {
        fprintf(stderr, "udcs-compile: error: clearing %s failed: %s\n", set->cache_dir,
                udcs_strerror(rc));
        return UDCS_EXIT_FAILED;
    }
    char a[32];
    udcs_size_format(rep.removed_bytes, a, sizeof(a));
    printf("Cleared %s: %llu entries, %s\n", set->cache_dir,
           (unsigned long long)rep.removed_count, a);
    return UDCS_EXIT_OK;
}

static int set_max_size(const struct cc_settings *set, const char *text)
{
    uint64_t v;
    if (udcs_size_parse(text, &v) < 0 || v == 0) {
        fprintf(stderr, "udcs-compile: error: --max-size: '%s' is not a size such as 5G or "
                "500M\n", text);
        return UDCS_EXIT_USAGE;
    }
    char *file = max_size_file(set->cache_dir);
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/compile", set->cache_dir);
    udcs_mkdir_p(dir, 0755);
    char line[64];
    int n = snprintf(line, sizeof(line), "%s\n", text);
    int rc = file ? udcs_write_atomic(file, line, (size_t)n, 0644) : -ENOMEM;
    free(file);
    if (rc < 0) {
        fprintf(stderr, "udcs-compile: error: cannot store the limit: %s\n", udcs_strerror(rc));
        return UDCS_EXIT_FAILED;
    }
    struct cas_store *cs;
    struct cc_settings s2 = *set;
    s2.max_size = v;
    if (open_store(&s2, &cs) == 0) {
        struct cas_trim_report rep = { 0 };
        cas_store_trim(cs, v, &rep);
        cas_store_close(cs);
    }
    char a[32];
    udcs_size_format(v, a, sizeof(a));
    printf("Set the cache size limit of %s to %s\n", set->cache_dir, a);
    return UDCS_EXIT_OK;
}

static int cache_command(struct udcs_config *cfg, int argc, char **argv)
{
    struct udcs_cli cli = { .program = "udcs-compile", .usage = usage };
    /* -V and -h as ccache users type them */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-V") == 0)
            argv[i] = "--version";
        else if (strcmp(argv[i], "-h") == 0)
            argv[i] = "--help";
    }
    int status = udcs_cli_parse(&cli, cfg, argc, argv);
    if (status <= 0) {
        free(cli.rest);
        return status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    }
    load_stored_max_size(cfg);
    struct cc_settings set;
    if (settings_from(cfg, &set) < 0) {
        free(cli.rest);
        return UDCS_EXIT_USAGE;
    }
    int as_json = 0, done = 0;
    status = UDCS_EXIT_OK;
    for (int i = 0; i < cli.n_rest && strcmp(cli.rest[i], "--") != 0; i++) {
        const char *a = cli.rest[i];
        if (strcmp(a, "--json") == 0)
            as_json = 1;
        if (strcmp(a, "--project") == 0 || strncmp(a, "--project=", 10) == 0) {
            /* a build of a whole project: its own options, in any order */
            status = cc_project_main(&set, cli.n_rest, cli.rest);
            free(cli.rest);
            return status;
        }
    }
    for (int i = 0; i < cli.n_rest && status == UDCS_EXIT_OK; i++) {
        const char *a = cli.rest[i];
        if (strcmp(a, "-s") == 0 || strcmp(a, "--show-stats") == 0) {
            status = show_stats(&set, as_json);
        } else if (strcmp(a, "-z") == 0 || strcmp(a, "--zero-stats") == 0) {
            char *p = cc_stats_path(set.cache_dir);
            int rc = p ? cc_stats_zero(p) : -ENOMEM;
            free(p);
            if (rc < 0) {
                fprintf(stderr, "udcs-compile: error: cannot zero the counters: %s\n",
                        udcs_strerror(rc));
                status = UDCS_EXIT_FAILED;
            } else {
                printf("Statistics zeroed\n");
            }
        } else if (strcmp(a, "-C") == 0 || strcmp(a, "--clear") == 0) {
            status = clear_cache(&set);
        } else if (strcmp(a, "-M") == 0 || strcmp(a, "--max-size") == 0 ||
                   strncmp(a, "--max-size=", 11) == 0) {
            const char *v = a[1] == '-' && a[10] == '=' ? a + 11
                            : i + 1 < cli.n_rest ? cli.rest[++i] : NULL;
            if (!v) {
                fprintf(stderr, "udcs-compile: error: %s needs a size such as 5G\n", a);
                status = UDCS_EXIT_USAGE;
            } else {
                status = set_max_size(&set, v);
            }
        } else if (strcmp(a, "--json") == 0) {
            continue;
        } else {
            fprintf(stderr, "udcs-compile: error: unknown option '%s'; see 'udcs-compile "
                    "--help' (to compile, name the compiler first: udcs-compile gcc ...)\n", a);
            status = UDCS_EXIT_USAGE;
        }
        done = 1;
    }
    if (!done && status == UDCS_EXIT_OK) {
        usage(stderr, cfg);
        status = UDCS_EXIT_USAGE;
    }
    free(cli.rest);
    return status;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    udcs_log_init("udcs-compile", UDCS_LOG_ERROR, UDCS_LOG_STYLE_CLI);
    /* jansson seeds its hash tables from /dev/urandom; the manifests and results it
     * parses here are our own, so a fixed seed saves the read on every call */
    json_object_seed(0x75646373);
    struct udcs_config cfg;
    if (udcs_config_init(&cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    int masquerade = !is_our_name(base);
    int status;
    if (!masquerade && (argc < 2 || argv[1][0] == '-')) {
        status = cache_command(&cfg, argc, argv);
        udcs_config_release(&cfg);
        return udcs_cli_finish(status);
    }
    /* a compiler call: every argument is the compiler's */
    char self[PATH_MAX];
    self_path_of(self, sizeof(self));
    char **cc_argv = masquerade ? argv : argv + 1;
    int cc_argc = masquerade ? argc : argc - 1;
    struct cc_settings set;
    if (udcs_config_load(&cfg) < 0) {
        udcs_config_release(&cfg);
        return UDCS_EXIT_USAGE;
    }
    load_stored_max_size(&cfg);
    if (settings_from(&cfg, &set) < 0) {
        udcs_config_release(&cfg);
        return UDCS_EXIT_USAGE;
    }
    if (masquerade) {
        /* keep the name the build used ("gcc"), not the link's path */
        cc_argv[0] = (char *)base;
    }
    if (set.logfile && *set.logfile && udcs_log_open_file(set.logfile) == 0) {
        enum udcs_log_level level = UDCS_LOG_INFO;
        udcs_log_level_parse(udcs_config_str(&cfg, "log_level"), &level);
        udcs_log_init("udcs-compile", level, UDCS_LOG_STYLE_DAEMON);
    }
    status = cc_call_run(&set, self, cc_argc, cc_argv, cc_farm_ops());
    udcs_config_release(&cfg);
    return status;
}
