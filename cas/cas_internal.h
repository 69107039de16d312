/* cas/cas_internal.h - what the files of cas/ share and nobody else may include. */
#ifndef UDCS_CAS_INTERNAL_H
#define UDCS_CAS_INTERNAL_H

#include <stdint.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "cas/cas.h"

/* Content smaller than this is stored raw: a zstd frame would not be smaller. */
#define CAS_RAW_BELOW_BYTES 64
/* Content stays raw unless zstd saves at least 1/CAS_MIN_SAVING_DIVISOR of it. */
#define CAS_MIN_SAVING_DIVISOR 32
/* Files up to this size are encoded in memory in one call; larger ones stream. */
#define CAS_ONESHOT_MAX_BYTES (4u * 1024 * 1024)
/* Blobs up to this stored size are read whole (one read) and decoded in one call. */
#define CAS_READ_WHOLE_MAX_BYTES (4u * 1024 * 1024)
/* Chunk size for streaming reads and writes of large blobs. */
#define CAS_STREAM_CHUNK_BYTES (1024u * 1024)

/* Raw bytes zstd may write per decompression call; see decoder.c. */
#define CAS_DECODE_OUT_BYTES (256u * 1024)

/* zstd contexts and scratch kept per thread, so a hit allocates none of them. A decoder
 * borrows the decompression half while `dctx_busy` is clear and makes its own otherwise. */
struct cas_zctx {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    char *dout;           /* CAS_DECODE_OUT_BYTES */
    int dctx_busy;
};
/* This thread's contexts, created on first use; NULL when out of memory. */
struct cas_zctx *cas_zctx_get(void);

/* Encode `len` bytes into `out` (header + payload) using this thread's context. When
 * `known` is not NULL it is the digest of the bytes, already computed. */
int cas_blob_encode_with(struct cas_zctx *z, const void *data, size_t len, int level,
                         const struct cas_digest *known, struct udcs_buf *out,
                         struct cas_digest *d);

/* Decode a whole stored blob held in memory; see cas_blob_decode. When `why` is not
 * NULL it receives a reason on UDCS_ECORRUPT. */
int cas_blob_decode_mem(const void *data, size_t len, const struct cas_digest *expect,
                        struct udcs_buf *out, const char **why);

/* Verify a stored blob in memory without keeping the raw bytes. */
int cas_blob_verify_memory(const void *data, size_t len, const struct cas_digest *expect,
                           const char **why);

/* ---- the local store ---------------------------------------------------------------- */

/* Counters in the shared stats file, in file order. */
enum cas_stat {
    CAS_STAT_HITS, CAS_STAT_MISSES, CAS_STAT_PUTS_NEW, CAS_STAT_PUTS_EXISTING,
    CAS_STAT_BYTES_IN, CAS_STAT_BYTES_OUT, CAS_STAT_AC_HITS, CAS_STAT_AC_MISSES,
    CAS_STAT_AC_PUTS, CAS_STAT_EVICTIONS, CAS_STAT_CORRUPT, CAS_STAT_REMOTE_HITS,
    CAS_STAT_REMOTE_MISSES, CAS_STAT_REMOTE_BYTES_DOWN, CAS_STAT_REMOTE_BYTES_UP,
    CAS_STAT_CLEANUPS, CAS_STAT_BLOB_COUNT, CAS_STAT_BLOB_BYTES, CAS_STAT_AC_COUNT,
    CAS_STAT_AC_BYTES,
    CAS_STAT_COUNT
};

/* A store holds blobs under "cas/XX/<30 hex>" and action results under "ac/XX/<30 hex>",
 * XX being the digest's first byte: up to 256 shard directories each, made on first use. */
enum cas_area { CAS_AREA_BLOB = 0, CAS_AREA_AC = 1 };

/* "cas/ab/cdef..." or "ac/ab/cdef...": at most this many bytes with the NUL. */
#define CAS_REL_PATH_MAX 48

/* Keep evicting until the store is down to this share of its maximum, so a full store
 * does not clean up on every write. */
#define CAS_TRIM_LOW_WATER_PERCENT 90
/* An access refreshes a file's time only when it is older than this: LRU order at this
 * granularity costs no write on the hot path of repeated hits. */
#define CAS_TOUCH_INTERVAL_S 60
/* Named temporaries (left only where O_TMPFILE is unavailable) older than this belong to
 * crashed writers and are removed by cleanups. */
#define CAS_STALE_TEMP_S 3600

struct cas_store {
    char *root;
    int root_fd;
    int lock_fd;
    uint64_t max_size;
    struct cas_encode_options enc;
    int readonly;
    uint64_t *counters;         /* CAS_STAT_COUNT entries in the mmap'd stats file */
    void *stats_map;
    size_t stats_map_len;
};

void cas_rel_path(enum cas_area area, const struct cas_digest *d, char out[CAS_REL_PATH_MAX]);
void cas_stat_add(struct cas_store *cs, enum cas_stat which, uint64_t n);
void cas_stat_sub(struct cas_store *cs, enum cas_stat which, uint64_t n);
void cas_stat_set(struct cas_store *cs, enum cas_stat which, uint64_t v);
uint64_t cas_stat_get(const struct cas_store *cs, enum cas_stat which);

/* Remove the file at `rel` if it is still the one `fd` has open (another process may
 * have replaced it with a good copy meanwhile), and count it corrupt. */
void cas_store_drop_corrupt(struct cas_store *cs, enum cas_area area, const char *rel, int fd,
                            const char *why);

/* Refresh an entry's time for LRU order, at most once per CAS_TOUCH_INTERVAL_S. */
struct stat;
void cas_store_touch(struct cas_store *cs, int fd, const struct stat *st);

/* Account for a blob that a commit just created (is_new) or found there already; a new
 * one may start a cleanup. */
void cas_store_count_put(struct cas_store *cs, int is_new, uint64_t raw, uint64_t stored,
                         const char *rel);

/* After a write: evict least recently used entries when over the maximum size. Never
 * evicts `protect_rel` (the entry just written). Skips when another process is at it. */
void cas_store_maybe_cleanup(struct cas_store *cs, const char *protect_rel);

/* Read blob `d`: into `mem` (appended; left as it was on failure) when not NULL, else
 * through `sink`. Verifies, counts hits and misses, removes a corrupt blob. Returns 0,
 * -ENOENT, UDCS_ECORRUPT, or what the sink returned. */
int cas_store_read(struct cas_store *cs, const struct cas_digest *d, struct udcs_buf *mem,
                   cas_sink_fn sink, void *arg);

/* Stream the stored blob in `fd` (from offset 0) through a verifying decoder into `sink`
 * (NULL: verify only). On UDCS_ECORRUPT, *why says what was wrong. */
int cas_decode_fd(int fd, const struct cas_digest *d, cas_sink_fn sink, void *arg,
                  const char **why);

/* Give a finished unnamed file its name `rel` ("cas/ab/cdef..."), making the shard
 * directory if this is its first entry. Same results as udcs_afile_commit_as(). */
struct udcs_afile;
int cas_store_commit(struct cas_store *cs, struct udcs_afile *af, const char *rel);

/* Whether `d` names the empty blob, which every store has without storing it. */
int cas_digest_is_empty(const struct cas_digest *d);

#endif
