/* toolchains/compile_cache.c - one compiler call: answer it from the cache, or compile
 * and remember.
 *
 *   direct mode (default)   source digest -> manifest -> include files hashed as they are
 *                           now -> result. A miss compiles once, with the compiler writing
 *                           a dependency file, and that list makes the manifest entry: no
 *                           preprocessor run on a miss either.
 *   preprocessor mode       the preprocessed text -> result (a preprocessed hit).
 *   with a farm             (udcs-compile-farm) the farm's cache is asked after the local
 *                           one, and misses may compile on an agent (compile_farm.c).
 *
 * Whatever goes wrong on our side, the compiler runs unchanged: the cache never fails a
 * build. The compiler's exit status, stdout and stderr always reach the caller as they
 * were, on a hit too. */
#include "toolchains/compile_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Largest compiler output (stdout or stderr, each) and preprocessed text kept. */
#define STREAM_MAX_BYTES (64u * 1024 * 1024)
#define PREPROCESSED_MAX_BYTES (1024u * 1024 * 1024)

void cc_count(struct cc_call *call, int stat)
{
    call->stats.v[stat]++;
}

void cc_count_fallback(struct cc_call *call, int reason)
{
    cc_count(call, CC_STAT_LOCAL_FALLBACKS);
    cc_count(call, reason);
}

static void flush_stats(struct cc_call *call)
{
    cc_stats_add(call->stats_path, &call->stats);
    if (call->set->job_stats && *call->set->job_stats)
        cc_stats_add(call->set->job_stats, &call->stats);
    memset(&call->stats, 0, sizeof(call->stats));
}

/* Replace this process with the compiler, unchanged. Only returns on failure. */
static int exec_compiler(char **argv)
{
    execv(argv[0], argv);
    int e = errno;
    fprintf(stderr, "udcs-compile: error: cannot run %s: %s\n", argv[0], strerror(e));
    return 127;
}

/* The exit status a shell would report for a process that ended like `p`. */
static int status_of(const struct udcs_proc *p)
{
    return p->term_signal ? 128 + p->term_signal : p->exit_code;
}

int cc_write_stream(int fd, const struct udcs_buf *b)
{
    return b->len ? udcs_write_full(fd, b->data, b->len) : 0;
}

/* ---- running the compiler ------------------------------------------------------------ */

struct run_out {
    struct udcs_buf out, err;
    int status;
};

#define RUN_OUT_INIT { UDCS_BUF_INIT(STREAM_MAX_BYTES), UDCS_BUF_INIT(STREAM_MAX_BYTES), 0 }

static void run_out_release(struct run_out *r)
{
    udcs_buf_release(&r->out);
    udcs_buf_release(&r->err);
}

/* Run argv with stdout and stderr captured. Returns 0 (status in r->status) or -errno. */
static int run_captured(char **argv, struct run_out *r)
{
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = &r->out;
    p.err.mode = UDCS_PROC_CAPTURE;
    p.err.buf = &r->err;
    int rc = udcs_proc_run(&p);
    if (rc < 0)
        return rc;
    if (p.out.truncated || p.err.truncated)
        return UDCS_ETOOBIG;
    r->status = status_of(&p);
    return 0;
}

/* The compiler's argv (argv[0] the real compiler) plus the colour flag and `extra`. */
static char **argv_plus(const struct cc_call *call, char **argv, int argc, char **extra,
                        size_t n_extra)
{
    char **v = calloc((size_t)argc + n_extra + 2, sizeof(*v));
    if (!v)
        return NULL;
    size_t k = 0;
    for (int i = 0; i < argc; i++)
        v[k++] = argv[i];
    if (call->color)
        v[k++] = call->args.family == CC_FAMILY_CLANG ? "-fcolor-diagnostics"
                                                       : "-fdiagnostics-color=always";
    for (size_t i = 0; i < n_extra; i++)
        v[k++] = extra[i];
    v[k] = NULL;
    return v;
}

int cc_preprocess(struct cc_call *call, int with_depfile, struct udcs_buf *out)
{
    const struct cc_args *a = &call->args;
    /* cpp_args ends with "-E"; dependency options go before it */
    size_t n = a->n_cpp_args + a->n_dep_args + 6;
    char **v = calloc(n, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i + 1 < a->n_cpp_args; i++)
        v[k++] = a->cpp_args[i];
    if (with_depfile) {
        for (size_t i = 0; i < a->n_dep_args; i++)
            v[k++] = a->dep_args[i];
        /* when compiling, the driver derives the file's name and its target from -o;
         * when only preprocessing it does not: say both, so the file is the one the
         * compile would write */
        if (a->dep != CC_DEP_NONE && !a->dep_via_wp && !a->dep_targets_given &&
            a->explicit_output) {
            v[k++] = "-MQ";
            v[k++] = a->output;
        }
        if (a->dep != CC_DEP_NONE && !a->dep_via_wp && !a->dep_file_given) {
            v[k++] = "-MF";
            v[k++] = a->dep_file;
        }
    }
    v[k++] = "-E";
    v[k] = NULL;
    v[0] = call->compiler.path;
    struct run_out r = RUN_OUT_INIT;
    r.out.max = PREPROCESSED_MAX_BYTES;
    int rc = run_captured(v, &r);
    free(v);
    if (rc == 0 && r.status != 0)
        rc = -ECHILD;
    if (rc == 0) {
        *out = r.out;
        r.out = (struct udcs_buf)UDCS_BUF_INIT(0);
    }
    run_out_release(&r);
    return rc;
}

/* ---- the store --------------------------------------------------------------------------- */

static const struct cas_output *find_output(const struct cas_action_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].path, name) == 0)
            return &r->outputs[i];
    return NULL;
}

/* ---- base directory: the checkout's path out of stored text ----------------------------
 *
 * With UDCS_BASEDIR, two checkouts share results, but what the compiler writes names files
 * by the paths it was given: a dependency file or a warning in checkout one says
 * /src/one/include/a.h where checkout two's compiler would say /src/two/include/a.h. So
 * stored text has the checkout's root (the directory right under the base directory that
 * holds the working directory) replaced by a marker, and a replay puts the current one
 * back: exactly what the compiler would have written there. */
#define ROOT_MARKER '\x01'

/* The checkout root for the working directory, or 0 when UDCS_BASEDIR does not apply. */
static int checkout_root(const struct cc_call *call, char *root, size_t len)
{
    const char *base = call->set->basedir;
    size_t blen = base ? strlen(base) : 0;
    while (blen > 1 && base[blen - 1] == '/')
        blen--;
    if (!blen || strncmp(call->cwd, base, blen) != 0 ||
        (call->cwd[blen] != '/' && call->cwd[blen] != '\0'))
        return 0;
    const char *rest = call->cwd + blen;
    size_t comp = rest[0] == '/' ? 1 + strcspn(rest + 1, "/") : 0;
    snprintf(root, len, "%.*s", (int)(blen + comp), call->cwd);
    return 1;
}

static int is_path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '/' || c == '+' || c == '~';
}

/* Copy `in` to `out`, replacing each path that starts with `from` (followed by '/') by
 * `to`. With `from` NULL, each marker is replaced by `to`. */
static int rewrite_root(const struct udcs_buf *in, const char *from, const char *to,
                        struct udcs_buf *out)
{
    const char *p = in->data ? in->data : "", *end = p + in->len;
    size_t flen = from ? strlen(from) : 0;
    int rc = 0;
    while (p < end && rc == 0) {
        int at_start = p == in->data || !is_path_char(p[-1]);
        if (from && at_start && (size_t)(end - p) > flen && memcmp(p, from, flen) == 0 &&
            p[flen] == '/') {
            rc = udcs_buf_append_str(out, to);
            p += flen;
        } else if (!from && *p == ROOT_MARKER) {
            rc = udcs_buf_append_str(out, to);
            p++;
        } else {
            rc = udcs_buf_append(out, p, 1);
            p++;
        }
    }
    if (rc == 0 && !out->data)
        rc = udcs_buf_append(out, "", 0);
    return rc;
}

/* Stored form of compiler text (in place). */
static int text_to_store(const struct cc_call *call, struct udcs_buf *b)
{
    char root[PATH_MAX];
    if (!b->len || !checkout_root(call, root, sizeof(root)))
        return 0;
    struct udcs_buf t = UDCS_BUF_INIT(b->max);
    char marker[2] = { ROOT_MARKER, '\0' };
    int rc = rewrite_root(b, root, marker, &t);
    if (rc == 0) {
        udcs_buf_release(b);
        *b = t;
    } else {
        udcs_buf_release(&t);
    }
    return rc;
}

/* Compiler text as it is written here (in place). */
static int text_from_store(const struct cc_call *call, struct udcs_buf *b)
{
    char root[PATH_MAX];
    if (!b->len || !memchr(b->data, ROOT_MARKER, b->len))
        return 0;
    if (!checkout_root(call, root, sizeof(root)))
        return UDCS_ECORRUPT;   /* stored under a base directory this call does not use */
    struct udcs_buf t = UDCS_BUF_INIT(b->max);
    int rc = rewrite_root(b, NULL, root, &t);
    if (rc == 0) {
        udcs_buf_release(b);
        *b = t;
    } else {
        udcs_buf_release(&t);
    }
    return rc;
}

static int get_stream(const struct cc_call *call, const struct cas_digest *d, struct udcs_buf *b)
{
    int rc = d->size ? cas_store_get_bytes(call->store, d, b) : 0;
    return rc == 0 ? text_from_store(call, b) : rc;
}

/* The dependency file of a hit: as stored, or rewritten for this checkout. */
static int write_depfile(struct cc_call *call, const struct cas_digest *d, const char *path)
{
    if (!call->set->basedir || !*call->set->basedir)
        return cas_store_get_to_file(call->store, d, path, 0666);
    struct udcs_buf text = UDCS_BUF_INIT(256u * 1024 * 1024);
    int rc = get_stream(call, d, &text);
    struct udcs_afile af;
    if (rc == 0)
        rc = udcs_afile_open(&af, path, 0, 0666);
    if (rc == 0) {
        rc = udcs_write_full(af.fd, text.data ? text.data : "", text.len);
        rc = rc == 0 ? udcs_afile_commit(&af) : (udcs_afile_abort(&af), rc);
    }
    udcs_buf_release(&text);
    return rc;
}

/* Write a stored result out as the compiler would have: object, dependency file, stdout,
 * stderr. Returns the exit status, or a negative code when a blob is missing (the caller
 * then compiles: nothing was written to stdout or stderr yet). */
int cc_replay(struct cc_call *call, const struct cas_action_result *res)
{
    const struct cc_args *a = &call->args;
    const struct cas_output *obj = find_output(res, CC_OBJECT_OUTPUT);
    const struct cas_output *dep = find_output(res, CC_DEPFILE_OUTPUT);
    if (!obj || (a->dep != CC_DEP_NONE && !dep))
        return UDCS_ECORRUPT;
    struct udcs_buf out = UDCS_BUF_INIT(STREAM_MAX_BYTES), err = UDCS_BUF_INIT(STREAM_MAX_BYTES);
    int rc = get_stream(call, &res->stdout_digest, &out);
    if (rc == 0)
        rc = get_stream(call, &res->stderr_digest, &err);
    /* Replacing a file by rename makes ext4 (auto_da_alloc) flush the new one at once,
     * half a millisecond here, more than the rest of a hit; the compiler would have
     * replaced these files anyway, so they go first and the new ones are linked in. */
    if (rc == 0 && unlink(a->output) < 0 && errno != ENOENT)
        rc = -errno;
    if (rc == 0)
        rc = cas_store_get_to_file(call->store, &obj->digest, a->output, 0666);
    if (rc == 0 && a->dep != CC_DEP_NONE && unlink(a->dep_file) < 0 && errno != ENOENT)
        rc = -errno;
    if (rc == 0 && a->dep != CC_DEP_NONE)
        rc = write_depfile(call, &dep->digest, a->dep_file);
    if (rc == 0) {
        cc_write_stream(STDOUT_FILENO, &out);
        cc_write_stream(STDERR_FILENO, &err);
        rc = res->exit_code;
    }
    udcs_buf_release(&out);
    udcs_buf_release(&err);
    return rc;
}

/* Look `key` up: the local store, then (udcs-compile-farm) the farm's. 1 found, 0 not. */
static int ac_lookup(struct cc_call *call, const struct cas_digest *key,
                     const struct cc_farm_ops *farm, struct cas_action_result *res, int *remote)
{
    *remote = 0;
    if (cas_store_ac_get(call->store, key, res) == 0)
        return 1;
    if (farm && farm->ac_get(call, key, res) == 1) {
        *remote = 1;
        return 1;
    }
    return 0;
}

/* Direct mode: the result for the source as it is now, through the manifest. */
static int lookup_direct(struct cc_call *call, const struct cc_farm_ops *farm,
                         struct cas_action_result *res, int *remote)
{
    struct cas_action_result mres = { 0 };
    int found = 0, mremote = 0;
    if (!call->have_direct_key) {
        struct cas_digest src;
        unsigned flags = 0;
        if (cc_file_digest(call->args.source, 0, 0, &src, &flags) < 0)
            return 0;
        cc_key_direct(call, &src, &call->direct_key);
        call->have_direct_key = 1;
    }
    if (ac_lookup(call, &call->direct_key, farm, &mres, &mremote)) {
        const struct cas_output *m = find_output(&mres, CC_MANIFEST_OUTPUT);
        struct udcs_buf text = UDCS_BUF_INIT(64u * 1024 * 1024);
        struct cas_digest result;
        if (m && cas_store_get_bytes(call->store, &m->digest, &text) == 0 &&
            cc_manifest_lookup(&text, &result) == 1)
            found = ac_lookup(call, &result, farm, res, remote);
        udcs_buf_release(&text);
        *remote |= mremote && found;
    }
    cas_action_result_release(&mres);
    return found;
}

/* Store a successful compile under `key`: the object, the dependency file (when asked
 * for), stdout and stderr. Returns 0 or an error (logged; the build goes on). */
int cc_store_result(struct cc_call *call, const struct cas_digest *key, const struct run_out_view *rv,
                    const struct cc_farm_ops *farm, const char *executor, uint64_t duration_ms)
{
    const struct cc_args *a = &call->args;
    struct cas_action_result r = { 0 };
    struct cas_digest d;
    struct udcs_buf dep = UDCS_BUF_INIT(256u * 1024 * 1024), out = UDCS_BUF_INIT(STREAM_MAX_BYTES),
                    err = UDCS_BUF_INIT(STREAM_MAX_BYTES);
    int rc = cas_store_put_file(call->store, a->output, &d);
    if (rc == 0)
        rc = cas_action_result_add_output(&r, CC_OBJECT_OUTPUT, &d, 0);
    if (rc == 0 && a->dep != CC_DEP_NONE) {
        rc = udcs_read_file(a->dep_file, &dep);
        if (rc == 0)
            rc = text_to_store(call, &dep);
        if (rc == 0)
            rc = cas_store_put_bytes(call->store, dep.data ? dep.data : "", dep.len, &d);
        if (rc == 0)
            rc = cas_action_result_add_output(&r, CC_DEPFILE_OUTPUT, &d, 0);
    }
    if (rc == 0)
        rc = udcs_buf_append(&out, rv->out->data ? rv->out->data : "", rv->out->len);
    if (rc == 0)
        rc = udcs_buf_append(&err, rv->err->data ? rv->err->data : "", rv->err->len);
    if (rc == 0)
        rc = text_to_store(call, &out);
    if (rc == 0)
        rc = text_to_store(call, &err);
    if (rc == 0)
        rc = cas_store_put_bytes(call->store, out.data ? out.data : "", out.len, &r.stdout_digest);
    if (rc == 0)
        rc = cas_store_put_bytes(call->store, err.data ? err.data : "", err.len, &r.stderr_digest);
    udcs_buf_release(&dep);
    udcs_buf_release(&out);
    udcs_buf_release(&err);
    r.exit_code = 0;
    r.executor = (char *)executor;
    r.duration_ms = duration_ms;
    r.created_ms = udcs_wall_ms();
    if (rc == 0)
        rc = cas_store_ac_put(call->store, key, &r);
    if (rc == 0 && farm)
        farm->ac_put(call, key, &r);
    r.executor = NULL;
    cas_action_result_release(&r);
    if (rc < 0)
        udcs_log_warn("compile: could not store the result of %s: %s", a->source,
                      udcs_strerror(rc));
    return rc;
}

/* Add a manifest entry: under the direct key, `files` (as the compiler read them) lead
 * to `result`. */
int cc_remember(struct cc_call *call, const struct cc_file_digest *files, size_t n,
                const struct cas_digest *result, const struct cc_farm_ops *farm)
{
    struct cas_action_result old = { 0 }, rec = { 0 };
    struct udcs_buf prev = UDCS_BUF_INIT(64u * 1024 * 1024), next = UDCS_BUF_INIT(64u * 1024 * 1024);
    if (cas_store_ac_get(call->store, &call->direct_key, &old) == 0) {
        const struct cas_output *m = find_output(&old, CC_MANIFEST_OUTPUT);
        if (m && cas_store_get_bytes(call->store, &m->digest, &prev) < 0)
            udcs_buf_reset(&prev);
    }
    struct cas_digest md;
    int rc = cc_manifest_add(&prev, files, n, result, &next);
    if (rc == 0)
        rc = cas_store_put_bytes(call->store, next.data, next.len, &md);
    if (rc == 0)
        rc = cas_action_result_add_output(&rec, CC_MANIFEST_OUTPUT, &md, 0);
    if (rc == 0) {
        cas_digest_of_bytes("", 0, &rec.stdout_digest);
        rec.stderr_digest = rec.stdout_digest;
        rec.created_ms = udcs_wall_ms();
        rc = cas_store_ac_put(call->store, &call->direct_key, &rec);
    }
    if (rc == 0 && farm)
        farm->ac_put(call, &call->direct_key, &rec);
    cas_action_result_release(&old);
    cas_action_result_release(&rec);
    udcs_buf_release(&prev);
    udcs_buf_release(&next);
    return rc;
}

/* The files a compile read, as named in `names` (from its dependency file or line
 * markers), hashed now. Returns 0, or CC_UNC_* (as a positive number) when the result must
 * not be kept: a file mentions a time macro, or changed during the compile. */
int cc_digest_inputs(struct cc_call *call, char **names, size_t n_names,
                     struct cc_file_digest **out, size_t *n_out)
{
    const struct cc_settings *set = call->set;
    int scan = !(set->sloppiness & CC_SLOPPY_TIME_MACROS) && !getenv("SOURCE_DATE_EPOCH");
    uint64_t newer = set->sloppiness & CC_SLOPPY_INCLUDE_MTIME ? 0 : call->start_ns;
    struct cc_file_digest *f = calloc(n_names + 1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    size_t k = 0;
    int verdict = 0;
    for (size_t i = 0; i < n_names && verdict == 0; i++) {
        unsigned flags = 0;
        int rc = cc_file_digest(names[i], scan, newer, &f[k].digest, &flags);
        if (rc < 0) {
            udcs_log_info("compile: cannot read %s, an input of %s: %s", names[i],
                           call->args.source, udcs_strerror(rc));
            verdict = CC_UNC_HEADER_CHANGED;
            break;
        }
        if (flags & CC_FILE_TIME_MACROS)
            verdict = CC_UNC_TIME_MACROS;
        else if (flags & CC_FILE_TOO_NEW)
            verdict = CC_UNC_HEADER_CHANGED;
        if (verdict)
            udcs_log_info("compile: %s not cached: %s %s", call->args.source, names[i],
                          verdict == CC_UNC_TIME_MACROS ? "uses __DATE__ or __TIME__"
                                                        : "changed during the compile");
        /* under UDCS_BASEDIR, recorded relative to the working directory, so another
         * checkout checks its own copy of the file */
        char *rel = set->basedir && *set->basedir
                        ? cc_relative_to_cwd(names[i], call->cwd, set->basedir) : NULL;
        f[k].path = rel ? rel : strdup(names[i]);
        if (!f[k++].path)
            verdict = -ENOMEM;
    }
    if (verdict != 0) {
        cc_file_digests_free(f, k);
        return verdict;
    }
    *out = f;
    *n_out = k;
    return 0;
}

/* ---- a local compile ------------------------------------------------------------------------ */

/* Compile here, with a dependency file for direct mode; store the result when it can be
 * kept. Returns the compiler's exit status, or a negative code when it could not run. */
int cc_compile_here(struct cc_call *call, char **argv, int argc, const struct cc_farm_ops *farm)
{
    const struct cc_args *a = &call->args;
    const struct cas_digest *cpp_key = call->have_cpp_key ? &call->cpp_key : NULL;
    int direct = call->set->mode == CC_MODE_DIRECT && !cpp_key;
    char tmpdep[PATH_MAX] = "";
    char *extra[3];
    size_t n_extra = 0;
    if (direct && a->dep == CC_DEP_NONE) {
        /* we need the include list; the user did not ask for a dependency file */
        snprintf(tmpdep, sizeof(tmpdep), "%s/compile/tmp", call->set->cache_dir);
        udcs_mkdir_p(tmpdep, 0755);
        snprintf(tmpdep, sizeof(tmpdep), "%s/compile/tmp/%ld.%llu.d", call->set->cache_dir,
                 (long)getpid(), (unsigned long long)udcs_mono_ns());
        extra[n_extra++] = "-MD";
        extra[n_extra++] = "-MF";
        extra[n_extra++] = tmpdep;
    }
    char **v = argv_plus(call, argv, argc, extra, n_extra);
    if (!v)
        return -ENOMEM;
    struct run_out r = RUN_OUT_INIT;
    uint64_t t0 = udcs_mono_ms();
    int rc = run_captured(v, &r);
    free(v);
    if (rc < 0) {
        if (*tmpdep)
            unlink(tmpdep);
        run_out_release(&r);
        return rc;
    }
    uint64_t took = udcs_mono_ms() - t0;
    cc_write_stream(STDOUT_FILENO, &r.out);
    cc_write_stream(STDERR_FILENO, &r.err);
    int status = r.status;
    if (status != 0) {
        cc_count(call, CC_STAT_UNCACHEABLE(CC_UNC_COMPILE_FAILED));
    } else if (cpp_key) {
        struct run_out_view rv = { &r.out, &r.err };
        cc_count(call, CC_STAT_MISSES);
        cc_store_result(call, cpp_key, &rv, farm, "local", took);
    } else {
        /* direct mode: the include list from the dependency file */
        struct udcs_buf text = UDCS_BUF_INIT(256u * 1024 * 1024);
        char **names = NULL;
        size_t n_names = 0;
        struct cc_file_digest *files = NULL;
        size_t n_files = 0;
        int v2 = udcs_read_file(*tmpdep ? tmpdep : a->dep_file, &text);
        if (v2 == 0)
            v2 = cc_depfile_parse(text.data ? text.data : "", text.len, &names, &n_names);
        if (v2 == 0)
            v2 = cc_digest_inputs(call, names, n_names, &files, &n_files);
        if (v2 > 0) {
            cc_count(call, CC_STAT_UNCACHEABLE(v2));
        } else if (v2 < 0) {
            udcs_log_warn("compile: no include list for %s (%s); not cached", a->source,
                          udcs_strerror(v2));
            cc_count(call, CC_STAT_ERRORS);
        } else {
            struct cas_digest key;
            struct run_out_view rv = { &r.out, &r.err };
            cc_key_depend(call, files, n_files, &key);
            cc_count(call, CC_STAT_MISSES);
            if (cc_store_result(call, &key, &rv, farm, "local", took) == 0)
                cc_remember(call, files, n_files, &key, farm);
        }
        cc_file_digests_free(files, n_files);
        cc_strv_free(names, n_names);
        udcs_buf_release(&text);
    }
    if (*tmpdep)
        unlink(tmpdep);
    run_out_release(&r);
    return status;
}

/* ---- local compile slots ------------------------------------------------------------------- */

int cc_slot_acquire(struct cc_call *call, int wait)
{
    unsigned n = call->set->local_slots ? call->set->local_slots : 1;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/compile/slots", call->set->cache_dir);
    udcs_mkdir_p(path, 0755);
    unsigned first = (unsigned)getpid() % n;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (first + k) % n;
        snprintf(path, sizeof(path), "%s/compile/slots/%u", call->set->cache_dir, i);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        if (wait && k == n - 1) {
            /* all busy: wait for ours */
            close(fd);
            snprintf(path, sizeof(path), "%s/compile/slots/%u", call->set->cache_dir, first);
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0 && flock(fd, LOCK_EX) == 0)
                return fd;
            if (fd >= 0)
                close(fd);
            return -EAGAIN;
        }
        close(fd);
    }
    return -EAGAIN;
}

/* ---- the call ----------------------------------------------------------------------------- */

/* Continue in udcs-compile-farm, which sits next to this program. Returns only when that
 * is impossible. */
static void hand_over_to_farm(const char *self_path, int argc, char **argv)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", self_path);
    char *slash = strrchr(path, '/');
    if (!slash)
        return;
    snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "udcs-compile-farm");
    char **v = calloc((size_t)argc + 2, sizeof(*v));
    if (!v)
        return;
    v[0] = path;
    for (int i = 0; i < argc; i++)
        v[i + 1] = argv[i];
    setenv("UDCS_COMPILE_SELF", self_path, 1);
    execv(path, v);
    udcs_log_warn("compile: cannot run %s (%s); compiling without the farm", path,
                  strerror(errno));
    free(v);
}

/* Whether `path` exists and is not a regular file (/dev/null, a pipe): such a file is
 * never replaced by a cached one. */
static int is_special(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cc_call_run(const struct cc_settings *set, const char *self_path, int argc, char **argv,
                const struct cc_farm_ops *farm)
{
    struct cc_call call = { 0 };
    call.set = set;
    call.start_ns = wall_ns();
    char *real = NULL;
    int rc = cc_compiler_find(argv[0], self_path, &real);
    if (rc < 0) {
        if (rc == -ELOOP)
            fprintf(stderr, "udcs-compile: error: the only '%s' on PATH is udcs-compile itself; "
                    "put the directory of the real compiler after the masquerade directory "
                    "in PATH\n", argv[0]);
        else
            fprintf(stderr, "udcs-compile: error: compiler '%s' not found (%s); name it as "
                    "'udcs-compile gcc ...' or give its path\n", argv[0], udcs_strerror(rc));
        return 127;
    }
    /* the compiler runs as itself: by its real path (gcc finds cc1 relative to it) */
    char **cargv = calloc((size_t)argc + 1, sizeof(*cargv));
    if (!cargv) {
        free(real);
        return 127;
    }
    for (int i = 1; i < argc; i++)
        cargv[i] = argv[i];
    cargv[0] = real;
    if (set->disable)
        return exec_compiler(cargv);

    call.stats_path = cc_stats_path(set->cache_dir);
    if (!getcwd(call.cwd, sizeof(call.cwd)))
        call.cwd[0] = '\0';
    cc_count(&call, CC_STAT_CALLS);
    rc = cc_args_parse(argc, cargv, call.cwd, set->basedir, &call.args);
    struct stat st;
    if (rc < 0 || !call.cwd[0]) {
        cc_count(&call, CC_STAT_ERRORS);
        goto run_unchanged;
    }
    if (call.args.reason == CC_OK && stat(call.args.source, &st) < 0)
        call.args.reason = CC_UNC_SOURCE_MISSING;
    else if (call.args.reason == CC_OK &&
             (!S_ISREG(st.st_mode) || is_special(call.args.output) ||
              (call.args.dep != CC_DEP_NONE && is_special(call.args.dep_file))))
        call.args.reason = CC_UNC_STDIN;   /* compiler checks: gcc -c /dev/null -o /dev/null */
    if (call.args.reason != CC_OK) {
        udcs_log_debug("compile: not cacheable (%s%s%s): %s",
                       cc_uncacheable_name(call.args.reason), call.args.detail ? ": " : "",
                       call.args.detail ? call.args.detail : "", call.args.source ? call.args.source : "");
        cc_count(&call, CC_STAT_UNCACHEABLE(call.args.reason));
        goto run_unchanged;
    }
    rc = cc_compiler_identify(real, argv[0], set->cache_dir, &call.compiler);
    if (rc < 0) {
        udcs_log_warn("compile: cannot identify the compiler %s: %s", real, udcs_strerror(rc));
        cc_count(&call, CC_STAT_ERRORS);
        goto run_unchanged;
    }
    struct cas_store_options so = { .root = set->cache_dir, .max_size = set->max_size,
                                    .encode = { .level = 1, .workers = 0 } };
    rc = cas_store_open(&so, &call.store);
    if (rc < 0) {
        udcs_log_warn("compile: cannot open the cache %s: %s", set->cache_dir, udcs_strerror(rc));
        cc_count(&call, CC_STAT_ERRORS);
        goto run_unchanged;
    }
    call.color = isatty(STDERR_FILENO) && !call.args.color_set;

    struct cas_action_result res = { 0 };
    int remote = 0, status = -1;
    if (set->mode == CC_MODE_DIRECT && lookup_direct(&call, farm, &res, &remote)) {
        status = cc_replay(&call, &res);
        if (status >= 0)
            cc_count(&call, remote ? CC_STAT_REMOTE_HITS : CC_STAT_DIRECT_HITS);
    }
    cas_action_result_release(&res);
    if (status < 0 && set->mode == CC_MODE_PREPROCESSOR) {
        struct udcs_buf pp = UDCS_BUF_INIT(0);
        if (cc_preprocess(&call, 0, &pp) == 0) {
            cc_key_cpp(&call, &pp, &call.cpp_key);
            call.have_cpp_key = 1;
            if (ac_lookup(&call, &call.cpp_key, farm, &res, &remote) &&
                (status = cc_replay(&call, &res)) >= 0)
                cc_count(&call, remote ? CC_STAT_REMOTE_HITS : CC_STAT_PREPROCESSED_HITS);
            cas_action_result_release(&res);
        }
        udcs_buf_release(&pp);
    }
    if (status < 0 && !farm && set->farm && *set->farm &&
        cc_farm_down_check(set->cache_dir, set->farm)) {
        /* a call in the last minute found the master silent or gone: do not wait again */
        udcs_log_info("compile: the farm %s is marked down (%s/compile/farm-down); "
                      "compiling %s here", set->farm, set->cache_dir, call.args.source);
        cc_count_fallback(&call, CC_STAT_FALLBACK_FARM_DOWN);
    } else if (status < 0 && !farm && set->farm && *set->farm) {
        cas_store_close(call.store);
        call.store = NULL;
        hand_over_to_farm(self_path, argc, argv);
        rc = cas_store_open(&so, &call.store);
        if (rc < 0)
            goto run_unchanged;
    }
    if (status < 0) {
        status = farm ? farm->miss(&call, cargv, argc)
                      : cc_compile_here(&call, cargv, argc, NULL);
        if (status < 0) {
            udcs_log_warn("compile: running %s failed: %s", real, udcs_strerror(status));
            cc_count(&call, CC_STAT_ERRORS);
            goto run_unchanged;
        }
    }
    flush_stats(&call);
    cas_store_close(call.store);
    cc_compiler_release(&call.compiler);
    cc_args_release(&call.args);
    free(call.stats_path);
    free(cargv);
    free(real);
    return status;

run_unchanged:
    flush_stats(&call);
    if (call.store)
        cas_store_close(call.store);
    return exec_compiler(cargv);
}
