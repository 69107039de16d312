/* toolchains/compile_compiler.c - the real compiler behind a call, and its identity.
 *
 * Identity is content: the driver's bytes, the bytes of the programs it runs (cc1,
 * cc1plus, as for gcc; clang is one binary) and the target it compiles for. Hashing those
 * costs tens of milliseconds and four short runs of the driver, so the result is kept in
 * a small record per compiler path, trusted while every file in it has the size, mtime
 * and inode it had (a package upgrade renames new files into place). */
#include "toolchains/compile_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/proc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_MAGIC "udcs-compiler 1"
#define PROBE_TIMEOUT_MS 10000
#define MAX_PROGRAMS (1 + CC_MAX_PROGRAMS)   /* the driver and its programs */

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int cc_compiler_find(const char *name, const char *self_path, char **path_out)
{
    *path_out = NULL;
    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0)
            return -errno;
        if (self_path && same_file(name, self_path))
            return -ELOOP;
        char *real = realpath(name, NULL);
        *path_out = real ? real : strdup(name);
        return *path_out ? 0 : -ENOMEM;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int skipped_self = 0;
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char candidate[PATH_MAX];
        if (len == 0)
            snprintf(candidate, sizeof(candidate), "./%s", name);
        else
            snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, p, name);
        struct stat st;
        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) {
            if (self_path && same_file(candidate, self_path)) {
                skipped_self = 1;   /* a masquerade link to us: keep looking further down */
            } else {
                /* keep the name as found (not resolved): gcc finds cc1 relative to it */
                *path_out = candidate[0] == '/' ? strdup(candidate) : realpath(candidate, NULL);
                return *path_out ? 0 : -ENOMEM;
            }
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    return skipped_self ? -ELOOP : -ENOENT;
}

int cc_run_output(char *const *argv, struct udcs_buf *out)
{
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.in.mode = UDCS_PROC_NULL;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = out;
    p.err.mode = UDCS_PROC_NULL;
    p.timeout_ms = PROBE_TIMEOUT_MS;
    int rc = udcs_proc_run(&p);
    return rc < 0 ? rc : p.exit_code == 0 ? 0 : -ECHILD;
}

/* Run `exe arg` and return the first line of its output (malloc()ed), or NULL. */
static char *probe(const char *exe, const char *arg)
{
    char *argv[] = { (char *)exe, (char *)arg, NULL };
    struct udcs_buf out = UDCS_BUF_INIT(64 * 1024);
    char *line = NULL;
    if (cc_run_output(argv, &out) == 0 && out.data) {
        size_t len = strcspn(out.data, "\r\n");
        line = len ? strndup(out.data, len) : NULL;
    }
    udcs_buf_release(&out);
    return line;
}

size_t cc_compiler_programs(const char *driver, enum cc_family family, char **out,
                            const char **names, size_t max)
{
    size_t n = 0;
    if (family != CC_FAMILY_GCC)
        return 0;   /* clang is one binary */
    static const char *const progs[] = { "cc1", "cc1plus", "as" };
    for (size_t i = 0; i < 3 && n < max; i++) {
        char ask[64];
        snprintf(ask, sizeof(ask), "-print-prog-name=%s", progs[i]);
        char *p = probe(driver, ask);
        char *path = NULL;
        if (p && p[0] == '/' && access(p, X_OK) == 0)
            path = strdup(p);
        else if (p && strchr(p, '/') == NULL)
            cc_compiler_find(p, NULL, &path);   /* "as" is looked up in PATH by the driver */
        free(p);
        if (path) {
            if (names)
                names[n] = progs[i];
            out[n++] = path;
        }
    }
    return n;
}

struct program {
    char *path;
    struct stat st;
};

static int stat_matches(const struct stat *st, unsigned long long size, long long sec,
                        long nsec, unsigned long long ino)
{
    return (unsigned long long)st->st_size == size && st->st_mtim.tv_sec == sec &&
           st->st_mtim.tv_nsec == nsec && (unsigned long long)st->st_ino == ino;
}

static char *record_path(const char *cache_dir, const char *path)
{
    struct cas_digest d;
    char hex[CAS_HEX_LEN + 1], *out = NULL;
    cas_digest_of_bytes(path, strlen(path), &d);
    if (asprintf(&out, "%s/compile/compilers/%s", cache_dir, cas_digest_hex(&d, hex)) < 0)
        return NULL;
    return out;
}

/* Read a record; 0 when it is there and every file in it is unchanged. */
static int record_load(const char *file, const char *path, struct cc_compiler *c)
{
    struct udcs_buf b = UDCS_BUF_INIT(64 * 1024);
    if (udcs_read_file(file, &b) < 0 || !b.data) {
        udcs_buf_release(&b);
        return -ENOENT;
    }
    int ok = 0, files = 0;
    char *save = NULL;
    for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long size, ino;
        long long sec;
        long nsec;
        int used = 0;
        char name[16];
        if (strcmp(line, RECORD_MAGIC) == 0) {
            ok = 1;
        } else if (sscanf(line, "file %llu %lld %ld %llu %n", &size, &sec, &nsec, &ino, &used) == 4 &&
                   used > 0) {
            struct stat st;
            const char *f = line + used;
            if (stat(f, &st) < 0 || !stat_matches(&st, size, sec, nsec, ino) ||
                (files == 0 && strcmp(f, path) != 0))
                ok = 0;
            files++;
        } else if (strncmp(line, "hex ", 4) == 0 && strlen(line + 4) == CAS_HEX_LEN) {
            memcpy(c->hex, line + 4, CAS_HEX_LEN + 1);
        } else if (strncmp(line, "driver ", 7) == 0 && strlen(line + 7) == CAS_HEX_LEN) {
            memcpy(c->driver_hex, line + 7, CAS_HEX_LEN + 1);
        } else if (strncmp(line, "target ", 7) == 0) {
            snprintf(c->target, sizeof(c->target), "%s", line + 7);
        } else if (sscanf(line, "prog %15s %n", name, &used) == 1 && used > 0 &&
                   strlen(line + used) == CAS_HEX_LEN && c->n_programs < CC_MAX_PROGRAMS) {
            struct cc_program *pr = &c->programs[c->n_programs++];
            snprintf(pr->name, sizeof(pr->name), "%s", name);
            memcpy(pr->hex, line + used, CAS_HEX_LEN + 1);
        }
        if (!ok)
            break;
    }
    udcs_buf_release(&b);
    /* every file after the driver is a program with its digest (records written before
     * the digests were kept lack them: those are made again) */
    return ok && files > 0 && c->n_programs == (size_t)files - 1 && c->hex[0] &&
           c->driver_hex[0] ? 0 : -ESTALE;
}

/* Hash the driver and what it runs; fill `c`; write the record. */
static int identify_fresh(const char *path, const char *file, enum cc_family family,
                          struct cc_compiler *c)
{
    struct program progs[MAX_PROGRAMS] = { { 0 } };
    size_t n = 0;
    progs[n++].path = strdup(path);
    char *found[MAX_PROGRAMS - 1];
    const char *names[MAX_PROGRAMS - 1];
    size_t nf = cc_compiler_programs(path, family, found, names, MAX_PROGRAMS - 1);
    for (size_t i = 0; i < nf; i++) {
        progs[n++].path = found[i];
        snprintf(c->programs[i].name, sizeof(c->programs[i].name), "%s", names[i]);
    }
    c->n_programs = nf;
    struct cas_hasher h;
    int rc = cas_hasher_init(&h);
    if (rc < 0)
        goto out;
    char *target = probe(path, "-dumpmachine");
    snprintf(c->target, sizeof(c->target), "%s", target ? target : "unknown");
    free(target);
    cas_hasher_update(&h, RECORD_MAGIC, sizeof(RECORD_MAGIC));
    cas_hasher_update(&h, c->target, strlen(c->target) + 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct cas_digest d;
        char hex[CAS_HEX_LEN + 1];
        if (!progs[i].path) {
            rc = -ENOMEM;
        } else if (stat(progs[i].path, &progs[i].st) < 0) {
            rc = -errno;
        } else if ((rc = cas_digest_of_file(progs[i].path, &d)) == 0) {
            cas_digest_hex(&d, hex);
            memcpy(i == 0 ? c->driver_hex : c->programs[i - 1].hex, hex, sizeof(hex));
            cas_hasher_update(&h, hex, CAS_HEX_LEN);
        }
    }
    struct cas_digest all;
    cas_hasher_final(&h, &all);
    cas_hasher_release(&h);
    if (rc < 0)
        goto out;
    cas_digest_hex(&all, c->hex);

    struct udcs_buf rec = UDCS_BUF_INIT(64 * 1024);
    udcs_buf_appendf(&rec, "%s\n", RECORD_MAGIC);
    for (size_t i = 0; i < n; i++)
        udcs_buf_appendf(&rec, "file %llu %lld %ld %llu %s\n",
                         (unsigned long long)progs[i].st.st_size,
                         (long long)progs[i].st.st_mtim.tv_sec, progs[i].st.st_mtim.tv_nsec,
                         (unsigned long long)progs[i].st.st_ino, progs[i].path);
    udcs_buf_appendf(&rec, "hex %s\ndriver %s\ntarget %s\n", c->hex, c->driver_hex, c->target);
    for (size_t i = 0; i < c->n_programs; i++)
        udcs_buf_appendf(&rec, "prog %s %s\n", c->programs[i].name, c->programs[i].hex);
    if (file && rec.data) {
        char *dir = strdup(file);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash) {
            *slash = '\0';
            udcs_mkdir_p(dir, 0755);
        }
        free(dir);
        struct udcs_afile af;
        if (udcs_afile_open(&af, file, 0, 0644) == 0) {
            if (udcs_write_full(af.fd, rec.data, rec.len) == 0)
                udcs_afile_commit(&af);
            else
                udcs_afile_abort(&af);
        }
    }
    udcs_buf_release(&rec);
out:
    for (size_t i = 0; i < n; i++)
        free(progs[i].path);
    return rc;
}

int cc_compiler_identify(const char *path, const char *name, const char *cache_dir,
                         struct cc_compiler *out)
{
    memset(out, 0, sizeof(*out));
    out->path = strdup(path);
    const char *base = strrchr(name, '/');
    out->name = strdup(base ? base + 1 : name);
    if (!out->path || !out->name)
        return -ENOMEM;
    enum cc_family family = strstr(out->name, "clang") ? CC_FAMILY_CLANG : CC_FAMILY_GCC;
    char *file = cache_dir ? record_path(cache_dir, path) : NULL;
    int rc = file ? record_load(file, path, out) : -ENOENT;
    if (rc < 0) {
        memset(out->hex, 0, sizeof(out->hex));
        memset(out->driver_hex, 0, sizeof(out->driver_hex));
        memset(out->programs, 0, sizeof(out->programs));
        out->n_programs = 0;
        rc = identify_fresh(path, file, family, out);
        if (rc == 0)
            udcs_log_debug("compile: identified %s: %s (target %s)", path, out->hex, out->target);
    }
    free(file);
    return rc;
}

void cc_compiler_release(struct cc_compiler *c)
{
    free(c->path);
    free(c->name);
    memset(c, 0, sizeof(*c));
}
