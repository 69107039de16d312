/* cas/cas.h - content-addressed store: digests, blob codec, local store, action cache,
 * remote client and server. Knows nothing about jobs, agents or toolchains.
 *
 * A blob is a sequence of bytes named by its digest: XXH3-128 of the raw bytes (written
 * as 32 lowercase hex characters, the same as `xxh128sum` prints) together with the raw
 * size. Blobs are kept and sent in the stored form: a 40-byte header (magic, version,
 * codec, raw size, payload size, digest) followed by the payload, a zstd frame or the raw
 * bytes. The digest is always of the uncompressed bytes and is checked on every read and
 * every upload; nothing is trusted because of its name.
 *
 * The action cache (AC) maps an action digest (the digest of a canonical description of
 * a unit of work) to an action result: exit status, output files, stdout/stderr.
 *
 * Layers, bottom up:
 *   digest and hasher      cas_digest_*, cas_hasher_*
 *   blob codec             cas_blob_*, struct cas_decoder
 *   local store            struct cas_store, cas_store_*  (a directory; many processes)
 *   remote                 struct cas_remote (libcurl), cas_http_mount (server routes)
 *   the store users call   struct cas, cas_*  (local first, then a remote if configured)
 *
 * All functions return 0 (or a count) on success and a negative code on failure: -errno,
 * or a code from common/err.h; the comments name the ones worth handling. */
#ifndef UDCS_CAS_H
#define UDCS_CAS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/buf.h"

/* ---- digests ------------------------------------------------------------------------ */

#define CAS_HASH_BYTES 16
#define CAS_HEX_LEN 32   /* characters in the hex form, without the NUL */

struct cas_digest {
    uint8_t hash[CAS_HASH_BYTES];   /* XXH3-128, canonical (big-endian) byte order */
    uint64_t size;                  /* raw size in bytes */
};

/* Digest of bytes in memory. */
void cas_digest_of_bytes(const void *data, size_t len, struct cas_digest *out);

/* Digest of a whole file, read in chunks. Returns 0 or -errno. */
int cas_digest_of_file(const char *path, struct cas_digest *out);

/* The 32-character hex form into `out` (which needs CAS_HEX_LEN + 1 bytes); returns out. */
char *cas_digest_hex(const struct cas_digest *d, char *out);

/* The fingerprint of a toolchain whose results depend on what its version line names as
 * well as on its file (libraries it loads, the device it opens): the hex digest of
 * "FILE_HEX\nVERSION", VERSION cut at CAS_FINGERPRINT_VERSION_MAX bytes, into `out`
 * (CAS_HEX_LEN + 1 bytes); returns out. Agents fingerprint such toolchains so; a program
 * can check it is the build and device a unit was pinned to. */
#define CAS_FINGERPRINT_VERSION_MAX 1022
char *cas_fingerprint_with_version(const char *file_hex, const char *version, char *out);

/* Parse "HEX" (size left 0, *has_size = 0) or "HEX/SIZE". Upper-case hex and sizes with
 * leading zeros are refused so one blob has one name. Returns 0 or UDCS_EUSAGE. `has_size` may be NULL. */
int cas_digest_parse(const char *text, struct cas_digest *out, int *has_size);

/* Whether two digests name the same bytes (hash and size). */
int cas_digest_equal(const struct cas_digest *a, const struct cas_digest *b);

/* Incremental hashing for data that arrives in pieces. */
struct cas_hasher {
    void *state;
    uint64_t size;
};
int cas_hasher_init(struct cas_hasher *h);                       /* 0 or -ENOMEM */
void cas_hasher_update(struct cas_hasher *h, const void *data, size_t len);
void cas_hasher_final(struct cas_hasher *h, struct cas_digest *out);
void cas_hasher_release(struct cas_hasher *h);

/* ---- blob codec ----------------------------------------------------------------------- */

#define CAS_BLOB_MAGIC "UDCB"
#define CAS_BLOB_VERSION 1
#define CAS_BLOB_HEADER_BYTES 40

enum cas_codec {
    CAS_CODEC_RAW = 0,    /* payload is the raw bytes */
    CAS_CODEC_ZSTD = 1,   /* payload is one zstd frame */
};

struct cas_blob_header {
    enum cas_codec codec;
    uint64_t payload_size;       /* bytes after the header */
    struct cas_digest digest;    /* of the raw bytes; digest.size is the raw size */
};

/* Read a header from the first CAS_BLOB_HEADER_BYTES of `data`. Returns 0,
 * UDCS_ECORRUPT (bad magic, reserved bits set, impossible sizes) or UDCS_EFORMAT (a
 * later version of the format). */
int cas_blob_header_parse(const void *data, size_t len, struct cas_blob_header *out);
void cas_blob_header_write(const struct cas_blob_header *h, uint8_t out[CAS_BLOB_HEADER_BYTES]);

struct cas_encode_options {
    int level;                 /* zstd level, 1..19 (negative levels allowed: faster) */
    int workers;               /* zstd worker threads for large blobs; 0: single thread */
};

/* Encode `len` bytes of `data` into stored form, appended to `out`; the digest is
 * written to `d`. Small or incompressible content is stored raw. Returns 0, -ENOMEM or
 * UDCS_ETOOBIG (out->max). */
int cas_blob_encode(const void *data, size_t len, const struct cas_encode_options *opt,
                    struct udcs_buf *out, struct cas_digest *d);

/* Encode everything `in_fd` yields into stored form written to `out_fd` from offset 0
 * (the header is written last, so `out_fd` must allow pwrite). Memory stays bounded
 * whatever the size; with opt->workers the compression uses that many threads.
 * Returns 0 or -errno; the digest goes to `d`, the stored size to `stored_size`. */
int cas_blob_encode_fd(int in_fd, int out_fd, const struct cas_encode_options *opt,
                       struct cas_digest *d, uint64_t *stored_size);

/* Where decoded raw bytes go: return 0 to go on, a negative code to stop with it. */
typedef int (*cas_sink_fn)(void *arg, const void *data, size_t len);

/* A push decoder: feed it stored-form bytes as they arrive (from disk or the network);
 * raw bytes come out through `sink` (NULL: only verify). `expect` (may be NULL) is the
 * digest the blob must have; its size is checked only when non-zero. `max_raw` refuses
 * blobs claiming more raw bytes (0: no limit) before any work is done. */
struct cas_decoder;
int cas_decoder_new(const struct cas_digest *expect, uint64_t max_raw, cas_sink_fn sink,
                    void *sink_arg, struct cas_decoder **out);
/* Returns 0, UDCS_ECORRUPT (bad header, bad frame, more bytes than the header
 * announced, name mismatch), UDCS_EFORMAT (a header of a newer format version),
 * UDCS_ETOOBIG (over max_raw), or what the sink returned. */
int cas_decoder_feed(struct cas_decoder *dec, const void *data, size_t len);
/* All bytes are in: checks the payload is complete and the digest and size match.
 * Returns 0 or UDCS_ECORRUPT. `hdr` (may be NULL) receives the header. */
int cas_decoder_finish(struct cas_decoder *dec, struct cas_blob_header *hdr);
/* A short message on the last failure ("payload ends after 12 of 40 bytes", ...). */
const char *cas_decoder_error(const struct cas_decoder *dec);
void cas_decoder_free(struct cas_decoder *dec);

/* Decode a whole stored blob in memory into `out` (appending), checking it against
 * `expect` (may be NULL). Returns 0, UDCS_ECORRUPT, UDCS_EFORMAT (newer format version)
 * or UDCS_ETOOBIG (out->max). */
int cas_blob_decode(const void *data, size_t len, const struct cas_digest *expect,
                    struct udcs_buf *out);

/* ---- action results -------------------------------------------------------------------- */

struct cas_output {
    char *path;                 /* relative path the action produced */
    struct cas_digest digest;
    int executable;
};

struct cas_action_result {
    int exit_code;
    struct cas_output *outputs;
    size_t n_outputs;
    struct cas_digest stdout_digest;   /* the empty blob when there was no output */
    struct cas_digest stderr_digest;
    char *executor;                    /* who ran it: "agent-3", "local"; may be NULL */
    uint64_t duration_ms;
    uint64_t created_ms;               /* wall clock, milliseconds since the epoch */
};

/* Largest action result record accepted, as JSON. */
#define CAS_AC_MAX_BYTES (1024 * 1024)

/* Canonical JSON for `r`, appended to `out`. Returns 0, -ENOMEM or UDCS_ETOOBIG. */
int cas_action_result_to_json(const struct cas_action_result *r, struct udcs_buf *out);
/* Parse a record. Returns 0 or UDCS_EPROTO with the reason in `why`. Paths that are
 * absolute or contain ".." are refused. Release with cas_action_result_release(). */
int cas_action_result_from_json(const void *data, size_t len, struct cas_action_result *r,
                                char *why, size_t why_len);
/* Add an output (copies `path`). Returns 0 or -ENOMEM. */
int cas_action_result_add_output(struct cas_action_result *r, const char *path,
                                 const struct cas_digest *d, int executable);
void cas_action_result_release(struct cas_action_result *r);

/* ---- actions -------------------------------------------------------------------------- */

/* A unit of work described canonically; its digest is the action cache key. Everything
 * that can change the result is in it, nothing else (not the agent, not the time):
 *   {"argv":[...],"cwd":"sub","env":{"K":"V"},"input_root":"HEX/SIZE","kind":"exec",
 *    "limits":{"cpu_s":0,"fsize_bytes":0,"mem_bytes":0,"nproc":0},"outputs":["a.o"],
 *    "platform":{"architecture":"x86_64","os":"linux"},"stdin":"payload","timeout_ms":0,
 *    "toolchain":"HEX/SIZE","version":1}       (toolchain only when one is shipped)
 * input_root names a tree manifest (see trees below); stdin and every output are paths
 * relative to the working directory cwd, itself relative to the input root. */
struct cas_action_limits {
    uint64_t cpu_s;        /* RLIMIT_CPU; 0: none */
    uint64_t mem_bytes;    /* RLIMIT_AS */
    uint64_t fsize_bytes;  /* RLIMIT_FSIZE */
    uint64_t nproc;        /* RLIMIT_NPROC */
};

struct cas_action {
    char *kind;                       /* "exec", later "compile", "render", ... */
    char **argv;                      /* NULL-terminated */
    size_t argc;
    char **env;                       /* "KEY=VALUE", sorted by key, NULL-terminated */
    size_t n_env;
    struct cas_digest input_root;     /* tree manifest; size 0 digest of "" when none */
    int has_input_root;
    struct cas_digest toolchain;      /* a shipped toolchain (a tar blob holding the
                                       * programs at their absolute paths) the agent runs
                                       * argv inside, in an isolated root; see agents/ */
    int has_toolchain;
    char **outputs;                   /* expected output files */
    size_t n_outputs;
    char *cwd;                        /* NULL: the input root */
    char *stdin_path;                 /* NULL: /dev/null */
    uint64_t timeout_ms;              /* 0: none */
    struct cas_action_limits limits;
    char *architecture, *os;          /* platform the result depends on; NULL: any */
};

/* Largest action accepted, as JSON. */
#define CAS_ACTION_MAX_BYTES (1024 * 1024)

/* Canonical JSON (appended to `out`) and the action digest computed from it. */
int cas_action_to_json(const struct cas_action *a, struct udcs_buf *out);
int cas_action_digest(const struct cas_action *a, struct cas_digest *out);
/* Parse an action. UDCS_EPROTO with the reason in `why`: unknown kind or version, empty
 * argv, paths that are absolute or climb out (cwd, stdin, outputs), malformed fields.
 * Release with cas_action_release(). */
int cas_action_from_json(const void *data, size_t len, struct cas_action *a, char *why,
                         size_t why_len);
void cas_action_release(struct cas_action *a);

/* ---- trees ---------------------------------------------------------------------------- */

/* A directory tree as a list of entries; stored as one blob of canonical JSON:
 *   {"entries":[{"digest":"HEX/SIZE","mode":420,"path":"a/b.h"},
 *               {"path":"lib","type":"dir"}, {"path":"l","symlink":"target"}],
 *    "udcs_tree":1}
 * sorted by path, so the same tree always has the same digest. */
enum cas_tree_kind { CAS_TREE_FILE, CAS_TREE_DIR, CAS_TREE_SYMLINK };

struct cas_tree_entry {
    char *path;                  /* relative, contained (see udcs_path_is_contained) */
    enum cas_tree_kind kind;
    struct cas_digest digest;    /* files */
    unsigned mode;               /* files: permission bits, 0..0777 */
    char *target;                /* symlinks: the link text, as it was */
};

struct cas_tree {
    struct cas_tree_entry *entries;
    size_t count;
};

/* Largest manifest accepted: a million entries of typical length. */
#define CAS_TREE_MAX_BYTES (256u * 1024 * 1024)

/* Add an entry (copies path and target). Returns 0 or -ENOMEM. */
int cas_tree_add(struct cas_tree *t, enum cas_tree_kind kind, const char *path,
                 const struct cas_digest *d, unsigned mode, const char *target);
/* The canonical JSON (entries sorted by path), appended to `out`. 0, -ENOMEM,
 * UDCS_ETOOBIG. */
int cas_tree_to_json(struct cas_tree *t, struct udcs_buf *out);
/* Parse and check a manifest. Refused with UDCS_EPROTO and a reason in `why`: malformed
 * JSON or entries, a path that is absolute, climbs out with "..", is listed twice, or
 * lies below one of the tree's symlinks (restoring it would write outside the tree). */
int cas_tree_parse(const void *data, size_t len, struct cas_tree *out, char *why,
                   size_t why_len);
void cas_tree_release(struct cas_tree *t);

struct cas;
/* Create the tree's directories, symlinks and files under `dir` (which may exist),
 * fetching file contents through `c`. Only parsed trees (cas_tree_parse) are safe to
 * restore. Returns 0, or an error with `why` naming the entry that failed. */
int cas_tree_restore(struct cas *c, const struct cas_tree *t, const char *dir, char *why,
                     size_t why_len);

/* ---- local store ---------------------------------------------------------------------- */

struct cas_store;

struct cas_store_options {
    const char *root;          /* the store's directory; created if missing */
    uint64_t max_size;         /* bytes kept before least recently used blobs go; 0: none */
    struct cas_encode_options encode;
    int readonly;              /* never write (no counters, no touch, no eviction) */
};

/* Counters kept in the store, shared by every process using it. */
struct cas_stats {
    uint64_t hits, misses;             /* blob reads found / not found */
    uint64_t puts_new, puts_existing;  /* blob writes that stored bytes / found them */
    uint64_t bytes_in;                 /* raw bytes of new blobs */
    uint64_t bytes_out;                /* raw bytes read out */
    uint64_t ac_hits, ac_misses, ac_puts;
    uint64_t evictions;                /* blobs and AC records removed to stay in size */
    uint64_t corrupt;                  /* blobs found damaged, and removed */
    uint64_t remote_hits, remote_misses;
    uint64_t remote_bytes_down, remote_bytes_up;
    uint64_t cleanups;                 /* eviction passes */
    uint64_t blob_count, blob_bytes;   /* blobs and their stored (compressed) size */
    uint64_t ac_count, ac_bytes;
    uint64_t max_size;                 /* the limit in force (not a counter) */
};

/* Open (and create if needed) a store. Returns 0, -errno (-EACCES, -ENOTDIR ...) or
 * UDCS_EFORMAT when the directory holds a store of a newer layout. */
int cas_store_open(const struct cas_store_options *opt, struct cas_store **out);
void cas_store_close(struct cas_store *cs);
const char *cas_store_root(const struct cas_store *cs);

/* Store bytes / a file / everything read from a descriptor. Storing bytes already
 * present is cheap (their header is checked, not the payload). The digest goes to
 * `out`. Returns 0 or -errno (-ENOSPC when the disk is full). */
int cas_store_put_bytes(struct cas_store *cs, const void *data, size_t len,
                        struct cas_digest *out);
int cas_store_put_file(struct cas_store *cs, const char *path, struct cas_digest *out);
int cas_store_put_fd(struct cas_store *cs, int fd, struct cas_digest *out);

/* 1 when the blob is present (its header looks right), 0 when not. */
int cas_store_has(struct cas_store *cs, const struct cas_digest *d);

/* Read a blob into `out` (appending) / into a new file at `path` (created with `mode`,
 * replacing any file there only once the bytes are verified) / to a descriptor (which
 * may have received part of the bytes when corruption is found). Each verifies the
 * digest; a corrupt blob is removed, counted and reported as UDCS_ECORRUPT. Returns 0,
 * -ENOENT when absent (also when `d` names another size than the blob stored under its
 * hash: that blob is left alone), UDCS_ECORRUPT, or -errno. */
int cas_store_get_bytes(struct cas_store *cs, const struct cas_digest *d, struct udcs_buf *out);
int cas_store_get_to_file(struct cas_store *cs, const struct cas_digest *d, const char *path,
                          mode_t mode);
int cas_store_get_to_fd(struct cas_store *cs, const struct cas_digest *d, int fd);

/* Open a blob's stored form for sending elsewhere: `fd` is positioned at 0 and `hdr`
 * holds its (checked) header; the caller closes fd. The payload is not verified here;
 * the receiver verifies as it decodes. Returns 0, -ENOENT or UDCS_ECORRUPT (removed). */
int cas_store_open_stored(struct cas_store *cs, const struct cas_digest *d, int *fd,
                          struct cas_blob_header *hdr);

/* Remove a blob. Returns 0 or -ENOENT. */
int cas_store_remove(struct cas_store *cs, const struct cas_digest *d);

/* Receive a blob in stored form (from the network): feed bytes, then commit. The bytes
 * are verified as they arrive and the blob appears only if it matches `expect` (its
 * size is checked when non-zero). `sink` (may be NULL) receives the raw bytes as they
 * are decoded, for read-through. Commit returns 0 (also when another writer stored the
 * same blob first), UDCS_ECORRUPT (with cas_ingest_error() saying why) or -errno. */
struct cas_ingest;
int cas_ingest_begin(struct cas_store *cs, const struct cas_digest *expect, uint64_t max_raw,
                     cas_sink_fn sink, void *sink_arg, struct cas_ingest **out);
int cas_ingest_feed(struct cas_ingest *ing, const void *data, size_t len);
int cas_ingest_commit(struct cas_ingest *ing, struct cas_digest *out);
const char *cas_ingest_error(const struct cas_ingest *ing);
void cas_ingest_free(struct cas_ingest *ing);   /* drops it unless committed */

/* Action cache. get: 0, -ENOENT (miss) or UDCS_ECORRUPT (removed); the caller releases
 * `out`. put replaces an existing record. */
int cas_store_ac_get(struct cas_store *cs, const struct cas_digest *action,
                     struct cas_action_result *out);
int cas_store_ac_put(struct cas_store *cs, const struct cas_digest *action,
                     const struct cas_action_result *r);

/* Read the counters. */
void cas_store_stats(struct cas_store *cs, struct cas_stats *out);
/* Zero the event counters (not the sizes). */
void cas_store_stats_zero(struct cas_store *cs);
/* The counters as a JSON object (names as in struct cas_stats); NULL when out of memory. */
json_t *cas_stats_to_json(const struct cas_stats *s);
/* Add to the remote counters (for struct cas): hit 1 or 0 counts a remote hit or miss,
 * -1 neither. */
void cas_store_count_remote(struct cas_store *cs, int hit, uint64_t bytes_down,
                            uint64_t bytes_up);

struct cas_verify_report {
    uint64_t checked, corrupt, removed_temporaries;
    uint64_t blob_count, blob_bytes, ac_count, ac_bytes;
};
/* Read and verify every blob and AC record; remove the corrupt ones (and temporaries
 * left by crashed writers); recount the sizes. `progress` (may be NULL) is told each
 * corrupt path. Returns 0 or -errno. */
int cas_store_verify(struct cas_store *cs, struct cas_verify_report *rep,
                     void (*on_corrupt)(void *arg, const char *path, const char *why),
                     void *arg);

struct cas_trim_report {
    uint64_t removed_count, removed_bytes, kept_count, kept_bytes;
};
/* Remove least recently used blobs and AC records until the store holds at most
 * `max_size` bytes. Returns 0, -EBUSY when another process is trimming, or -errno. */
int cas_store_trim(struct cas_store *cs, uint64_t max_size, struct cas_trim_report *rep);

/* ---- remote -------------------------------------------------------------------------- */

/* A client of a CAS server (udcs-cas serve or the farm master). Not thread-safe. */
struct cas_remote;
int cas_remote_open(const char *url, const char *token, struct cas_remote **out);
void cas_remote_free(struct cas_remote *r);
const char *cas_remote_url(const struct cas_remote *r);
/* The last error's message from the server or the transport. */
const char *cas_remote_error(const struct cas_remote *r);
/* Limits for each request (see common/http_client.h): to connect, without any bytes
 * moving, and in all (0: none). By default 5 s to connect, 60 s of stall, no total. */
void cas_remote_set_timeouts(struct cas_remote *r, uint64_t connect_ms, uint64_t stall_ms,
                             uint64_t call_ms);

/* 1 present, 0 absent, or UDCS_ENET / UDCS_EAUTH ... */
int cas_remote_has(struct cas_remote *r, const struct cas_digest *d);
/* Stream the stored form of a blob into `sink`. 0, UDCS_ENOTFOUND, UDCS_ENET ... */
int cas_remote_get_stored(struct cas_remote *r, const struct cas_digest *d, cas_sink_fn sink,
                          void *arg);
/* Upload a blob in stored form read from `fd` (`stored_size` bytes from offset 0).
 * 0 or UDCS_ECORRUPT (refused), UDCS_EAUTH, UDCS_ETOOBIG, UDCS_ENET ... */
int cas_remote_put_stored(struct cas_remote *r, const struct cas_digest *d, int fd,
                          uint64_t stored_size);
/* Action cache over HTTP; records travel as JSON. get: 0 or UDCS_ENOTFOUND. */
int cas_remote_ac_get(struct cas_remote *r, const struct cas_digest *action,
                      struct cas_action_result *out);
int cas_remote_ac_put(struct cas_remote *r, const struct cas_digest *action,
                      const struct cas_action_result *res);
/* The server's counters as JSON text (GET /stats), appended to `out`. */
int cas_remote_stats(struct cas_remote *r, struct udcs_buf *out);

struct udcs_http_server;
struct cas_http_limits {
    uint64_t max_blob_bytes;   /* largest upload (stored form); 0: a built-in default */
};
/* Add the CAS endpoints to a server: HEAD/GET/PUT /cas/{hex}, GET/PUT /ac/{hex},
 * GET /stats, GET /healthz. The store must outlive the server. Returns 0 or -ENOMEM. */
int cas_http_mount(struct udcs_http_server *srv, struct cas_store *cs,
                   const struct cas_http_limits *lim);

/* ---- the store users call: local, then remote ------------------------------------------ */

struct cas_options {
    struct cas_store_options local;
    const char *remote_url;     /* NULL: local only */
    const char *remote_token;   /* bearer token for the remote; may be NULL */
};

struct cas;

/* Open the local store and, when configured, connect the remote. Reads fill the local
 * store from the remote (read-through); writes go to both. Returns 0 or an error from
 * cas_store_open / cas_remote_open. Not thread-safe: one struct cas per thread. */
int cas_open(const struct cas_options *opt, struct cas **out);
void cas_close(struct cas *c);
struct cas_store *cas_local(struct cas *c);
struct cas_remote *cas_remote(struct cas *c);    /* NULL when local only */

int cas_put_bytes(struct cas *c, const void *data, size_t len, struct cas_digest *out);
int cas_put_file(struct cas *c, const char *path, struct cas_digest *out);
/* 1 when present locally or remotely, 0 when not. */
int cas_has(struct cas *c, const struct cas_digest *d);
int cas_get_bytes(struct cas *c, const struct cas_digest *d, struct udcs_buf *out);
int cas_get_to_file(struct cas *c, const struct cas_digest *d, const char *path, mode_t mode);
int cas_get_to_fd(struct cas *c, const struct cas_digest *d, int fd);
/* cas_get_to_file's read, into a file the caller opened with udcs_afile_open() and then
 * commits (or aborts, on failure): for callers that report the file's own errors apart
 * from the blob's, since a missing directory is -ENOENT just as a missing blob is.
 * Starts over from the remote when the local copy proves damaged. */
struct udcs_afile;
int cas_get_to_afile(struct cas *c, const struct cas_digest *d, struct udcs_afile *af);
/* A hit whose outputs can no longer be found anywhere is a miss (-ENOENT). */
int cas_ac_get(struct cas *c, const struct cas_digest *action, struct cas_action_result *out);
int cas_ac_put(struct cas *c, const struct cas_digest *action,
               const struct cas_action_result *r);
/* Make sure the remote holds every blob `r` names (stdout, stderr, outputs), uploading
 * the local copies it lacks. Returns 0 (also when there is no remote, or it was given up
 * on: call cas_remote_retry() first to try again), the remote's error (UDCS_ENET when it
 * cannot be reached; the message in cas_last_remote_error()), or -ENOENT when a blob is
 * not in the local store either. */
int cas_result_upload(struct cas *c, const struct cas_action_result *r);
/* The remote's last error message, or "" when there is none. */
const char *cas_last_remote_error(struct cas *c);
/* The remote's last error code, 0 when there is none: UDCS_ENET when it did not answer
 * (refused, timed out, reset), UDCS_EAUTH, UDCS_ECORRUPT ... */
int cas_last_remote_rc(struct cas *c);
/* Forget the last remote error and try the remote again (after a failure, a struct cas
 * leaves the remote alone until told otherwise). For long-lived users such as agents. */
void cas_remote_retry(struct cas *c);

#endif
