/* ci/ci_bundle.c - `udcs ci cache export FILE` / `import FILE`: the local store's blobs
 * and action results as one zstd-compressed tar (libarchive), for CI systems that keep a
 * file between runs; with --used, only the action results of the steps in the step log
 * and the blobs they name. Entries use the store's own layout (docs/CAS.md, "On-disk format"):
 * cas/ab/cdef... and ac/ab/cdef..., in stored form.
 *
 * Import trusts nothing: a first pass reads every header and every byte and refuses the
 * whole file, before anything is written, when one entry is not a plain file or
 * directory of that layout (absolute paths, "..", links, devices) or fails its check (a
 * blob's digest, an action result's record). Only then is it extracted, into a private
 * directory with libarchive's secure flags, and each entry stored through the store's
 * own verifying ingest. */
#include "ci/ci_internal.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#define BUNDLE_BLOCK_BYTES (64 * 1024)
/* zstd level of the cache file: blobs are compressed already, so a fast level suffices. */
#define BUNDLE_ZSTD_LEVEL "3"
#define SHARD_CHARS 2
#define REST_CHARS (CAS_HEX_LEN - SHARD_CHARS)

static const char *const areas[] = { "cas", "ac" };

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0' || s[n] == '/';
}

/* Which area an entry name belongs to (0 blob, 1 action result, -1 neither) and, for a
 * file, its digest; *is_dir tells a directory name ("cas", "cas/ab", with or without a
 * trailing slash) from a file name. */
static int entry_kind(const char *name, int *is_dir, struct cas_digest *d)
{
    for (int a = 0; a < 2; a++) {
        size_t n = strlen(areas[a]);
        if (strncmp(name, areas[a], n) != 0)
            continue;
        const char *p = name + n;
        if (!*p || strcmp(p, "/") == 0) {
            *is_dir = 1;
            return a;
        }
        if (*p != '/' || !is_hex(p + 1, SHARD_CHARS))
            return -1;
        p += 1 + SHARD_CHARS;
        if (!*p || strcmp(p, "/") == 0) {
            *is_dir = 1;
            return a;
        }
        if (*p != '/' || strlen(p + 1) != REST_CHARS || !is_hex(p + 1, REST_CHARS))
            return -1;
        char hex[CAS_HEX_LEN + 1];
        snprintf(hex, sizeof(hex), "%.*s%s", SHARD_CHARS, name + n + 1, p + 1);
        *is_dir = 0;
        return cas_digest_parse(hex, d, NULL) == 0 ? a : -1;
    }
    return -1;
}

/* ---- export ----------------------------------------------------------------------------- */

static int add_file(struct archive *out, int dirfd, const char *name, const char *entry_name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc == -ENOENT ? 0 : rc;   /* evicted meanwhile: not part of the export */
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, entry_name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_mtime(e, st.st_mtime, 0);
    int rc = archive_write_header(out, e) == ARCHIVE_OK ? 0 : UDCS_EFOREIGN;
    char buf[BUNDLE_BLOCK_BYTES];
    ssize_t n;
    while (rc == 0 && (n = udcs_read_full(fd, buf, sizeof(buf))) > 0)
        if (archive_write_data(out, buf, (size_t)n) != n)
            rc = UDCS_EFOREIGN;
    if (rc == 0 && n < 0)
        rc = (int)n;
    archive_entry_free(e);
    close(fd);
    return rc;
}

/* The entry name of a digest in an area: "cas/ab/cdef...". */
static void entry_name_of(int area, const struct cas_digest *d, char out[64])
{
    char hex[CAS_HEX_LEN + 1];
    cas_digest_hex(d, hex);
    snprintf(out, 64, "%s/%.*s/%s", areas[area], SHARD_CHARS, hex, hex + SHARD_CHARS);
}

/* What the steps of the log used: their action results and every blob those name. A
 * record whose result is gone (evicted, never stored) is left out. */
static int used_entries(struct cas_store *cs, const char *cache_dir, json_t *set)
{
    json_t *log;
    int rc = ci_log_read(cache_dir, &log);
    size_t i;
    json_t *rec;
    json_array_foreach(log, i, rec) {
        struct cas_digest key;
        struct cas_action_result res;
        char name[64];
        const char *hex = json_string_value(json_object_get(rec, "key"));
        if (rc < 0 || !hex || cas_digest_parse(hex, &key, NULL) < 0 ||
            cas_store_ac_get(cs, &key, &res) < 0)
            continue;
        entry_name_of(1, &key, name);
        rc = json_object_set_new(set, name, json_true());
        entry_name_of(0, &res.stdout_digest, name);
        rc |= json_object_set_new(set, name, json_true());
        entry_name_of(0, &res.stderr_digest, name);
        rc |= json_object_set_new(set, name, json_true());
        for (size_t k = 0; k < res.n_outputs; k++) {
            entry_name_of(0, &res.outputs[k].digest, name);
            rc |= json_object_set_new(set, name, json_true());
        }
        rc = rc ? -ENOMEM : 0;
        cas_action_result_release(&res);
    }
    json_decref(log);
    return rc;
}

/* Every file of one area: AREA/SHARD/REST; only those in `only` when it is not NULL. */
static int add_area(struct archive *out, const char *root, const char *area, json_t *only,
                    uint64_t *count)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, area);
    DIR *top = opendir(path);
    if (!top)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *sd;
    while (rc == 0 && (sd = readdir(top))) {
        if (strlen(sd->d_name) != SHARD_CHARS || !is_hex(sd->d_name, SHARD_CHARS))
            continue;
        int shard = openat(dirfd(top), sd->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = shard >= 0 ? fdopendir(shard) : NULL;
        if (!dir) {
            if (shard >= 0)
                close(shard);
            continue;
        }
        struct dirent *fe;
        while (rc == 0 && (fe = readdir(dir))) {
            /* Only names of the layout: temporaries of writers are left out. */
            if (strlen(fe->d_name) != REST_CHARS || !is_hex(fe->d_name, REST_CHARS))
                continue;
            char name[64];
            snprintf(name, sizeof(name), "%s/%s/%s", area, sd->d_name, fe->d_name);
            if (only && !json_object_get(only, name))
                continue;
            rc = add_file(out, dirfd(dir), fe->d_name, name);
            if (rc == 0)
                (*count)++;
        }
        closedir(dir);
    }
    closedir(top);
    return rc;
}

static int cache_export(struct cas_store *cs, const char *root, const char *file, int used)
{
    json_t *only = used ? json_object() : NULL;
    if (used && (!only || used_entries(cs, root, only) < 0)) {
        json_decref(only);
        return UDCS_EXIT_FAILED;
    }
    struct udcs_afile af;
    int rc = udcs_afile_open(&af, file, UDCS_AFILE_FSYNC, 0644);
    if (rc < 0) {
        udcs_log_error("ci cache export: cannot write %s: %s", file, udcs_strerror(rc));
        json_decref(only);
        return UDCS_EXIT_FAILED;
    }
    struct archive *out = archive_write_new();
    uint64_t count = 0;
    if (!out || archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
        archive_write_add_filter_zstd(out) != ARCHIVE_OK ||
        archive_write_set_filter_option(out, "zstd", "compression-level", BUNDLE_ZSTD_LEVEL) <
            ARCHIVE_WARN ||
        archive_write_open_fd(out, af.fd) != ARCHIVE_OK)
        rc = UDCS_EFOREIGN;
    for (size_t a = 0; rc == 0 && a < 2; a++)
        rc = add_area(out, root, areas[a], only, &count);
    if (rc == 0 && archive_write_close(out) != ARCHIVE_OK)
        rc = UDCS_EFOREIGN;
    if (rc < 0)
        udcs_log_error("ci cache export: writing %s from the store %s failed: %s", file, root,
                       rc == UDCS_EFOREIGN && out ? archive_error_string(out)
                                                  : udcs_strerror(rc));
    archive_write_free(out);
    json_decref(only);
    if (rc == 0)
        rc = udcs_afile_commit(&af);
    else
        udcs_afile_abort(&af);
    if (rc < 0)
        return UDCS_EXIT_FAILED;
    printf("exported %llu entries from %s to %s\n", (unsigned long long)count, root, file);
    return UDCS_EXIT_OK;
}

/* ---- import ----------------------------------------------------------------------------- */

static struct archive *open_bundle(const char *file)
{
    struct archive *in = archive_read_new();
    if (!in)
        return NULL;
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    if (archive_read_open_filename(in, file, BUNDLE_BLOCK_BYTES) != ARCHIVE_OK) {
        udcs_log_error("ci cache import: cannot open %s: %s", file, archive_error_string(in));
        archive_read_free(in);
        return NULL;
    }
    return in;
}

struct verify_sink {
    struct udcs_buf *record;   /* action results are kept to be parsed; blobs are not */
};

static int verify_sink_fn(void *arg, const void *data, size_t len)
{
    struct verify_sink *v = arg;
    return v->record ? udcs_buf_append(v->record, data, len) : 0;
}

/* Decode one entry's bytes and check them. */
static int verify_entry(struct archive *in, int area, const struct cas_digest *d, char *why,
                        size_t why_len)
{
    struct udcs_buf record = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    struct verify_sink sink = { .record = area == 1 ? &record : NULL };
    struct cas_decoder *dec;
    /* The name of an action result is the action's digest, not its content's. */
    int rc = cas_decoder_new(area == 0 ? d : NULL, 0, verify_sink_fn, &sink, &dec);
    if (rc < 0)
        return rc;
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while (rc == 0 && (r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
        rc = cas_decoder_feed(dec, buf, len);
    if (rc == 0 && r != ARCHIVE_EOF) {
        snprintf(why, why_len, "is cut short or damaged: %s", archive_error_string(in));
        rc = UDCS_ECORRUPT;
    } else {
        if (rc == 0)
            rc = cas_decoder_finish(dec, NULL);
        if (rc < 0)
            snprintf(why, why_len, "failed its check: %s", cas_decoder_error(dec));
    }
    cas_decoder_free(dec);
    if (rc == 0 && area == 1) {
        struct cas_action_result res;
        char inner[256] = "";
        rc = cas_action_result_from_json(record.data, record.len, &res, inner, sizeof(inner));
        if (rc == 0)
            cas_action_result_release(&res);
        else
            snprintf(why, why_len, "is not an action result: %s", inner);
    }
    udcs_buf_release(&record);
    return rc;
}

/* Pass 1: every entry is of the layout and its bytes check out. Files go to `names`. */
static int bundle_check(const char *file, json_t *names)
{
    struct archive *in = open_bundle(file);
    if (!in)
        return UDCS_ECORRUPT;
    struct archive_entry *e;
    int r, rc = 0;
    char why[512] = "";
    /* A copy: libarchive frees the entry's strings when the next header fails to read. */
    char name[1024] = "(before the first entry)";
    while (rc == 0 && (r = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            snprintf(why, sizeof(why), "the archive is damaged after it: %s",
                     archive_error_string(in));
            rc = UDCS_ECORRUPT;
            break;
        }
        snprintf(name, sizeof(name), "%s",
                 archive_entry_pathname(e) ? archive_entry_pathname(e) : "(no name)");
        mode_t type = archive_entry_filetype(e);
        struct cas_digest d;
        int is_dir = 0, area = entry_kind(name, &is_dir, &d);
        if (name[0] == '/') {
            snprintf(why, sizeof(why), "is an absolute path");
            rc = UDCS_ECORRUPT;
        } else if (strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 ||
                   strstr(name, "/../") || (strlen(name) >= 3 && !strcmp(name + strlen(name) - 3, "/.."))) {
            snprintf(why, sizeof(why), "climbs out with '..'");
            rc = UDCS_ECORRUPT;
        } else if (archive_entry_hardlink(e) || type == AE_IFLNK) {
            snprintf(why, sizeof(why), "is a link (to '%s'); a cache file holds only files",
                     archive_entry_hardlink(e) ? archive_entry_hardlink(e)
                                               : archive_entry_symlink(e));
            rc = UDCS_ECORRUPT;
        } else if (type != AE_IFREG && type != AE_IFDIR) {
            snprintf(why, sizeof(why), "is a device, fifo or socket, not a file");
            rc = UDCS_ECORRUPT;
        } else if (area < 0 || is_dir != (type == AE_IFDIR)) {
            snprintf(why, sizeof(why), "is not a store entry (cas/ab/cdef... or ac/ab/cdef...)");
            rc = UDCS_ECORRUPT;
        } else if (!is_dir) {
            rc = verify_entry(in, area, &d, why, sizeof(why));
            if (rc == 0 && json_array_append_new(names, json_string(name)) < 0)
                rc = -ENOMEM;
        }
    }
    if (rc < 0)
        udcs_log_error("ci cache import: %s: entry '%s' %s; nothing was imported", file, name,
                       why[0] ? why : udcs_strerror(rc));
    archive_read_free(in);
    /* A blob of a newer format or an oversized record is as unusable as a damaged one. */
    return rc < 0 && rc != -ENOMEM ? UDCS_ECORRUPT : rc;
}

/* Pass 2: extract into `dir` (the current directory is changed for it and restored). */
static int bundle_extract(const char *file, const char *dir)
{
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0)
        return -errno;
    if (chdir(dir) < 0) {
        int rc = -errno;
        close(here);
        return rc;
    }
    struct archive *in = open_bundle(file);
    struct archive *disk = archive_write_disk_new();
    int rc = in && disk ? 0 : UDCS_ECORRUPT;
    if (disk)
        archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                 ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    struct archive_entry *e;
    int r;
    while (rc == 0 && (r = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN || archive_write_header(disk, e) < ARCHIVE_WARN) {
            rc = UDCS_ECORRUPT;
            break;
        }
        const void *buf;
        size_t len;
        la_int64_t off;
        while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(disk, buf, len, off) < ARCHIVE_OK)
                break;
        if (r != ARCHIVE_EOF || archive_write_finish_entry(disk) < ARCHIVE_WARN)
            rc = UDCS_ECORRUPT;
    }
    if (rc < 0)
        udcs_log_error("ci cache import: extracting %s failed: %s", file,
                       disk && archive_error_string(disk) ? archive_error_string(disk)
                       : in && archive_error_string(in)   ? archive_error_string(in)
                                                          : "cannot read it");
    archive_read_free(in);
    archive_write_free(disk);
    if (fchdir(here) < 0 && rc == 0)
        rc = -errno;
    close(here);
    return rc;
}

/* A staged blob into the store in pieces: blobs may be larger than memory. */
static int ingest_file(struct cas_store *cs, const struct cas_digest *d, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct cas_ingest *ing;
    int rc = cas_ingest_begin(cs, d, 0, NULL, NULL, &ing);
    if (rc == 0) {
        char buf[BUNDLE_BLOCK_BYTES];
        ssize_t n;
        while (rc == 0 && (n = udcs_read_full(fd, buf, sizeof(buf))) > 0)
            rc = cas_ingest_feed(ing, buf, (size_t)n);
        if (rc == 0 && n < 0)
            rc = (int)n;
        if (rc == 0)
            rc = cas_ingest_commit(ing, NULL);
        cas_ingest_free(ing);
    }
    close(fd);
    return rc;
}

/* Pass 3: each staged entry into the store, verified again on the way in. */
static int bundle_store(struct cas_store *cs, const char *dir, const char *name)
{
    struct cas_digest d;
    int is_dir, area = entry_kind(name, &is_dir, &d);
    char *path = udcs_path_join(dir, name);
    struct udcs_buf stored = UDCS_BUF_INIT(CAS_AC_MAX_BYTES + CAS_BLOB_HEADER_BYTES);
    int rc = path ? 0 : -ENOMEM;
    if (rc == 0 && area == 0) {
        rc = ingest_file(cs, &d, path);
    } else if (rc == 0 && (rc = udcs_read_file(path, &stored)) == 0) {
        struct udcs_buf json = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
        struct cas_action_result res;
        char why[256];
        rc = cas_blob_decode(stored.data, stored.len, NULL, &json);
        if (rc == 0)
            rc = cas_action_result_from_json(json.data, json.len, &res, why, sizeof(why));
        if (rc == 0) {
            rc = cas_store_ac_put(cs, &d, &res);
            cas_action_result_release(&res);
        }
        udcs_buf_release(&json);
    }
    if (rc < 0)
        udcs_log_error("ci cache import: storing %s failed: %s", name, udcs_strerror(rc));
    udcs_buf_release(&stored);
    free(path);
    return rc;
}

int ci_bundle_import(struct cas_store *cs, const char *cache_dir, const char *file,
                     size_t *count)
{
    json_t *names = json_array();
    int rc = names ? bundle_check(file, names) : -ENOMEM;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tmp", cache_dir);
    if (rc == 0)
        rc = udcs_mkdir_p(dir, 0777);
    snprintf(dir, sizeof(dir), "%s/tmp/ci-import-XXXXXX", cache_dir);
    if (rc == 0 && !mkdtemp(dir)) {
        rc = -errno;
        udcs_log_error("ci cache import: cannot make %s: %s", dir, strerror(errno));
    }
    int made = rc == 0;
    if (rc == 0)
        rc = bundle_extract(file, dir);
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        if (rc < 0)
            break;
        rc = bundle_store(cs, dir, json_string_value(v));
    }
    if (made)
        udcs_remove_tree(dir);
    *count = json_array_size(names);
    json_decref(names);
    return rc;
}

static int cache_import(struct cas_store *cs, const char *cache_dir, const char *file)
{
    size_t n = 0;
    if (ci_bundle_import(cs, cache_dir, file, &n) < 0)
        return UDCS_EXIT_FAILED;
    printf("imported %zu entries from %s into %s, every one verified\n", n, file, cache_dir);
    return UDCS_EXIT_OK;
}

int ci_cmd_cache(const char *cache_dir, int argc, char **argv)
{
    int used = argc == 3 && strcmp(argv[0], "export") == 0 && strcmp(argv[1], "--used") == 0;
    if (used) {
        argv[1] = argv[2];
        argc = 2;
    }
    if (argc != 2 || (strcmp(argv[0], "export") != 0 && strcmp(argv[0], "import") != 0)) {
        udcs_log_error("ci cache: usage: udcs ci cache export [--used] FILE | import FILE");
        return UDCS_EXIT_USAGE;
    }
    struct cas_store *cs;
    struct cas_store_options opt = { .root = cache_dir, .encode = { .level = 3 } };
    int rc = cas_store_open(&opt, &cs);
    if (rc < 0) {
        udcs_log_error("ci cache: cannot open the local store %s: %s", cache_dir,
                       udcs_strerror(rc));
        return UDCS_EXIT_FAILED;
    }
    int status = strcmp(argv[0], "export") == 0 ? cache_export(cs, cache_dir, argv[1], used)
                                                : cache_import(cs, cache_dir, argv[1]);
    cas_store_close(cs);
    return status;
}
