/* cas/http.c - the CAS endpoints on a common/http_server: what `udcs-cas serve` runs and
 * what the farm master mounts next to its own API.
 *
 *   HEAD /cas/{hex}  200 with Content-Length (stored) and X-UDCS-Raw-Size, or 404
 *   GET  /cas/{hex}  the stored form, verified as it is sent
 *   PUT  /cas/{hex}  stored form in; verified while it arrives, kept only if it matches
 *   GET  /ac/{hex}   the action result as JSON, or 404
 *   PUT  /ac/{hex}   an action result as JSON; every blob it names must be here already
 *   GET  /stats      the store's counters as JSON
 *   GET  /healthz    {"ok": true} */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_server.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOB_CONTENT_TYPE "application/x-udcs-blob"
/* Default largest upload: blobs of a few GiB (video, toolchains) are expected. */
#define HTTP_DEFAULT_MAX_BLOB_BYTES (64ull * 1024 * 1024 * 1024)

struct cas_http {
    struct cas_store *cs;
    uint64_t max_blob_bytes;
};

/* Take the digest from the path; replies 400 and returns -1 when it is not one. */
static int digest_from_path(struct udcs_http_req *req, struct cas_digest *d)
{
    if (cas_digest_parse(req->subpath, d, NULL) < 0) {
        udcs_http_reply_error(req, 400, "'%s' is not a digest: expected %d lowercase hex "
                              "characters (XXH3-128)", req->subpath, CAS_HEX_LEN);
        return -1;
    }
    return 0;
}

static void add_size_headers(struct udcs_http_req *req, const struct cas_blob_header *h)
{
    char v[32];
    snprintf(v, sizeof(v), "%" PRIu64, h->digest.size);
    udcs_http_add_header(req, "X-UDCS-Raw-Size", v);
}

static void reply_corrupt_gone(struct udcs_http_req *req)
{
    udcs_http_reply_error(req, 404, "blob %s was damaged on this server and has been "
                          "removed; upload it again", req->subpath);
}

static void head_blob(struct udcs_http_req *req)
{
    struct cas_http *h = req->ctx;
    struct cas_digest d;
    struct cas_blob_header hdr;
    int fd;
    if (digest_from_path(req, &d) < 0)
        return;
    if (cas_digest_is_empty(&d)) {
        udcs_http_reply(req, 200, BLOB_CONTENT_TYPE, NULL, 0);
        return;
    }
    int rc = cas_store_open_stored(h->cs, &d, &fd, &hdr);
    if (rc < 0) {
        udcs_http_reply_error(req, 404, "no blob %s here", req->subpath);
        return;
    }
    add_size_headers(req, &hdr);
    udcs_http_reply_fd(req, 200, BLOB_CONTENT_TYPE, fd, CAS_BLOB_HEADER_BYTES + hdr.payload_size);
}

/* A large blob is verified while it streams out: if the end shows damage, the transfer
 * is cut short (the client sees an incomplete body and refuses it) and the blob goes. */
struct verified_send {
    struct cas_http *h;
    struct cas_digest d;
    int fd;
    struct cas_decoder *dec;
    int failed;
};

static long verified_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct verified_send *v = arg;
    if (v->failed)
        return -1;
    ssize_t n = udcs_pread_full(v->fd, buf, max, (off_t)pos);
    if (n < 0)
        return -1;
    int rc = n > 0 ? cas_decoder_feed(v->dec, buf, (size_t)n) : cas_decoder_finish(v->dec, NULL);
    if (rc < 0) {
        char rel[CAS_REL_PATH_MAX];
        cas_rel_path(CAS_AREA_BLOB, &v->d, rel);
        cas_store_drop_corrupt(v->h->cs, CAS_AREA_BLOB, rel, v->fd, cas_decoder_error(v->dec));
        v->failed = 1;
        return -1;
    }
    if (n == 0) {
        cas_stat_add(v->h->cs, CAS_STAT_HITS, 1);
        cas_stat_add(v->h->cs, CAS_STAT_BYTES_OUT, v->d.size);
    }
    return (long)n;
}

static void verified_done(void *arg)
{
    struct verified_send *v = arg;
    cas_decoder_free(v->dec);
    close(v->fd);
    free(v);
}

static void get_blob(struct udcs_http_req *req)
{
    struct cas_http *h = req->ctx;
    struct cas_digest d;
    struct cas_blob_header hdr;
    int fd;
    if (digest_from_path(req, &d) < 0)
        return;
    if (cas_digest_is_empty(&d)) {
        /* The empty blob in stored form: a raw header with no payload. */
        uint8_t raw[CAS_BLOB_HEADER_BYTES];
        hdr.codec = CAS_CODEC_RAW;
        hdr.payload_size = 0;
        hdr.digest = d;
        cas_blob_header_write(&hdr, raw);
        add_size_headers(req, &hdr);
        udcs_http_reply(req, 200, BLOB_CONTENT_TYPE, raw, sizeof(raw));
        return;
    }
    int rc = cas_store_open_stored(h->cs, &d, &fd, &hdr);
    if (rc == UDCS_ECORRUPT) {
        reply_corrupt_gone(req);
        return;
    }
    if (rc < 0) {
        cas_stat_add(h->cs, CAS_STAT_MISSES, 1);
        udcs_http_reply_error(req, 404, "no blob %s here", req->subpath);
        return;
    }
    uint64_t stored = CAS_BLOB_HEADER_BYTES + hdr.payload_size;
    add_size_headers(req, &hdr);
    if (stored <= CAS_READ_WHOLE_MAX_BYTES) {
        /* Small: verify first, so a damaged blob gets a clean 404 instead of a cut. */
        char *whole = malloc(stored);
        const char *why = "could not be read";
        ssize_t n = whole ? udcs_pread_full(fd, whole, stored, 0) : -ENOMEM;
        if (n == (ssize_t)stored && cas_blob_verify_memory(whole, stored, &d, &why) == 0) {
            cas_stat_add(h->cs, CAS_STAT_HITS, 1);
            cas_stat_add(h->cs, CAS_STAT_BYTES_OUT, hdr.digest.size);
            udcs_http_reply(req, 200, BLOB_CONTENT_TYPE, whole, stored);
        } else if (n < 0) {
            udcs_http_reply_error(req, 500, "reading blob %s failed: %s", req->subpath,
                                  udcs_strerror((int)n));
        } else {
            char rel[CAS_REL_PATH_MAX];
            cas_rel_path(CAS_AREA_BLOB, &d, rel);
            cas_store_drop_corrupt(h->cs, CAS_AREA_BLOB, rel, fd, why);
            reply_corrupt_gone(req);
        }
        free(whole);
        close(fd);
        return;
    }
    struct verified_send *v = calloc(1, sizeof(*v));
    if (!v || cas_decoder_new(&d, 0, NULL, NULL, &v->dec) < 0) {
        free(v);
        close(fd);
        udcs_http_reply_error(req, 500, "out of memory");
        return;
    }
    v->h = h;
    v->d = d;
    v->fd = fd;
    udcs_http_reply_stream(req, 200, BLOB_CONTENT_TYPE, stored, verified_read, verified_done, v);
}

/* PUT /cas/{hex}: the body streams into an ingest, which verifies it on the way. */
static void put_blob_begin(struct udcs_http_req *req)
{
    struct cas_http *h = req->ctx;
    struct cas_digest d;
    if (digest_from_path(req, &d) < 0)
        return;
    if (req->content_length >= 0 && (uint64_t)req->content_length < CAS_BLOB_HEADER_BYTES) {
        udcs_http_reply_error(req, 400, "a blob upload is at least its %d-byte header; "
                              "send the stored form (what GET /cas/ returns)",
                              CAS_BLOB_HEADER_BYTES);
        return;
    }
    struct cas_ingest *ing;
    int rc = cas_ingest_begin(h->cs, &d, h->max_blob_bytes, NULL, NULL, &ing);
    if (rc < 0) {
        udcs_http_reply_error(req, 500, "cannot receive a blob: %s", udcs_strerror(rc));
        return;
    }
    req->state = ing;
}

static void put_blob_chunk(struct udcs_http_req *req, const char *data, size_t len)
{
    struct cas_ingest *ing = req->state;
    int rc = cas_ingest_feed(ing, data, len);
    if (rc == UDCS_ETOOBIG)
        udcs_http_reply_error(req, 413, "blob %s is larger than this server accepts",
                              req->subpath);
    else if (rc == UDCS_ECORRUPT || rc == UDCS_EFORMAT)
        udcs_http_reply_error(req, 400, "upload of %s refused: %s", req->subpath,
                              cas_ingest_error(ing));
    else if (rc < 0)
        udcs_http_reply_error(req, 500, "storing %s failed: %s", req->subpath,
                              udcs_strerror(rc));
}

static void put_blob_end(struct udcs_http_req *req)
{
    struct cas_ingest *ing = req->state;
    struct cas_digest d;
    int rc = cas_ingest_commit(ing, &d);
    if (rc == UDCS_ECORRUPT) {
        udcs_http_reply_error(req, 400, "upload of %s refused: %s", req->subpath,
                              cas_ingest_error(ing));
        return;
    }
    if (rc < 0) {
        udcs_http_reply_error(req, 500, "storing %s failed: %s", req->subpath,
                              udcs_strerror(rc));
        return;
    }
    char hex[CAS_HEX_LEN + 1];
    udcs_http_reply_json(req, 201, json_pack("{s:s, s:I}", "digest", cas_digest_hex(&d, hex),
                                             "size", (json_int_t)d.size));
}

static void put_blob_cleanup(struct udcs_http_req *req)
{
    cas_ingest_free(req->state);
    req->state = NULL;
}

static void get_ac(struct udcs_http_req *req)
{
    struct cas_http *h = req->ctx;
    struct cas_digest d;
    if (digest_from_path(req, &d) < 0)
        return;
    struct cas_action_result r;
    int rc = cas_store_ac_get(h->cs, &d, &r);
    if (rc < 0) {
        udcs_http_reply_error(req, 404, "no action result for %s here", req->subpath);
        return;
    }
    struct udcs_buf json = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    rc = cas_action_result_to_json(&r, &json);
    cas_action_result_release(&r);
    if (rc == 0)
        udcs_http_reply(req, 200, "application/json", json.data, json.len);
    else
        udcs_http_reply_error(req, 500, "out of memory");
    udcs_buf_release(&json);
}

/* The blob named by `d` must be here before a result may refer to it. */
static int require_blob(struct udcs_http_req *req, struct cas_store *cs,
                        const struct cas_digest *d, const char *what)
{
    if (cas_store_has(cs, d))
        return 0;
    char hex[CAS_HEX_LEN + 1];
    udcs_http_reply_error(req, 409, "the action result names blob %s (%s), which this server "
                          "does not have; upload the blobs first, then the result",
                          cas_digest_hex(d, hex), what);
    return -1;
}

static void put_ac(struct udcs_http_req *req)
{
    struct cas_http *h = req->ctx;
    struct cas_digest d;
    if (digest_from_path(req, &d) < 0)
        return;
    struct cas_action_result r;
    char why[256];
    if (cas_action_result_from_json(req->body.data, req->body.len, &r, why, sizeof(why)) < 0) {
        udcs_http_reply_error(req, 400, "not an action result: %s", why);
        return;
    }
    int ok = require_blob(req, h->cs, &r.stdout_digest, "stdout") == 0 &&
             require_blob(req, h->cs, &r.stderr_digest, "stderr") == 0;
    for (size_t i = 0; ok && i < r.n_outputs; i++)
        ok = require_blob(req, h->cs, &r.outputs[i].digest, r.outputs[i].path) == 0;
    if (ok) {
        int rc = cas_store_ac_put(h->cs, &d, &r);
        if (rc < 0)
            udcs_http_reply_error(req, 500, "storing the result failed: %s", udcs_strerror(rc));
        else
            udcs_http_reply_json(req, 201, json_pack("{s:b}", "stored", 1));
    }
    cas_action_result_release(&r);
}

static void get_stats(struct udcs_http_req *req)
{
    struct cas_http *h = req->ctx;
    struct cas_stats s;
    cas_store_stats(h->cs, &s);
    udcs_http_reply_json(req, 200, cas_stats_to_json(&s));
}

static void get_health(struct udcs_http_req *req)
{
    udcs_http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

int cas_http_mount(struct udcs_http_server *srv, struct cas_store *cs,
                   const struct cas_http_limits *lim)
{
    struct cas_http *h = calloc(1, sizeof(*h));
    if (!h || udcs_http_server_adopt(srv, h, free) < 0) {
        free(h);
        return -ENOMEM;
    }
    h->cs = cs;
    h->max_blob_bytes = lim && lim->max_blob_bytes ? lim->max_blob_bytes
                                                   : HTTP_DEFAULT_MAX_BLOB_BYTES;
    const struct udcs_http_route routes[] = {
        { .method = "HEAD", .path = "/cas/", .auth = UDCS_HTTP_AUTH_READ, .handle = head_blob,
          .ctx = h },
        { .method = "GET", .path = "/cas/", .auth = UDCS_HTTP_AUTH_READ, .handle = get_blob,
          .ctx = h },
        { .method = "PUT", .path = "/cas/", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = h->max_blob_bytes + CAS_BLOB_HEADER_BYTES, .begin = put_blob_begin,
          .chunk = put_blob_chunk, .handle = put_blob_end, .cleanup = put_blob_cleanup,
          .ctx = h },
        { .method = "GET", .path = "/ac/", .auth = UDCS_HTTP_AUTH_READ, .handle = get_ac,
          .ctx = h },
        { .method = "PUT", .path = "/ac/", .auth = UDCS_HTTP_AUTH_WRITE,
          .max_body = CAS_AC_MAX_BYTES, .handle = put_ac, .ctx = h },
        { .method = "GET", .path = "/stats", .auth = UDCS_HTTP_AUTH_READ, .handle = get_stats,
          .ctx = h },
        { .method = "GET", .path = "/healthz", .auth = UDCS_HTTP_AUTH_NONE,
          .handle = get_health, .ctx = h },
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = udcs_http_server_add_route(srv, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
