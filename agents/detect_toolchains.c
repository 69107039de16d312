/* agents/detect_toolchains.c - the compilers, renderers and encoders on PATH, with their
 * versions, targets and content fingerprints, and the FFmpeg libraries the encoder adapter
 * loads; for a gcc driver also the programs it runs (cc1, cc1plus, as). Programs run
 * through common/proc.h only; what a toolchain *is* (packaging, command-line parsing)
 * belongs to toolchains/, not here. */
#include "agents/detect.h"
#include "cas/cas.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proc.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* Most tools answer a version question in milliseconds; Blender starts a whole
 * application first (the design's figure: allow it 10 s). */
#define TC_PROBE_TIMEOUT_MS 5000
#define TC_BLENDER_TIMEOUT_MS 10000
/* Opening a device loads its driver: PoCL's LLVM, CUDA's driver (a second or more). */
#define TC_DEVICE_TIMEOUT_MS 20000
/* A tool that ignores SIGTERM after its timeout is killed this much later. */
#define TC_PROBE_KILL_GRACE_MS 500
/* Version banners are a few lines; Blender's and POV-Ray's are the longest, under 2 KiB. */
#define TC_PROBE_OUTPUT_MAX_BYTES (64u << 10)
/* Where PATH is unset, what execvp(3) would search. */
#define TC_DEFAULT_PATH "/bin:/usr/bin"

enum tc_kind {
    TC_COMPILER,    /* gcc-like: -dumpfullversion (else --version) and -dumpmachine */
    TC_BANNER,      /* one flag prints a line starting with `prefix` then the version */
};

struct tc_probe {
    const char *name;
    enum tc_kind kind;
    const char *flag;           /* TC_BANNER: the version flag */
    const char *prefix;         /* TC_BANNER: the banner line starts with this */
    int banner_on_stderr;       /* TC_BANNER: the banner is printed on stderr */
    uint64_t timeout_ms;
    int version_in_fingerprint; /* what it makes depends on the libraries its version
                                   names, which the file's content does not show */
    const char *program;        /* the program to run, when not `name` */
    int only_with_version;      /* leave it out when it tells no version: a device API
                                   that this machine does not have */
};

static const struct tc_probe tc_probes[] = {
    { "gcc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "g++", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "clang", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "clang++", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "cc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "c++", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    /* cross compilers as Debian names them (gcc-aarch64-linux-gnu, gcc-mingw-w64, ...) */
    { "aarch64-linux-gnu-gcc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "aarch64-linux-gnu-g++", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "arm-linux-gnueabihf-gcc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "riscv64-linux-gnu-gcc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "x86_64-linux-gnu-gcc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "x86_64-w64-mingw32-gcc", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "x86_64-w64-mingw32-g++", TC_COMPILER, NULL, NULL, 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    /* bubblewrap runs shipped toolchains in an isolated root (agents/toolchain.c) */
    { "bwrap", TC_BANNER, "--version", "bubblewrap ", 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    /* POV-Ray 3.7 prints "POV-Ray 3.7.0.10.unofficial" and its licence on stderr. */
    { "povray", TC_BANNER, "--version", "POV-Ray ", 1, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "blender", TC_BANNER, "--version", "Blender ", 0, TC_BLENDER_TIMEOUT_MS, 0, NULL, 0 },
    { "ffmpeg", TC_BANNER, "-version", "ffmpeg version ", 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    /* UDCS's own: the built-in renderer and the merge program of tiled frames */
    { "udcs-trace", TC_BANNER, "--version", "udcs-trace ", 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "udcs-image", TC_BANNER, "--version", "udcs-image ", 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    /* the encoder adapter: its version line names the FFmpeg and encoder libraries */
    { "udcs-video", TC_BANNER, "--version", "udcs-video ", 0, TC_PROBE_TIMEOUT_MS, 1, NULL, 0 },
    /* the kernel runner, and the device API it finds: "opencl" and "cuda" are offered only
     * with a device, and their fingerprints include the device class (docs/KERNELS.md) */
    { "udcs-kernel", TC_BANNER, "--version", "udcs-kernel ", 0, TC_PROBE_TIMEOUT_MS, 0, NULL, 0 },
    { "opencl", TC_BANNER, "--opencl-device", "opencl ", 0, TC_DEVICE_TIMEOUT_MS, 1,
      "udcs-kernel", 1 },
    { "cuda", TC_BANNER, "--cuda-device", "cuda ", 0, TC_DEVICE_TIMEOUT_MS, 1, "udcs-kernel",
      1 },
};

/* The FFmpeg libraries, by the sonames of Debian 12, which the encoder adapter is built
 * against; their version functions return (major << 16 | minor << 8 | micro). */
struct tc_library {
    const char *name;
    const char *soname;
    const char *version_symbol;
};

static const struct tc_library tc_libraries[] = {
    { "libavcodec", "libavcodec.so.59", "avcodec_version" },
    { "libavformat", "libavformat.so.59", "avformat_version" },
};
#define TC_N_LIBRARIES (sizeof(tc_libraries) / sizeof(*tc_libraries))

/* ---- fingerprints, cached for the process -------------------------------------------- */

/* Hashing a compiler or Blender costs tens of milliseconds to seconds, so a fingerprint is
 * kept for as long as the file looks the same: same device, inode, size and mtime (a
 * package upgrade renames a new file into place, which changes the inode). The cache is
 * process-wide, like the files it describes; it holds one entry per path ever seen. */
struct fp_entry {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[CAS_HEX_LEN + 1];
    struct fp_entry *next;
};
static struct fp_entry *fp_cache;
static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;

static int stat_same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int fp_entry_matches(const struct fp_entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Remember `hex` for `path` as it was in `st` (replacing an older entry). Out of memory
 * only means no caching. */
static void fp_cache_store(const char *path, const struct stat *st, const char *hex)
{
    pthread_mutex_lock(&fp_lock);
    struct fp_entry *e = fp_cache;
    while (e && strcmp(e->path, path) != 0)
        e = e->next;
    if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
        if ((e->path = strdup(path)) == NULL) {
            free(e);
            e = NULL;
        } else {
            e->next = fp_cache;
            fp_cache = e;
        }
    }
    if (e) {
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        e->size = st->st_size;
        e->mtime = st->st_mtim;
        memcpy(e->hex, hex, sizeof(e->hex));
    }
    pthread_mutex_unlock(&fp_lock);
}

/* The fingerprint of the file at `path` (resolved, absolute) into `hex`. Returns 0,
 * -errno, or -EAGAIN when the file changed while it was being read. */
static int fingerprint_of(const char *path, char hex[CAS_HEX_LEN + 1])
{
    struct stat before, after;
    if (stat(path, &before) < 0)
        return -errno;
    int hit = 0;
    pthread_mutex_lock(&fp_lock);
    for (struct fp_entry *e = fp_cache; e; e = e->next) {
        if (strcmp(e->path, path) == 0) {
            if ((hit = fp_entry_matches(e, &before)) != 0)
                memcpy(hex, e->hex, CAS_HEX_LEN + 1);
            break;
        }
    }
    pthread_mutex_unlock(&fp_lock);
    if (hit)
        return 0;

    struct cas_digest d;
    int rc = cas_digest_of_file(path, &d);   /* outside the lock: it may take a while */
    if (rc < 0)
        return rc;
    if (stat(path, &after) < 0)
        return -errno;
    if (!stat_same(&before, &after) || d.size != (uint64_t)after.st_size)
        return -EAGAIN;
    cas_digest_hex(&d, hex);
    fp_cache_store(path, &after, hex);
    return 0;
}

/* ---- finding and running programs ---------------------------------------------------------- */

/* `name` in the first absolute directory of `search_path` holding an executable regular
 * file of that name, as a malloc()ed path; NULL when none (or out of memory). Empty and
 * relative entries are skipped: they name the current directory, which is the agent's
 * work area, not a place to take toolchains from. */
static char *path_find(const char *search_path, const char *name)
{
    for (const char *p = search_path; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && p[0] == '/') {
            char *candidate = NULL;
            struct stat st;
            if (asprintf(&candidate, "%.*s/%s", (int)len, p, name) < 0)
                return NULL;
            if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) &&
                access(candidate, X_OK) == 0)
                return candidate;
            free(candidate);
        }
        p = colon ? colon + 1 : NULL;
    }
    return NULL;
}

/* The agent's environment with LC_ALL=C, so banners are not translated: a copy of the
 * pointer array (the strings stay environ's), freed by the caller. */
static char **probe_env_new(void)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) != 0)
            env[k++] = environ[i];
    env[k++] = "LC_ALL=C";
    env[k] = NULL;
    return env;
}

/* Run `exe flag` with stdin from /dev/null and stdout (and, when `err` is not NULL,
 * stderr) captured; stderr goes to /dev/null otherwise. Returns 0 when it exited with
 * status 0, -ETIMEDOUT, -ECHILD for any other ending, or -errno. */
static int probe_run(const char *exe, const char *flag, char **env, uint64_t timeout_ms,
                     struct udcs_buf *out, struct udcs_buf *err)
{
    char *argv[] = { (char *)exe, (char *)flag, NULL };
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.env = env;
    p.in.mode = UDCS_PROC_NULL;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = out;
    if (err) {
        p.err.mode = UDCS_PROC_CAPTURE;
        p.err.buf = err;
    } else {
        p.err.mode = UDCS_PROC_NULL;
    }
    p.timeout_ms = timeout_ms;
    p.kill_grace_ms = TC_PROBE_KILL_GRACE_MS;
    int rc = udcs_proc_run(&p);
    if (rc < 0)
        return rc;
    return p.exit_code == 0 ? 0 : -ECHILD;
}

/* The first line of `text` in a malloc()ed string (NULL when empty or out of memory). */
static char *first_line(const char *text)
{
    while (*text == '\n' || *text == '\r')
        text++;
    size_t len = strcspn(text, "\r\n");
    return len ? strndup(text, len) : NULL;
}

/* The token (up to white space) starting at `s`, malloc()ed; NULL when empty. */
static char *token_at(const char *s)
{
    size_t len = strcspn(s, " \t\r\n");
    return len ? strndup(s, len) : NULL;
}

/* Whether `line` is one bare version such as "12.2.0" or "14": -dumpfullversion's answer
 * from gcc, unlike the error clang prints for a flag it does not know. */
static int is_bare_version(const char *line)
{
    if (!line || !isdigit((unsigned char)line[0]))
        return 0;
    for (const char *p = line; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-+_~", *p))
            return 0;
    return 1;
}

/* The version in a --version line: the token after "version " ("Debian clang version
 * 14.0.6" -> "14.0.6"), else the first token outside parentheses that starts with a digit
 * ("gcc (Debian 12.2.0-14) 12.2.0" -> "12.2.0", "g++ (GCC) 4.8.5 20150623 (Red Hat
 * 4.8.5-44)" -> "4.8.5"). */
static char *version_of_line(const char *line)
{
    const char *v = strstr(line, "version ");
    if (v)
        return token_at(v + strlen("version "));
    int depth = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        else if (depth == 0 && isdigit((unsigned char)*p) &&
                 (p == line || isspace((unsigned char)p[-1])))
            return token_at(p);
    }
    return NULL;
}

/* The token after `prefix` on the first line of `text` that starts with it. */
static char *version_after_prefix(const char *text, const char *prefix, int whole_line)
{
    size_t plen = strlen(prefix);
    for (const char *line = text; line && *line;) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (strncmp(line, prefix, plen) == 0 && whole_line) {
            size_t len = strcspn(line + plen, "\r\n");
            return len ? strndup(line + plen, len) : NULL;
        }
        if (strncmp(line, prefix, plen) == 0)
            return token_at(line + plen);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NULL;
}

/* Ask a gcc-like compiler for its version and target. */
static int probe_compiler(const char *exe, const struct tc_probe *pr, char **env,
                          char **version, char **target)
{
    struct udcs_buf out = UDCS_BUF_INIT(TC_PROBE_OUTPUT_MAX_BYTES);
    int rc = probe_run(exe, "-dumpfullversion", env, pr->timeout_ms, &out, NULL);
    char *line = out.data && rc == 0 ? first_line(out.data) : NULL;
    if (is_bare_version(line)) {
        *version = line;
    } else if (rc != -ETIMEDOUT) {
        /* clang has no -dumpfullversion, nor has gcc before 7: read --version's line */
        free(line);
        udcs_buf_reset(&out);
        rc = probe_run(exe, "--version", env, pr->timeout_ms, &out, NULL);
        line = out.data && rc == 0 ? first_line(out.data) : NULL;
        *version = line ? version_of_line(line) : NULL;
        free(line);
    }
    if (rc != -ETIMEDOUT) {
        udcs_buf_reset(&out);
        if (probe_run(exe, "-dumpmachine", env, pr->timeout_ms, &out, NULL) == 0 && out.data)
            *target = first_line(out.data);
    }
    udcs_buf_release(&out);
    return rc;
}

/* Ask a program that prints a banner line for its version. */
static int probe_banner(const char *exe, const struct tc_probe *pr, char **env, char **version)
{
    struct udcs_buf out = UDCS_BUF_INIT(TC_PROBE_OUTPUT_MAX_BYTES);
    struct udcs_buf err = UDCS_BUF_INIT(TC_PROBE_OUTPUT_MAX_BYTES);
    int rc = probe_run(exe, pr->flag, env, pr->timeout_ms, &out,
                       pr->banner_on_stderr ? &err : NULL);
    if (rc == 0 && out.data)
        *version = version_after_prefix(out.data, pr->prefix, pr->version_in_fingerprint);
    if (rc == 0 && !*version && err.data)
        *version = version_after_prefix(err.data, pr->prefix, pr->version_in_fingerprint);
    udcs_buf_release(&out);
    udcs_buf_release(&err);
    return rc;
}

/* ---- the entries ------------------------------------------------------------------------------- */

static int entry_add(json_t *out, const char *name, const char *version, const char *resolved,
                     const char *target, int version_in_fingerprint);

/* The programs a gcc driver runs to compile and assemble. Two gcc drivers with the same
 * bytes may run different ones (another binutils' as on PATH, another cc1 beside them),
 * and the object is theirs: udcs-compile requires each by its fingerprint too. */
static const char *const gcc_programs[] = { "cc1", "cc1plus", "as" };

/* Append "NAME/cc1", "NAME/cc1plus", "NAME/as" (those the driver `exe` finds) with the
 * compiler's version and target. The driver names a program by its path, or by a bare
 * name it looks up on PATH ("as" on Debian), as the agent's PATH is when units run. */
static int programs_add(json_t *out, const struct tc_probe *pr, const char *exe,
                        const char *search_path, char **env, const char *version,
                        const char *target)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(gcc_programs) / sizeof(*gcc_programs); i++) {
        char flag[64], name[128];
        snprintf(flag, sizeof(flag), "-print-prog-name=%s", gcc_programs[i]);
        struct udcs_buf b = UDCS_BUF_INIT(TC_PROBE_OUTPUT_MAX_BYTES);
        char *line = probe_run(exe, flag, env, pr->timeout_ms, &b, NULL) == 0 && b.data
                         ? first_line(b.data) : NULL;
        udcs_buf_release(&b);
        char *found = NULL;
        if (line && line[0] == '/' && access(line, X_OK) == 0)
            found = strdup(line);
        else if (line && !strchr(line, '/'))
            found = path_find(search_path, line);
        char *resolved = found ? realpath(found, NULL) : NULL;
        snprintf(name, sizeof(name), "%s/%s", pr->name, gcc_programs[i]);
        if (resolved)   /* a program it cannot find is one it does not run */
            rc = entry_add(out, name, version, resolved, target, 0);
        free(line);
        free(found);
        free(resolved);
    }
    return rc;
}

/* Append {"name","version","path","target"?,"fingerprint"} to `out`, or leave the tool
 * out (with a WARN) when its file cannot be fingerprinted. Returns 0 or -ENOMEM. */
static int entry_add(json_t *out, const char *name, const char *version, const char *resolved,
                     const char *target, int version_in_fingerprint)
{
    char hex[CAS_HEX_LEN + 1];
    int rc = fingerprint_of(resolved, hex);
    if (rc == 0 && version_in_fingerprint && version) {
        char file_hex[CAS_HEX_LEN + 1];
        memcpy(file_hex, hex, sizeof(file_hex));
        cas_fingerprint_with_version(file_hex, version, hex);
    }
    if (rc < 0) {
        udcs_log_warn("agent: cannot fingerprint %s (%s) for toolchain %s; leaving it out of "
                      "the toolchains until it can be read", resolved,
                      rc == -EAGAIN ? "it changed while it was read" : udcs_strerror(rc), name);
        return 0;
    }
    json_t *e = json_object();
    int bad = !e;
    bad |= json_object_set_new(e, "name", json_string(name));
    bad |= json_object_set_new(e, "version", agent_detect_text(version));
    bad |= json_object_set_new(e, "path", agent_detect_text(resolved));
    if (target && *target)
        bad |= json_object_set_new(e, "target", agent_detect_text(target));
    bad |= json_object_set_new(e, "fingerprint", json_string(hex));
    if (bad) {
        json_decref(e);
        return -ENOMEM;
    }
    return json_array_append_new(out, e) == 0 ? 0 : -ENOMEM;
}

/* Detect the program of probe `pr` on `search_path`, appending it to `out` when found. */
static int tool_add(json_t *out, const struct tc_probe *pr, const char *search_path, char **env)
{
    char *exe = path_find(search_path, pr->program ? pr->program : pr->name);
    if (!exe)
        return 0;
    char *resolved = realpath(exe, NULL);
    if (!resolved) {
        int rc = errno == ENOMEM ? -ENOMEM : 0;
        udcs_log_warn("agent: %s is on PATH but its path cannot be resolved: %s", exe,
                      strerror(errno));
        free(exe);
        return rc;
    }
    char *version = NULL, *target = NULL;
    /* Run the file as found on PATH, not the resolved one: multi-call programs (ccache,
     * busybox, clang++ -> clang) behave according to the name they are started under. */
    int rc = pr->kind == TC_COMPILER ? probe_compiler(exe, pr, env, &version, &target)
                                     : probe_banner(exe, pr, env, &version);
    if (!version && pr->only_with_version) {
        udcs_log_debug("agent: %s %s finds no device: not offering %s", exe, pr->flag,
                       pr->name);
        free(resolved);
        free(exe);
        return rc == -ENOMEM ? rc : 0;
    }
    if (!version) {
        if (rc == -ETIMEDOUT)
            udcs_log_warn("agent: %s did not tell its version within %llu ms; listing it "
                          "with version 'unknown'", exe, (unsigned long long)pr->timeout_ms);
        else
            udcs_log_warn("agent: %s did not tell its version (%s); listing it with version "
                          "'unknown'", exe, rc == -ECHILD ? "it failed" : udcs_strerror(rc));
    }
    rc = entry_add(out, pr->name, version, resolved, target, pr->version_in_fingerprint);
    if (rc == 0 && pr->kind == TC_COMPILER && !strstr(pr->name, "clang"))
        rc = programs_add(out, pr, exe, search_path, env, version, target);
    free(version);
    free(target);
    free(resolved);
    free(exe);
    return rc;
}

/* The FFmpeg libraries, loaded once per process (the encoder adapter needs them loaded
 * anyway, and some of their dependencies do not survive being unloaded). */
static struct {
    int loaded;
    unsigned version;       /* major << 16 | minor << 8 | micro */
    char *path;             /* resolved path of the loaded file */
} tc_lib_state[TC_N_LIBRARIES];
static pthread_once_t tc_lib_once = PTHREAD_ONCE_INIT;

static void libraries_load(void)
{
    for (size_t i = 0; i < TC_N_LIBRARIES; i++) {
        const struct tc_library *l = &tc_libraries[i];
        void *h = dlopen(l->soname, RTLD_LAZY | RTLD_LOCAL);
        if (!h) {
            udcs_log_debug("agent: %s is not installed: %s", l->soname, dlerror());
            continue;
        }
        unsigned (*version_fn)(void);
        Dl_info where;
        if (!(version_fn = (__typeof__(version_fn))dlsym(h, l->version_symbol)) ||
            !dladdr((void *)version_fn, &where) || !where.dli_fname ||
            !(tc_lib_state[i].path = realpath(where.dli_fname, NULL))) {
            udcs_log_warn("agent: %s loaded but its version or file cannot be found; leaving "
                          "it out of the toolchains", l->soname);
            continue;
        }
        tc_lib_state[i].version = version_fn();
        tc_lib_state[i].loaded = 1;
    }
}

static int libraries_add(json_t *out)
{
    pthread_once(&tc_lib_once, libraries_load);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < TC_N_LIBRARIES; i++) {
        if (!tc_lib_state[i].loaded)
            continue;
        unsigned v = tc_lib_state[i].version;
        char version[32];
        snprintf(version, sizeof(version), "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
        rc = entry_add(out, tc_libraries[i].name, version, tc_lib_state[i].path, NULL, 0);
    }
    return rc;
}

int agent_detect_toolchains(const char *search_path, json_t **out)
{
    *out = NULL;
    if (!search_path)
        search_path = getenv("PATH");
    if (!search_path)
        search_path = TC_DEFAULT_PATH;
    json_t *list = json_array();
    char **env = probe_env_new();
    int rc = list && env ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof(tc_probes) / sizeof(*tc_probes); i++)
        rc = tool_add(list, &tc_probes[i], search_path, env);
    if (rc == 0)
        rc = libraries_add(list);
    free(env);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}
