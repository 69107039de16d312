/* toolchains/compile_package.c - toolchain shipping (udcs-compile-farm only): the exact
 * compiler of this machine as one tar blob, so an agent that lacks it can still compile
 * for us (icecream's answer to "the agents have another compiler").
 *
 * The archive holds the driver, the programs it runs for a compile (cc1, cc1plus, as) and
 * every shared library they load (from ldd, with the dynamic loader), each at its absolute
 * path; symlinks met on the way (/usr/bin/gcc -> gcc-12, /lib64 -> usr/lib64, libfoo.so.1
 * -> libfoo.so.1.2.3) are kept as symlinks and followed, so files are always stored under
 * their real paths and no entry leads through a symlink. Entries carry no owner and no
 * time: the same compiler always makes the same blob. The agent unpacks it and runs the
 * compile with the tree as its whole root (agents/toolchain.c). Built once per compiler
 * identity; the blob's digest is remembered in the action cache. */
#include "toolchains/compile_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/proc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACKAGE_KEY_VERSION "udcs-toolchain-package 1"
#define PACKAGE_OUTPUT "package"
#define MAX_SYMLINK_HOPS 40

struct pkg {
    struct archive *a;
    char **added;
    size_t n_added;
    int rc;
    char why[512];
};

static int added(struct pkg *p, const char *name)
{
    for (size_t i = 0; i < p->n_added; i++)
        if (strcmp(p->added[i], name) == 0)
            return 1;
    char **v = realloc(p->added, (p->n_added + 1) * sizeof(*v));
    if (!v || !(v[p->n_added] = strdup(name))) {
        p->rc = -ENOMEM;
        if (v)
            p->added = v;
        return 1;
    }
    p->added = v;
    p->n_added++;
    return 0;
}

static struct archive_entry *entry_new(const char *name, mode_t type, mode_t perm)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return NULL;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    return e;
}

static void add_file(struct pkg *p, const char *path, const struct stat *st)
{
    struct archive_entry *e = entry_new(path + 1, AE_IFREG, st->st_mode & 0755);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!e || fd < 0) {
        p->rc = fd < 0 ? -errno : -ENOMEM;
        snprintf(p->why, sizeof(p->why), "cannot read %s", path);
        goto out;
    }
    archive_entry_set_size(e, st->st_size);
    if (archive_write_header(p->a, e) != ARCHIVE_OK) {
        p->rc = UDCS_EFORMAT;
        snprintf(p->why, sizeof(p->why), "%s: %s", path, archive_error_string(p->a));
        goto out;
    }
    char buf[64 * 1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (archive_write_data(p->a, buf, (size_t)n) != n) {
            p->rc = UDCS_EFORMAT;
            snprintf(p->why, sizeof(p->why), "%s: %s", path, archive_error_string(p->a));
            break;
        }
out:
    if (fd >= 0)
        close(fd);
    if (e)
        archive_entry_free(e);
}

/* Add `path` (absolute): the symlinks on the way as symlinks, then what they lead to. */
static void add_path(struct pkg *p, const char *path, int hops)
{
    if (p->rc < 0 || path[0] != '/' || hops > MAX_SYMLINK_HOPS)
        return;
    char cur[PATH_MAX];
    size_t len = 0;
    for (const char *s = path; *s && p->rc == 0;) {
        while (*s == '/')
            s++;
        size_t clen = strcspn(s, "/");
        if (!clen)
            break;
        if (len + clen + 2 >= sizeof(cur))
            return;
        cur[len++] = '/';
        memcpy(cur + len, s, clen);
        len += clen;
        cur[len] = '\0';
        s += clen;
        struct stat st;
        if (lstat(cur, &st) < 0)
            return;   /* what a program merely mentions may not exist */
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t t = readlink(cur, target, sizeof(target) - 1);
            if (t <= 0)
                return;
            target[t] = '\0';
            if (!added(p, cur + 1)) {
                struct archive_entry *e = entry_new(cur + 1, AE_IFLNK, 0777);
                if (e) {
                    archive_entry_set_symlink(e, target);
                    if (archive_write_header(p->a, e) != ARCHIVE_OK)
                        p->rc = UDCS_EFORMAT;
                    archive_entry_free(e);
                }
            }
            char next[PATH_MAX * 2];
            if (target[0] == '/') {
                snprintf(next, sizeof(next), "%s%s", target, s);
            } else {
                char *slash = strrchr(cur, '/');
                snprintf(next, sizeof(next), "%.*s/%s%s", (int)(slash - cur), cur, target, s);
            }
            add_path(p, next, hops + 1);
            return;
        }
        if (*s == '\0' && S_ISREG(st.st_mode) && !added(p, cur + 1))
            add_file(p, cur, &st);
    }
}

/* The shared libraries (and loader) `exe` loads, from ldd's answer. */
static void add_libraries(struct pkg *p, const char *exe)
{
    char *argv[] = { "ldd", (char *)exe, NULL };
    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    if (cc_run_output(argv, &out) == 0 && out.data) {
        char *save = NULL;
        for (char *line = strtok_r(out.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *arrow = strstr(line, "=> ");
            char *path = arrow ? arrow + 3 : line;
            while (*path == ' ' || *path == '\t')
                path++;
            if (*path != '/')
                continue;   /* linux-vdso.so.1 and "not found" */
            path[strcspn(path, " \t(")] = '\0';
            add_path(p, path, 0);
        }
    }
    udcs_buf_release(&out);
}

static int build(const struct cc_call *call, const char *file, char *why, size_t why_len)
{
    struct pkg p = { 0 };
    p.a = archive_write_new();
    if (!p.a)
        return -ENOMEM;
    archive_write_set_format_pax_restricted(p.a);
    archive_write_add_filter_none(p.a);
    if (archive_write_open_filename(p.a, file) != ARCHIVE_OK) {
        snprintf(why, why_len, "cannot write %s: %s", file, archive_error_string(p.a));
        archive_write_free(p.a);
        return UDCS_EFORMAT;
    }
    char *progs[4];
    progs[0] = strdup(call->compiler.path);
    size_t n = progs[0] ? 1 + cc_compiler_programs(call->compiler.path, call->args.family,
                                                   progs + 1, NULL, 3) : 0;
    for (size_t i = 0; i < n; i++) {
        if (p.rc == 0) {
            add_path(&p, progs[i], 0);
            char *real = realpath(progs[i], NULL);
            if (real)
                add_libraries(&p, real);
            free(real);
        }
        free(progs[i]);
    }
    if (archive_write_close(p.a) != ARCHIVE_OK && p.rc == 0)
        p.rc = UDCS_EFORMAT;
    archive_write_free(p.a);
    if (p.rc < 0)
        snprintf(why, why_len, "%s", p.why[0] ? p.why : udcs_strerror(p.rc));
    for (size_t i = 0; i < p.n_added; i++)
        free(p.added[i]);
    free(p.added);
    return p.rc;
}

int cc_toolchain_package(struct cc_call *call, struct cas *cas, struct cas_digest *out)
{
    struct cas_digest key;
    struct cas_hasher h;
    cas_hasher_init(&h);
    cas_hasher_update(&h, PACKAGE_KEY_VERSION, sizeof(PACKAGE_KEY_VERSION));
    cas_hasher_update(&h, call->compiler.hex, strlen(call->compiler.hex));
    cas_hasher_final(&h, &key);
    cas_hasher_release(&h);

    struct cas_action_result rec = { 0 };
    int rc = cas_store_ac_get(cas_local(cas), &key, &rec);
    if (rc == 0 && rec.n_outputs == 1 && strcmp(rec.outputs[0].path, PACKAGE_OUTPUT) == 0 &&
        cas_store_has(cas_local(cas), &rec.outputs[0].digest)) {
        *out = rec.outputs[0].digest;
        rc = cas_ac_put(cas, &key, &rec);   /* makes sure the farm has the blob too */
        cas_action_result_release(&rec);
        return rc;
    }
    cas_action_result_release(&rec);

    char file[PATH_MAX], why[512] = "";
    snprintf(file, sizeof(file), "%s/compile/tmp", call->set->cache_dir);
    udcs_mkdir_p(file, 0755);
    snprintf(file, sizeof(file), "%s/compile/tmp/toolchain.%ld.tar", call->set->cache_dir,
             (long)getpid());
    rc = build(call, file, why, sizeof(why));
    if (rc == 0)
        rc = cas_put_file(cas, file, out);
    unlink(file);
    if (rc < 0) {
        udcs_log_warn("compile: cannot package the compiler %s: %s", call->compiler.path,
                      why[0] ? why : udcs_strerror(rc));
        return rc;
    }
    struct cas_action_result r = { 0 };
    rc = cas_action_result_add_output(&r, PACKAGE_OUTPUT, out, 0);
    cas_digest_of_bytes("", 0, &r.stdout_digest);
    r.stderr_digest = r.stdout_digest;
    if (rc == 0)
        rc = cas_ac_put(cas, &key, &r);
    cas_action_result_release(&r);
    char hex[CAS_HEX_LEN + 1];
    udcs_log_info("compile: packaged %s as toolchain %s (%llu bytes)", call->compiler.path,
                  cas_digest_hex(out, hex), (unsigned long long)out->size);
    return rc;
}
