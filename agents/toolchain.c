/* agents/toolchain.c - shipped toolchains: a unit may name a toolchain archive (a tar blob
 * holding a compiler's programs and the shared libraries they load, each at its absolute
 * path; udcs-compile makes them). The agent unpacks it once into
 * WORK_DIR/toolchains/HEX with libarchive's secure extraction flags, and runs the unit's
 * command inside it with bubblewrap: the unpacked tree is the whole root (read-only), the
 * unit's directory is /work, /tmp is private, and there is no network. So an agent without
 * that compiler runs exactly the client's compiler, and nothing on the agent's own system
 * can change the result. */
#include "agents/agent.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPLETE_MARK ".udcs-complete"
/* What the isolated root mounts: these directories must exist in it. */
static const char *const mount_points[] = { "work", "tmp", "dev", "proc", NULL };

/* Extract the archive at `file` into `dir` (which exists and is empty, and is given with
 * no symlink in it). Entry names must be relative and contained (checked here before they
 * are put under `dir`); libarchive refuses "..", and paths that lead through a symlink. */
static int extract(const char *file, const char *dir, char *why, size_t why_len)
{
    struct archive *in = archive_read_new();
    struct archive *out = archive_write_disk_new();
    int rc = 0;
    if (!in || !out) {
        rc = -ENOMEM;
        goto done;
    }
    archive_read_support_format_tar(in);
    archive_read_support_filter_all(in);
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                            ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_NO_OVERWRITE);
    if (archive_read_open_filename(in, file, 64 * 1024) != ARCHIVE_OK) {
        snprintf(why, why_len, "the toolchain archive cannot be read: %s",
                 archive_error_string(in));
        rc = UDCS_ECORRUPT;
        goto done;
    }
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        int type = archive_entry_filetype(e);
        if (!name || !udcs_path_is_contained(name) ||
            (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)) {
            snprintf(why, why_len, "the toolchain archive holds '%s', which is not a relative "
                     "file, directory or symlink", name ? name : "?");
            rc = UDCS_ECORRUPT;
            break;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        archive_entry_set_pathname(e, path);
        if (archive_write_header(out, e) != ARCHIVE_OK) {
            snprintf(why, why_len, "unpacking '%s' of the toolchain failed: %s", name,
                     archive_error_string(out));
            rc = UDCS_ECORRUPT;
            break;
        }
        const void *buf;
        size_t size;
        la_int64_t off;
        while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK)
                break;
        if (r != ARCHIVE_EOF || archive_write_finish_entry(out) != ARCHIVE_OK) {
            snprintf(why, why_len, "unpacking '%s' of the toolchain failed: %s", name,
                     archive_error_string(r != ARCHIVE_EOF ? in : out));
            rc = UDCS_ECORRUPT;
            break;
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        snprintf(why, why_len, "the toolchain archive is damaged: %s", archive_error_string(in));
        rc = UDCS_ECORRUPT;
    }
done:
    if (in)
        archive_read_free(in);
    if (out)
        archive_write_free(out);
    return rc;
}

int agent_toolchain_prepare(struct agent_daemon *d, struct cas *c, const struct cas_digest *tc,
                            char *root, size_t root_len, char *why, size_t why_len)
{
    char hex[CAS_HEX_LEN + 1], base[PATH_MAX], mark[PATH_MAX], lock[PATH_MAX];
    cas_digest_hex(tc, hex);
    snprintf(base, sizeof(base), "%s/toolchains", d->cfg.work_dir);
    snprintf(root, root_len, "%s/%s", base, hex);
    snprintf(mark, sizeof(mark), "%s/%s", root, COMPLETE_MARK);
    if (access(mark, F_OK) == 0)
        return 0;
    int rc = udcs_mkdir_p(base, 0755);
    snprintf(lock, sizeof(lock), "%s/%s.lock", base, hex);
    int lfd = rc == 0 ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot lock %s: %s", lock, udcs_strerror(rc));
        if (lfd >= 0)
            close(lfd);
        return rc;
    }
    if (access(mark, F_OK) == 0) {   /* another slot unpacked it meanwhile */
        close(lfd);
        return 0;
    }
    char tmpdir[PATH_MAX], file[PATH_MAX];
    snprintf(tmpdir, sizeof(tmpdir), "%s/%s.unpacking", base, hex);
    snprintf(file, sizeof(file), "%s/%s.tar", base, hex);
    udcs_remove_tree(tmpdir);
    udcs_remove_tree(root);
    rc = udcs_mkdir_p(tmpdir, 0755);
    if (rc == 0 && (rc = cas_get_to_file(c, tc, file, 0644)) < 0)
        snprintf(why, why_len, "cannot fetch the toolchain %s: %s", hex, udcs_strerror(rc));
    char *real = rc == 0 ? realpath(tmpdir, NULL) : NULL;
    if (rc == 0 && !real)
        rc = -errno;
    if (rc == 0)
        rc = extract(file, real, why, why_len);
    free(real);
    for (int i = 0; rc == 0 && mount_points[i]; i++) {
        char mp[PATH_MAX];
        snprintf(mp, sizeof(mp), "%s/%s", tmpdir, mount_points[i]);
        if (mkdir(mp, 0755) < 0 && errno != EEXIST) {
            rc = -errno;
            snprintf(why, why_len, "cannot prepare the toolchain root: %s", udcs_strerror(rc));
        }
    }
    if (rc == 0 && rename(tmpdir, root) < 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot put the toolchain in place: %s", udcs_strerror(rc));
    }
    if (rc == 0) {
        int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        rc = fd < 0 ? -errno : 0;
        if (fd >= 0)
            close(fd);
        udcs_log_info("agent: unpacked toolchain %s", hex);
    } else {
        udcs_remove_tree(tmpdir);
    }
    unlink(file);
    close(lfd);
    return rc;
}

char **agent_toolchain_argv(const char *toolchain_root, const char *unit_root, const char *cwd_rel,
                            char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **v = calloc(n + 32, sizeof(*v));
    char *chdir_to = NULL;
    if (!v || asprintf(&chdir_to, "/work%s%s", cwd_rel ? "/" : "", cwd_rel ? cwd_rel : "") < 0) {
        free(v);
        return NULL;
    }
    size_t k = 0;
    const char *fixed[] = { "bwrap", "--ro-bind", toolchain_root, "/", "--bind", unit_root,
                            "/work", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                            "--unshare-all", "--die-with-parent", "--new-session",
                            "--setenv", "TMPDIR", "/tmp", "--setenv", "HOME", "/work",
                            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
                            "--chdir" };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
        v[k++] = (char *)fixed[i];
    v[k++] = chdir_to;   /* freed by agent_toolchain_argv_free */
    v[k++] = "--";
    for (size_t i = 0; i < n; i++)
        v[k++] = argv[i];
    v[k] = NULL;
    return v;
}

void agent_toolchain_argv_free(char **v)
{
    if (!v)
        return;
    for (size_t i = 0; v[i]; i++) {
        if (strcmp(v[i], "--chdir") == 0 && v[i + 1]) {
            free(v[i + 1]);
            break;
        }
    }
    free(v);
}
