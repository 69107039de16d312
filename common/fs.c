/* common/fs.c - full reads/writes, atomic files and directory helpers; see fs.h. */
#include "common/fs.h"
#include "common/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t udcs_read_full(int fd, void *data, size_t len)
{
    char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t udcs_pread_full(int fd, void *data, size_t len, off_t offset)
{
    char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, offset + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int udcs_write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int udcs_pwrite_full(int fd, const void *data, size_t len, off_t offset)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        offset += n;
        len -= (size_t)n;
    }
    return 0;
}

int udcs_read_file(const char *path, struct udcs_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = udcs_buf_read_fd(out, fd);
    close(fd);
    return rc;
}

/* Split `path` into an open directory and the last component. */
static int open_parent(const char *path, int *dirfd_out, const char **name_out)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *name_out = path;
        *dirfd_out = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        *name_out = slash + 1;
        size_t dlen = slash == path ? 1 : (size_t)(slash - path);
        char *dir = strndup(path, dlen);
        if (!dir)
            return -ENOMEM;
        *dirfd_out = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(dir);
    }
    if (*dirfd_out < 0)
        return -errno;
    if (**name_out == '\0') {
        close(*dirfd_out);
        return -EISDIR;
    }
    return 0;
}

int udcs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    struct udcs_afile af;
    int rc = udcs_afile_open(&af, path, UDCS_AFILE_FSYNC, mode);
    if (rc < 0)
        return rc;
    rc = udcs_write_full(af.fd, data, len);
    if (rc < 0) {
        udcs_afile_abort(&af);
        return rc;
    }
    return udcs_afile_commit(&af);
}

int udcs_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return len ? -ENAMETOOLONG : -ENOENT;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        if (saved == '\0')
            break;
        *p = saved;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int remove_tree_at(int parent, const char *name);

/* Remove everything in the directory open as `fd` (taken, closed here); the first
 * error is returned, the rest is still removed. */
static int remove_entries(int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int r = remove_tree_at(dirfd(d), e->d_name);
        if (r < 0 && rc == 0)
            rc = r;
    }
    closedir(d);
    return rc;
}

static int remove_tree_at(int parent, const char *name)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    int rc = remove_entries(fd);
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && rc == 0)
        rc = -errno;
    return rc;
}

int udcs_remove_tree(const char *path)
{
    /* "link/" would resolve through a symlink and empty the directory it points to:
     * drop trailing slashes so a link is removed as a link. */
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (path[len] == '\0')
        return remove_tree_at(AT_FDCWD, path);
    char *trimmed = strndup(path, len);
    if (!trimmed)
        return -ENOMEM;
    int rc = remove_tree_at(AT_FDCWD, trimmed);
    free(trimmed);
    return rc;
}

int udcs_empty_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return udcs_mkdir_p(path, 0755);
    if (fd < 0)
        return -errno;
    return remove_entries(fd);
}

int udcs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Whether O_TMPFILE files can be given a name: linkat() through /proc/self/fd needs a
 * mounted /proc. Checked once per process. */
static int can_link_anonymous(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = access("/proc/self/fd", X_OK) == 0;
    return cached;
}

/* A fresh name "<target>.tmp.<pid>.<random>" for a named temporary; without a target
 * yet, ".udcs.tmp.<pid>.<random>". */
static char *temp_name_for(const char *target)
{
    if (!target)
        target = ".udcs";
    uint64_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint64_t)(uintptr_t)&r ^ (uint64_t)getpid() << 32;
    char *name = NULL;
    if (asprintf(&name, "%s.tmp.%ld.%016llx", target, (long)getpid(),
                 (unsigned long long)r) < 0)
        return NULL;
    return name;
}

static int afile_start(struct udcs_afile *af, int dirfd, const char *name, unsigned flags,
                       mode_t mode)
{
    af->dirfd = dirfd;
    af->flags = flags;
    af->temp = NULL;
    af->target = name ? strdup(name) : NULL;
    if (name && !af->target)
        return -ENOMEM;

    if (can_link_anonymous()) {
        af->fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
        if (af->fd >= 0) {
            af->is_anonymous = 1;
            return 0;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            int rc = -errno;
            free(af->target);
            return rc;
        }
    }
    af->is_anonymous = 0;
    int rc = -EEXIST;
    for (int attempt = 0; attempt < 8 && rc == -EEXIST; attempt++) {
        af->temp = temp_name_for(name);
        if (!af->temp) {
            rc = -ENOMEM;
            break;
        }
        af->fd = openat(dirfd, af->temp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
        if (af->fd >= 0)
            return 0;
        rc = -errno;
        free(af->temp);
        af->temp = NULL;
    }
    free(af->target);
    return rc;
}

int udcs_afile_openat(struct udcs_afile *af, int dirfd, const char *name, unsigned flags,
                      mode_t mode)
{
    int own = dup(dirfd);   /* the afile closes its own copy, the caller keeps theirs */
    if (own < 0)
        return -errno;
    int rc = afile_start(af, own, name, flags, mode);
    if (rc < 0)
        close(own);
    return rc;
}

int udcs_afile_open_unnamed(struct udcs_afile *af, int dirfd, unsigned flags, mode_t mode)
{
    return udcs_afile_openat(af, dirfd, NULL, flags, mode);
}

int udcs_afile_open(struct udcs_afile *af, const char *path, unsigned flags, mode_t mode)
{
    int dirfd;
    const char *name;
    int rc = open_parent(path, &dirfd, &name);
    if (rc < 0)
        return rc;
    rc = afile_start(af, dirfd, name, flags, mode);
    if (rc < 0)
        close(dirfd);
    return rc;
}

static void afile_finish(struct udcs_afile *af)
{
    if (af->temp) {
        unlinkat(af->dirfd, af->temp, 0);
        free(af->temp);
        af->temp = NULL;
    }
    if (af->fd >= 0)
        close(af->fd);
    af->fd = -1;
    close(af->dirfd);
    af->dirfd = -1;
    free(af->target);
    af->target = NULL;
}

/* Give an anonymous file the name `name` in af->dirfd (fails with EEXIST if taken). */
static int link_anonymous(struct udcs_afile *af, const char *name)
{
    char proc_path[64];
    snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", af->fd);
    if (linkat(AT_FDCWD, proc_path, af->dirfd, name, AT_SYMLINK_FOLLOW) < 0)
        return -errno;
    return 0;
}

/* Name an O_TMPFILE: linkat cannot replace, so without NOREPLACE it is linked under a
 * temporary name first and renamed over the target. */
static int commit_anonymous(struct udcs_afile *af)
{
    if (af->flags & UDCS_AFILE_NOREPLACE)
        return link_anonymous(af, af->target);
    af->temp = temp_name_for(af->target);
    if (!af->temp)
        return -ENOMEM;
    int rc = link_anonymous(af, af->temp);
    if (rc < 0) {
        free(af->temp);
        af->temp = NULL;
        return rc;
    }
    if (renameat(af->dirfd, af->temp, af->dirfd, af->target) < 0)
        return -errno;   /* afile_finish() removes the temporary name */
    free(af->temp);
    af->temp = NULL;
    return 0;
}

static int commit_named(struct udcs_afile *af)
{
    if (af->flags & UDCS_AFILE_NOREPLACE)   /* afile_finish() unlinks the temporary */
        return linkat(af->dirfd, af->temp, af->dirfd, af->target, 0) < 0 ? -errno : 0;
    if (renameat(af->dirfd, af->temp, af->dirfd, af->target) < 0)
        return -errno;
    free(af->temp);
    af->temp = NULL;
    return 0;
}

/* fsync the directory that holds `name` (relative to af->dirfd): the new entry is there,
 * which is a subdirectory when commit_as was given "ab/name". */
static int fsync_target_dir(struct udcs_afile *af)
{
    const char *slash = strrchr(af->target, '/');
    if (!slash)
        return fsync(af->dirfd) < 0 ? -errno : 0;
    char *dir = strndup(af->target, slash == af->target ? 1 : (size_t)(slash - af->target));
    if (!dir)
        return -ENOMEM;
    int fd = openat(af->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int udcs_afile_commit_as(struct udcs_afile *af, const char *name)
{
    char *copy = strdup(name);
    if (!copy) {
        udcs_afile_abort(af);
        return -ENOMEM;
    }
    free(af->target);
    af->target = copy;
    return udcs_afile_commit(af);
}

int udcs_afile_commit(struct udcs_afile *af)
{
    if (!af->target) {
        udcs_afile_abort(af);
        return -EINVAL;   /* an unnamed afile must be committed with a name */
    }
    int rc = 0;
    if ((af->flags & UDCS_AFILE_FSYNC) && fsync(af->fd) < 0)
        rc = -errno;
    /* A named temporary is closed before it takes the target name, so a failed close
     * (a write-back error) never leaves a bad file under that name. An anonymous one
     * must stay open until it is linked. */
    if (rc == 0 && !af->is_anonymous) {
        int fd = af->fd;
        af->fd = -1;
        if (close(fd) < 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = af->is_anonymous ? commit_anonymous(af) : commit_named(af);
    if (rc == 0 && (af->flags & UDCS_AFILE_FSYNC))
        rc = fsync_target_dir(af);
    afile_finish(af);
    return rc;
}

void udcs_afile_abort(struct udcs_afile *af)
{
    if (af->dirfd >= 0)
        afile_finish(af);
}

int udcs_path_is_contained(const char *path)
{
    if (!*path || *path == '/')
        return 0;
    for (const char *c = path;;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        if (c[n] == '\0')
            return 1;
        c += n + 1;
    }
}

char *udcs_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    if (dl == 0)
        return strdup(name);   /* no directory: the name alone, not "/name" */
    /* Drop every trailing slash, the root's included: "/" and "etc" give "/etc". */
    while (dl > 0 && dir[dl - 1] == '/')
        dl--;
    char *p = NULL;
    if (asprintf(&p, "%.*s/%s", (int)dl, dir, name) < 0)
        return NULL;
    return p;
}

int udcs_self_dir(char *out, size_t len)
{
    if (len < 2)
        return -ENAMETOOLONG;
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n < 0)
        return -errno;
    if ((size_t)n >= len - 1)
        return -ENAMETOOLONG;
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    return 0;
}
