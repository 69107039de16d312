/* common/fs.h - file helpers: full reads and writes, atomic file replacement, directories.
 *
 * Every loop over read(2)/write(2) that retries on EINTR and continues after a short
 * transfer lives here, written once. Files that must never be seen half-written are
 * produced through struct udcs_afile: bytes go to an invisible temporary file in the
 * target's directory, and only a complete file is given the target's name. */
#ifndef UDCS_COMMON_FS_H
#define UDCS_COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

/* Read exactly `len` bytes unless end of file comes first. Returns the number of bytes
 * read (less than `len` only at end of file) or -errno. */
ssize_t udcs_read_full(int fd, void *data, size_t len);
ssize_t udcs_pread_full(int fd, void *data, size_t len, off_t offset);

/* Write all `len` bytes. Returns 0 or -errno. */
int udcs_write_full(int fd, const void *data, size_t len);
int udcs_pwrite_full(int fd, const void *data, size_t len, off_t offset);

/* Read a whole file into `out` (appending; out->max bounds it). Returns 0, -errno or
 * UDCS_ETOOBIG. */
int udcs_read_file(const char *path, struct udcs_buf *out);

/* Replace `path` with `data`: a temporary file in the same directory, fsync, rename over
 * the target, fsync of the directory. Readers see the old or the new file, never a part.
 * Returns 0 or -errno. */
int udcs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Create `path` and any missing parents with `mode`. Existing directories are fine.
 * Returns 0 or -errno (-ENOTDIR when a component is a file). */
int udcs_mkdir_p(const char *path, mode_t mode);

/* Remove `path` and everything below it. A missing path is not an error. Returns 0 or
 * the first -errno met (it keeps going and removes what it can). */
int udcs_remove_tree(const char *path);

/* Remove everything inside the directory `path` but keep the directory itself (making
 * it when it does not exist). Cheaper than removing and recreating it where directory
 * operations are slow. Returns 0 or the first -errno met. */
int udcs_empty_dir(const char *path);

/* fsync the directory holding `path` (or `path` itself when it is a directory). */
int udcs_fsync_dir(const char *dir);

enum udcs_afile_flags {
    UDCS_AFILE_NOREPLACE = 1 << 0, /* commit fails with -EEXIST if the target exists */
    UDCS_AFILE_FSYNC     = 1 << 1, /* fsync the file and its directory on commit */
};

/* A file being written that appears under its final name only when complete.
 *
 * Where the file system allows it, the temporary is an O_TMPFILE with no name at all, so
 * a crash leaves nothing behind; otherwise it is "<name>.tmp.<pid>.<random>" in the same
 * directory, removed by abort. Use: open, write to `fd`, then commit or abort. */
struct udcs_afile {
    int fd;                 /* write here */
    int dirfd;              /* the target's directory */
    unsigned flags;
    int is_anonymous;       /* O_TMPFILE: linked into place on commit */
    char *target;           /* final name, relative to dirfd; NULL until known */
    char *temp;             /* named temporary, relative to dirfd; NULL if anonymous */
};

/* Start a file that will become `path` with permissions `mode`. The directory must exist.
 * Returns 0 or -errno. On failure `af` needs no abort. */
int udcs_afile_open(struct udcs_afile *af, const char *path, unsigned flags, mode_t mode);

/* Same, with the target named relative to an open directory `dirfd` (kept open by the
 * caller until commit or abort). */
int udcs_afile_openat(struct udcs_afile *af, int dirfd, const char *name, unsigned flags,
                      mode_t mode);

/* Start a file in `dirfd` whose name is decided only at the end (content-addressed
 * files are named by what they hold). Commit it with udcs_afile_commit_as(). */
int udcs_afile_open_unnamed(struct udcs_afile *af, int dirfd, unsigned flags, mode_t mode);

/* Commit under `name`, relative to the directory given at open (it may point into a
 * subdirectory on the same file system). Same results as udcs_afile_commit(). */
int udcs_afile_commit_as(struct udcs_afile *af, const char *name);

/* Give the complete file its name and close it. With UDCS_AFILE_NOREPLACE, an existing
 * target is left alone and -EEXIST returned (the new bytes are dropped). Returns 0 or
 * -errno; on any return the afile is finished and must not be used again. */
int udcs_afile_commit(struct udcs_afile *af);

/* Drop the file: nothing appears under the target name. Safe after a failed commit. */
void udcs_afile_abort(struct udcs_afile *af);

/* Whether `path` is relative and stays below its starting directory: not empty, not
 * absolute, no ".." component and no empty component ("a//b", "a/"). A "." component is
 * refused too, so each path has one spelling. */
int udcs_path_is_contained(const char *path);

/* A path joined from `dir` and `name` with one slash, in a malloc()ed string the caller
 * frees. NULL when out of memory. */
char *udcs_path_join(const char *dir, const char *name);

/* The directory of the running program (/proc/self/exe without its last part) into `out`:
 * where a program finds what is installed beside it. 0, or -errno. */
int udcs_self_dir(char *out, size_t len);

#endif
