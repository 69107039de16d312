/* cas/store.c - the local store: layout and opening, the shared counters, and the blob
 * operations (put, has, get, remove). Action results are in ac.c, network uploads in
 * ingest.c, eviction and verification in store_maint.c.
 *
 * Many processes use one store at once (dozens of parallel compiles), with no lock on
 * the hot path: a blob is written to an unnamed temporary file and linked under its name
 * only once complete, and link() never replaces, so exactly one writer "creates" each
 * blob and accounts for its size. Readers verify every byte, so a file damaged on disk
 * (or torn by a power loss, since blobs are not fsynced) is found, removed and counted
 * rather than served. */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_LAYOUT_VERSION 1
#define STORE_MARKER "udcs-store"
#define STORE_STATS_FILE "stats"
#define STORE_LOCK_FILE "lock"
#define STATS_MAGIC "UDCSSTAT"
#define STATS_FILE_BYTES 4096
/* Blobs never change once written; read-only files guard against accidents. */
#define BLOB_FILE_MODE 0444

static const char *const area_dirs[] = { "cas", "ac" };

struct stats_file {
    char magic[8];
    uint64_t version;
    uint64_t counters[CAS_STAT_COUNT];
};
_Static_assert(sizeof(struct stats_file) <= STATS_FILE_BYTES, "stats file too small");

/* ---- paths and counters ------------------------------------------------------------ */

void cas_rel_path(enum cas_area area, const struct cas_digest *d, char out[CAS_REL_PATH_MAX])
{
    char hex[CAS_HEX_LEN + 1];
    cas_digest_hex(d, hex);
    snprintf(out, CAS_REL_PATH_MAX, "%s/%.2s/%s", area_dirs[area], hex, hex + 2);
}

int cas_digest_is_empty(const struct cas_digest *d)
{
    /* XXH3-128 of zero bytes, as `printf '' | xxh128sum` prints it (test_cas_codec checks
     * this constant against the hash function). */
    static const uint8_t empty[CAS_HASH_BYTES] = { 0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47,
                                                   0x98, 0xd8, 0x60, 0x01, 0xc3, 0x24,
                                                   0x46, 0x8d, 0x49, 0x7f };
    return d->size == 0 && memcmp(d->hash, empty, CAS_HASH_BYTES) == 0;
}

/* ---- opening ----------------------------------------------------------------------- */

/* Map the shared counters. Where the file cannot be written (a read-only store), the
 * counters live in private memory and go nowhere. */
static int map_stats(struct cas_store *cs)
{
    int fd = cs->readonly ? openat(cs->root_fd, STORE_STATS_FILE, O_RDONLY | O_CLOEXEC)
                          : openat(cs->root_fd, STORE_STATS_FILE,
                                   O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    struct stat st;
    void *map = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &st) == 0 &&
        (st.st_size >= STATS_FILE_BYTES || (!cs->readonly && ftruncate(fd, STATS_FILE_BYTES) == 0)))
        map = mmap(NULL, STATS_FILE_BYTES, cs->readonly ? PROT_READ : PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
    if (fd >= 0)
        close(fd);   /* the mapping stays valid */
    if (map == MAP_FAILED) {
        if (!cs->readonly)
            udcs_log_warn("cas: cannot map %s/%s (%s); counters will not be kept", cs->root,
                          STORE_STATS_FILE, strerror(errno));
        map = mmap(NULL, STATS_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
        if (map == MAP_FAILED)
            return -ENOMEM;
    }
    struct stats_file *sf = map;
    if (!cs->readonly && memcmp(sf->magic, STATS_MAGIC, 8) != 0) {
        /* New (all zero), or damaged: start counting afresh. Racing openers write the
         * same bytes. Sizes are recounted by the next cleanup or verify. */
        memset(sf->counters, 0, sizeof(sf->counters));
        sf->version = 1;
        memcpy(sf->magic, STATS_MAGIC, 8);
    }
    cs->stats_map = map;
    cs->stats_map_len = STATS_FILE_BYTES;
    cs->counters = sf->counters;
    return 0;
}

int cas_store_commit(struct cas_store *cs, struct udcs_afile *af, const char *rel)
{
    /* Shard directories ("cas/ab") are made on first use, so a new store is cheap to
     * create; on the write path this costs one mkdirat that usually finds EEXIST. */
    char dir[CAS_REL_PATH_MAX];
    const char *slash = strrchr(rel, '/');
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
    int made = mkdirat(cs->root_fd, dir, 0777) == 0 || errno == EEXIST;
    if (!made && errno == ENOENT) {   /* the area itself went missing: make it too */
        char area[CAS_REL_PATH_MAX];
        snprintf(area, sizeof(area), "%.*s", (int)(strchr(rel, '/') - rel), rel);
        made = (mkdirat(cs->root_fd, area, 0777) == 0 || errno == EEXIST) &&
               (mkdirat(cs->root_fd, dir, 0777) == 0 || errno == EEXIST);
    }
    if (!made) {
        int rc = -errno;
        udcs_afile_abort(af);
        return rc;
    }
    return udcs_afile_commit_as(af, rel);
}

/* Make the area directories, the marker and CACHEDIR.TAG of a new store. */
static int create_layout(struct cas_store *cs)
{
    for (int a = 0; a < 2; a++)
        if (mkdirat(cs->root_fd, area_dirs[a], 0777) < 0 && errno != EEXIST)
            return -errno;
    int rc;
    static const char tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                              "# This directory is a UDCS content-addressed store (a cache).\n";
    char *tag_path = udcs_path_join(cs->root, "CACHEDIR.TAG");
    char *marker_path = udcs_path_join(cs->root, STORE_MARKER);
    char marker[64];
    int n = snprintf(marker, sizeof(marker), "udcs-store %d\n", STORE_LAYOUT_VERSION);
    rc = tag_path && marker_path ? 0 : -ENOMEM;
    if (rc == 0)
        rc = udcs_write_atomic(tag_path, tag, sizeof(tag) - 1, 0644);
    if (rc == 0)   /* last: its presence says the layout is complete */
        rc = udcs_write_atomic(marker_path, marker, (size_t)n, 0644);
    free(tag_path);
    free(marker_path);
    return rc;
}

static int check_layout(struct cas_store *cs)
{
    char text[64];
    int fd = openat(cs->root_fd, STORE_MARKER, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            return -errno;
        if (cs->readonly)
            return -ENOENT;
        return create_layout(cs);
    }
    ssize_t n = udcs_read_full(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0)
        return (int)n;
    text[n] = '\0';
    int version;
    if (sscanf(text, "udcs-store %d", &version) != 1) {
        udcs_log_error("cas: %s/%s is not a UDCS store marker; is %s really a UDCS store?",
                       cs->root, STORE_MARKER, cs->root);
        return UDCS_EFORMAT;
    }
    if (version > STORE_LAYOUT_VERSION) {
        udcs_log_error("cas: the store at %s has layout version %d, newer than this UDCS "
                       "understands (%d); upgrade UDCS or use another directory", cs->root,
                       version, STORE_LAYOUT_VERSION);
        return UDCS_EFORMAT;
    }
    return 0;
}

int cas_store_open(const struct cas_store_options *opt, struct cas_store **out)
{
    struct cas_store *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return -ENOMEM;
    cs->root_fd = cs->lock_fd = -1;
    cs->max_size = opt->max_size;
    cs->enc = opt->encode;
    cs->readonly = opt->readonly;
    cs->root = strdup(opt->root);
    int rc = cs->root ? 0 : -ENOMEM;
    if (rc == 0 && !cs->readonly)
        rc = udcs_mkdir_p(cs->root, 0777);
    if (rc == 0) {
        cs->root_fd = open(cs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cs->root_fd < 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = check_layout(cs);
    if (rc == 0)
        rc = map_stats(cs);
    if (rc == 0 && !cs->readonly) {
        cs->lock_fd = openat(cs->root_fd, STORE_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (cs->lock_fd < 0)
            rc = -errno;
    }
    if (rc < 0) {
        cas_store_close(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

void cas_store_close(struct cas_store *cs)
{
    if (!cs)
        return;
    if (cs->stats_map)
        munmap(cs->stats_map, cs->stats_map_len);
    if (cs->root_fd >= 0)
        close(cs->root_fd);
    if (cs->lock_fd >= 0)
        close(cs->lock_fd);
    free(cs->root);
    free(cs);
}

const char *cas_store_root(const struct cas_store *cs)
{
    return cs->root;
}

/* ---- shared helpers ---------------------------------------------------------------- */

void cas_store_touch(struct cas_store *cs, int fd, const struct stat *st)
{
    if (!cs->readonly && time(NULL) - st->st_mtime > CAS_TOUCH_INTERVAL_S)
        futimens(fd, NULL);
}

void cas_store_drop_corrupt(struct cas_store *cs, enum cas_area area, const char *rel, int fd,
                            const char *why)
{
    struct stat mine, now;
    int same = fd < 0 || (fstat(fd, &mine) == 0 && fstatat(cs->root_fd, rel, &now, 0) == 0 &&
                          mine.st_ino == now.st_ino && mine.st_dev == now.st_dev);
    cas_stat_add(cs, CAS_STAT_CORRUPT, 1);
    if (cs->readonly || !same) {
        udcs_log_error("cas: %s/%s is damaged (%s)", cs->root, rel, why);
        return;
    }
    uint64_t size = fd >= 0 ? (uint64_t)mine.st_size : 0;
    if (unlinkat(cs->root_fd, rel, 0) == 0) {
        cas_stat_sub(cs, area == CAS_AREA_BLOB ? CAS_STAT_BLOB_COUNT : CAS_STAT_AC_COUNT, 1);
        cas_stat_sub(cs, area == CAS_AREA_BLOB ? CAS_STAT_BLOB_BYTES : CAS_STAT_AC_BYTES, size);
    }
    udcs_log_error("cas: %s/%s failed its check (%s) and was removed; it will be fetched or "
                   "rebuilt when next needed. Run 'udcs-cas verify' to scan the rest of the "
                   "store", cs->root, rel, why);
}

/* The blob stored under `d`'s hash has another raw size than `d` names. Usually the
 * request is wrong, not the blob: that blob is simply not here, and the one that is must
 * stay, whoever asked (a remote reader needs no token). But the header's size field may
 * be what was damaged, so decode the blob against its own header to tell: -ENOENT when
 * it is whole, UDCS_ECORRUPT with *why set when it is damaged, or -errno. */
static int check_other_size(int fd, const struct cas_blob_header *hdr, const char **why)
{
    int rc = cas_decode_fd(fd, &hdr->digest, NULL, NULL, why);
    return rc == 0 ? -ENOENT : rc;
}

/* Open a stored entry and check its header against `d` and the file's size. When `whole`
 * is not NULL and the file is small (CAS_READ_WHOLE_MAX_BYTES), the whole file is read
 * into it by the same single read that gives the header. Returns 0 (fd, st and hdr set),
 * -ENOENT (also when the blob stored under `d`'s hash has another size: see
 * check_other_size), or UDCS_ECORRUPT after removing the bad file. */
static int open_checked(struct cas_store *cs, enum cas_area area, const char *rel,
                        const struct cas_digest *d, int *fd_out, struct stat *st,
                        struct cas_blob_header *hdr, struct udcs_buf *whole)
{
    int fd = openat(cs->root_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t small[CAS_BLOB_HEADER_BYTES];
    const uint8_t *head = small;
    const char *why = NULL;
    ssize_t n = 0;
    int rc = fstat(fd, st) < 0 ? -errno : 0;
    if (rc == 0 && whole && (uint64_t)st->st_size <= CAS_READ_WHOLE_MAX_BYTES) {
        rc = udcs_buf_reserve(whole, (size_t)st->st_size);
        n = rc < 0 ? 0 : udcs_pread_full(fd, whole->data, (size_t)st->st_size, 0);
        if (n >= 0) {
            whole->len = (size_t)n;
            head = (const uint8_t *)whole->data;
        }
    } else if (rc == 0) {
        n = udcs_pread_full(fd, small, sizeof(small), 0);
    }
    if (rc == 0 && n < 0)
        rc = (int)n;
    if (rc == 0) {
        if (cas_blob_header_parse(head, (size_t)n, hdr) < 0)
            why = "its header is damaged";
        else if ((uint64_t)st->st_size != CAS_BLOB_HEADER_BYTES + hdr->payload_size)
            why = (uint64_t)st->st_size < CAS_BLOB_HEADER_BYTES + hdr->payload_size
                      ? "the file is truncated" : "the file is longer than its header says";
        else if (area == CAS_AREA_BLOB && memcmp(hdr->digest.hash, d->hash, CAS_HASH_BYTES))
            why = "its header names another digest";
        else if (area == CAS_AREA_BLOB && d->size && d->size != hdr->digest.size)
            rc = check_other_size(fd, hdr, &why);
    }
    if (why) {
        cas_store_drop_corrupt(cs, area, rel, fd, why);
        close(fd);
        return UDCS_ECORRUPT;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* ---- put --------------------------------------------------------------------------- */

/* Whether a blob is present and whole-looking; refreshes its time. */
static int blob_present(struct cas_store *cs, const char *rel, const struct cas_digest *d)
{
    int fd;
    struct stat st;
    struct cas_blob_header h;
    if (open_checked(cs, CAS_AREA_BLOB, rel, d, &fd, &st, &h, NULL) < 0)
        return 0;
    cas_store_touch(cs, fd, &st);
    close(fd);
    return 1;
}

void cas_store_count_put(struct cas_store *cs, int is_new, uint64_t raw, uint64_t stored,
                      const char *rel)
{
    if (!is_new) {
        cas_stat_add(cs, CAS_STAT_PUTS_EXISTING, 1);
        return;
    }
    cas_stat_add(cs, CAS_STAT_PUTS_NEW, 1);
    cas_stat_add(cs, CAS_STAT_BYTES_IN, raw);
    cas_stat_add(cs, CAS_STAT_BLOB_COUNT, 1);
    cas_stat_add(cs, CAS_STAT_BLOB_BYTES, stored);
    cas_store_maybe_cleanup(cs, rel);
}

/* Name a finished unnamed file as blob `d`. Returns 0 whether it was new or not. */
static int commit_blob(struct cas_store *cs, struct udcs_afile *af, const struct cas_digest *d,
                       uint64_t stored)
{
    char rel[CAS_REL_PATH_MAX];
    cas_rel_path(CAS_AREA_BLOB, d, rel);
    int rc = cas_store_commit(cs, af, rel);
    if (rc == 0 || rc == -EEXIST) {
        cas_store_count_put(cs, rc == 0, d->size, stored, rel);
        return 0;
    }
    return rc;
}

int cas_store_put_bytes(struct cas_store *cs, const void *data, size_t len,
                        struct cas_digest *out)
{
    struct cas_digest d;
    cas_digest_of_bytes(data, len, &d);
    if (out)
        *out = d;
    if (cas_digest_is_empty(&d))
        return 0;
    if (cs->readonly)
        return -EROFS;
    char rel[CAS_REL_PATH_MAX];
    cas_rel_path(CAS_AREA_BLOB, &d, rel);
    if (blob_present(cs, rel, &d)) {
        cas_stat_add(cs, CAS_STAT_PUTS_EXISTING, 1);
        return 0;
    }
    struct cas_zctx *z = cas_zctx_get();
    if (!z)
        return -ENOMEM;
    struct udcs_buf b = UDCS_BUF_INIT(SIZE_MAX);
    int rc = cas_blob_encode_with(z, data, len, cs->enc.level, &d, &b, NULL);
    struct udcs_afile af;
    if (rc == 0)
        rc = udcs_afile_open_unnamed(&af, cs->root_fd, UDCS_AFILE_NOREPLACE, BLOB_FILE_MODE);
    if (rc == 0) {
        rc = udcs_write_full(af.fd, b.data, b.len);
        if (rc < 0)
            udcs_afile_abort(&af);
        else
            rc = commit_blob(cs, &af, &d, b.len);
    }
    udcs_buf_release(&b);
    return rc;
}

/* Encode everything `fd` yields (from its current offset) as a new blob. */
static int put_stream(struct cas_store *cs, int fd, struct cas_digest *out)
{
    struct udcs_afile af;
    int rc = udcs_afile_open_unnamed(&af, cs->root_fd, UDCS_AFILE_NOREPLACE, BLOB_FILE_MODE);
    if (rc < 0)
        return rc;
    struct cas_digest d;
    uint64_t stored;
    rc = cas_blob_encode_fd(fd, af.fd, &cs->enc, &d, &stored);
    if (rc < 0) {
        udcs_afile_abort(&af);
        return rc;
    }
    if (cas_digest_is_empty(&d)) {
        udcs_afile_abort(&af);
        rc = 0;
    } else {
        rc = commit_blob(cs, &af, &d, stored);
    }
    if (rc == 0 && out)
        *out = d;
    return rc;
}

int cas_store_put_fd(struct cas_store *cs, int fd, struct cas_digest *out)
{
    if (cs->readonly)
        return -EROFS;
    return put_stream(cs, fd, out);
}

int cas_store_put_file(struct cas_store *cs, const char *path, struct cas_digest *out)
{
    if (cs->readonly)
        return -EROFS;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && S_ISDIR(st.st_mode))
        rc = -EISDIR;
    if (rc == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= CAS_ONESHOT_MAX_BYTES) {
        /* Small file: one read, and the cheap already-present check of put_bytes. */
        char *data = malloc(st.st_size ? (size_t)st.st_size : 1);
        ssize_t n = data ? udcs_read_full(fd, data, (size_t)st.st_size) : -ENOMEM;
        if (n < 0)
            rc = (int)n;
        else if ((size_t)n != (size_t)st.st_size)
            rc = UDCS_ECORRUPT;   /* the file shrank while we read it */
        else
            rc = cas_store_put_bytes(cs, data, (size_t)n, out);
        free(data);
    } else if (rc == 0 && S_ISREG(st.st_mode)) {
        /* Large file: hash it first (a fast pass), so storing it again costs no
         * compression; then encode it. */
        struct cas_digest d;
        char rel[CAS_REL_PATH_MAX];
        rc = cas_digest_of_file(path, &d);
        if (rc == 0) {
            cas_rel_path(CAS_AREA_BLOB, &d, rel);
            if (blob_present(cs, rel, &d)) {
                cas_stat_add(cs, CAS_STAT_PUTS_EXISTING, 1);
                if (out)
                    *out = d;
            } else {
                struct cas_digest got;
                rc = put_stream(cs, fd, &got);
                if (rc == 0 && !cas_digest_equal(&got, &d))
                    rc = UDCS_ECORRUPT;   /* the file changed between the two reads */
                if (rc == 0 && out)
                    *out = got;
            }
        }
    } else if (rc == 0) {
        rc = put_stream(cs, fd, out);   /* a pipe or device: one pass */
    }
    close(fd);
    if (rc == UDCS_ECORRUPT)
        udcs_log_error("cas: %s changed while it was being stored; store it again once it "
                       "is no longer being written", path);
    return rc;
}

/* ---- has, get, remove ---------------------------------------------------------------- */

int cas_store_has(struct cas_store *cs, const struct cas_digest *d)
{
    if (cas_digest_is_empty(d))
        return 1;
    char rel[CAS_REL_PATH_MAX];
    cas_rel_path(CAS_AREA_BLOB, d, rel);
    return blob_present(cs, rel, d);
}

int cas_store_open_stored(struct cas_store *cs, const struct cas_digest *d, int *fd,
                          struct cas_blob_header *hdr)
{
    char rel[CAS_REL_PATH_MAX];
    struct stat st;
    cas_rel_path(CAS_AREA_BLOB, d, rel);
    int rc = open_checked(cs, CAS_AREA_BLOB, rel, d, fd, &st, hdr, NULL);
    if (rc == 0)
        cas_store_touch(cs, *fd, &st);
    return rc;
}

struct append_sink {
    struct udcs_buf *buf;
};

static int sink_append(void *arg, const void *data, size_t len)
{
    return udcs_buf_append(((struct append_sink *)arg)->buf, data, len);
}

int cas_decode_fd(int fd, const struct cas_digest *d, cas_sink_fn sink, void *arg,
                         const char **why)
{
    struct cas_decoder *dec;
    int rc = cas_decoder_new(d, 0, sink, arg, &dec);
    if (rc < 0)
        return rc;
    char *chunk = malloc(CAS_STREAM_CHUNK_BYTES);
    off_t pos = 0;
    rc = chunk ? 0 : -ENOMEM;
    while (rc == 0) {
        ssize_t n = udcs_pread_full(fd, chunk, CAS_STREAM_CHUNK_BYTES, pos);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        pos += n;
        rc = cas_decoder_feed(dec, chunk, (size_t)n);
    }
    if (rc == 0)
        rc = cas_decoder_finish(dec, NULL);
    if (rc == UDCS_ECORRUPT)
        *why = cas_decoder_error(dec);
    free(chunk);
    cas_decoder_free(dec);
    return rc;
}

int cas_store_read(struct cas_store *cs, const struct cas_digest *d, struct udcs_buf *mem,
                   cas_sink_fn sink, void *arg)
{
    if (cas_digest_is_empty(d)) {
        cas_stat_add(cs, CAS_STAT_HITS, 1);
        return 0;
    }
    char rel[CAS_REL_PATH_MAX];
    cas_rel_path(CAS_AREA_BLOB, d, rel);
    int fd;
    struct stat st;
    struct cas_blob_header h;
    struct udcs_buf whole = UDCS_BUF_INIT(CAS_READ_WHOLE_MAX_BYTES);
    int rc = open_checked(cs, CAS_AREA_BLOB, rel, d, &fd, &st, &h, &whole);
    if (rc == -ENOENT)
        cas_stat_add(cs, CAS_STAT_MISSES, 1);
    if (rc < 0) {
        udcs_buf_release(&whole);
        return rc;
    }
    cas_store_touch(cs, fd, &st);

    const char *why = NULL;
    size_t mem_len = mem ? mem->len : 0;
    if (whole.data) {
        /* The common case: the one read above, one decode call. */
        if (mem) {
            rc = cas_blob_decode_mem(whole.data, whole.len, d, mem, &why);
        } else {
            struct udcs_buf raw = UDCS_BUF_INIT(SIZE_MAX);
            rc = cas_blob_decode_mem(whole.data, whole.len, d, &raw, &why);
            if (rc == 0 && raw.len)
                rc = sink(arg, raw.data, raw.len);
            udcs_buf_release(&raw);
        }
    } else if (mem) {
        struct append_sink as = { mem };
        rc = cas_decode_fd(fd, d, sink_append, &as, &why);
    } else {
        rc = cas_decode_fd(fd, d, sink, arg, &why);
    }
    udcs_buf_release(&whole);
    if (rc == UDCS_ECORRUPT) {
        cas_store_drop_corrupt(cs, CAS_AREA_BLOB, rel, fd, why ? why : "damaged");
        if (mem) {
            mem->len = mem_len;   /* nothing of a bad blob stays visible */
            if (mem->data)
                mem->data[mem_len] = '\0';
        }
    } else if (rc == 0) {
        cas_stat_add(cs, CAS_STAT_HITS, 1);
        cas_stat_add(cs, CAS_STAT_BYTES_OUT, h.digest.size);
    }
    close(fd);
    return rc;
}

int cas_store_get_bytes(struct cas_store *cs, const struct cas_digest *d, struct udcs_buf *out)
{
    return cas_store_read(cs, d, out, NULL, NULL);
}

static int sink_fd(void *arg, const void *data, size_t len)
{
    return udcs_write_full(*(int *)arg, data, len);
}

int cas_store_get_to_fd(struct cas_store *cs, const struct cas_digest *d, int fd)
{
    return cas_store_read(cs, d, NULL, sink_fd, &fd);
}

int cas_store_get_to_file(struct cas_store *cs, const struct cas_digest *d, const char *path,
                          mode_t mode)
{
    struct udcs_afile af;
    int rc = udcs_afile_open(&af, path, 0, mode);
    if (rc < 0)
        return rc;
    rc = cas_store_read(cs, d, NULL, sink_fd, &af.fd);
    if (rc < 0) {
        udcs_afile_abort(&af);
        return rc;
    }
    return udcs_afile_commit(&af);
}

int cas_store_remove(struct cas_store *cs, const struct cas_digest *d)
{
    char rel[CAS_REL_PATH_MAX];
    struct stat st;
    cas_rel_path(CAS_AREA_BLOB, d, rel);
    if (fstatat(cs->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (unlinkat(cs->root_fd, rel, 0) < 0)
        return -errno;
    cas_stat_sub(cs, CAS_STAT_BLOB_COUNT, 1);
    cas_stat_sub(cs, CAS_STAT_BLOB_BYTES, (uint64_t)st.st_size);
    return 0;
}
