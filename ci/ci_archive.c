/* ci/ci_archive.c - a step's outputs as one tar (libarchive): written from the files the
 * command left, extracted on a hit with libarchive's secure flags. The store compresses
 * the blob, so the tar itself is not. */
#include "ci/ci_internal.h"
#include "common/err.h"
#include "common/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CI_ARCHIVE_BLOCK_BYTES (64 * 1024)

/* Copy one file's data from the disk reader to the tar. */
static int copy_data(struct archive *disk, struct archive *out)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(disk, &buf, &len, &off)) == ARCHIVE_OK)
        if (archive_write_data(out, buf, len) < 0)
            return ARCHIVE_FATAL;
    return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

static int add_path(struct archive *out, const char *path)
{
    struct archive *disk = archive_read_disk_new();
    if (!disk)
        return -ENOMEM;
    /* Links are kept as links: following one could archive files from outside. */
    archive_read_disk_set_symlink_physical(disk);
    archive_read_disk_set_standard_lookup(disk);
    int rc = 0;
    if (archive_read_disk_open(disk, path) != ARCHIVE_OK) {
        udcs_log_error("ci: cannot read output %s: %s", path, archive_error_string(disk));
        rc = UDCS_EFOREIGN;
    }
    for (;;) {
        if (rc < 0)
            break;
        struct archive_entry *e = archive_entry_new();
        int r = archive_read_next_header2(disk, e);
        if (r == ARCHIVE_EOF) {
            archive_entry_free(e);
            break;
        }
        if (r < ARCHIVE_WARN) {
            udcs_log_error("ci: reading output %s: %s", path, archive_error_string(disk));
            archive_entry_free(e);
            rc = UDCS_EFOREIGN;
            break;
        }
        archive_read_disk_descend(disk);
        if (archive_write_header(out, e) < ARCHIVE_WARN ||
            (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 &&
             copy_data(disk, out) < ARCHIVE_WARN)) {
            udcs_log_error("ci: archiving %s: %s", archive_entry_pathname(e),
                           archive_error_string(out) ? archive_error_string(out)
                                                     : archive_error_string(disk));
            rc = UDCS_EFOREIGN;
        }
        archive_entry_free(e);
    }
    archive_read_close(disk);
    archive_read_free(disk);
    return rc;
}

int ci_archive_write(char *const *paths, size_t n, int fd)
{
    struct archive *out = archive_write_new();
    if (!out)
        return -ENOMEM;
    int rc = 0;
    if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
        archive_write_open_fd(out, fd) != ARCHIVE_OK) {
        udcs_log_error("ci: cannot start the outputs archive: %s", archive_error_string(out));
        rc = UDCS_EFOREIGN;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stat st;
        if (lstat(paths[i], &st) < 0) {
            udcs_log_warn("ci: output %s was not made by the step (%s); it is left out of "
                          "the cached result", paths[i], strerror(errno));
            continue;
        }
        rc = add_path(out, paths[i]);
    }
    if (archive_write_close(out) != ARCHIVE_OK && rc == 0) {
        udcs_log_error("ci: finishing the outputs archive: %s", archive_error_string(out));
        rc = UDCS_EFOREIGN;
    }
    archive_write_free(out);
    return rc;
}

int ci_archive_extract(const char *path)
{
    struct archive *in = archive_read_new();
    struct archive *disk = archive_write_disk_new();
    if (!in || !disk) {
        archive_read_free(in);
        archive_write_free(disk);
        return -ENOMEM;
    }
    archive_read_support_format_tar(in);
    archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                             ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                             ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    archive_write_disk_set_standard_lookup(disk);
    int rc = 0;
    if (archive_read_open_filename(in, path, CI_ARCHIVE_BLOCK_BYTES) != ARCHIVE_OK) {
        udcs_log_error("ci: cannot open the outputs archive %s: %s", path,
                       archive_error_string(in));
        rc = UDCS_ECORRUPT;
    }
    struct archive_entry *e;
    int r;
    while (rc == 0 && (r = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            udcs_log_error("ci: outputs archive %s: %s", path, archive_error_string(in));
            rc = UDCS_ECORRUPT;
            break;
        }
        /* ARCHIVE_WARN (a time or owner that could not be set) still wrote the entry. */
        r = archive_write_header(disk, e);
        if (r >= ARCHIVE_WARN && archive_entry_size(e) > 0) {
            const void *buf;
            size_t len;
            la_int64_t off;
            while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(disk, buf, len, off) < ARCHIVE_OK) {
                    r = ARCHIVE_FATAL;
                    break;
                }
            r = r == ARCHIVE_EOF ? ARCHIVE_OK : r;
        }
        if (r < ARCHIVE_WARN || archive_write_finish_entry(disk) < ARCHIVE_WARN) {
            udcs_log_error("ci: restoring %s: %s", archive_entry_pathname(e),
                           archive_error_string(disk) ? archive_error_string(disk)
                                                      : archive_error_string(in));
            rc = UDCS_ECORRUPT;
        }
    }
    archive_read_free(in);
    if (archive_write_close(disk) != ARCHIVE_OK && rc == 0)
        rc = UDCS_ECORRUPT;
    archive_write_free(disk);
    return rc;
}
