/* cas/decoder.c - reading the stored form back. One push decoder serves every path:
 * bytes from disk or from the network are fed as they come, and blobs held in memory
 * are fed whole. It checks the header, the payload length, the raw size and the digest.
 *
 * Why one path: zstd's streaming decoder accepts or refuses some malformed frames (a
 * block larger than the window) depending on how the input is split and how much output
 * room it is given. The decoder therefore re-cuts the payload into fixed pieces counted
 * from its start (CAS_DECODE_PIECE_BYTES) and always offers the same output room, so a
 * blob gets the same verdict whether it came in one read, in network packets or from a
 * file in chunks. */
#include "cas/cas_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Payload bytes handed to zstd per call, counted from the payload's first byte. */
#define CAS_DECODE_PIECE_BYTES (128u * 1024)

struct cas_decoder {
    struct cas_digest expect;
    int has_expect;
    uint64_t max_raw;
    cas_sink_fn sink;
    void *sink_arg;

    uint8_t hdr_bytes[CAS_BLOB_HEADER_BYTES];
    size_t hdr_len;
    int have_header;
    struct cas_blob_header hdr;

    uint64_t payload_seen;        /* payload bytes received */
    int frame_done;
    struct cas_zctx *borrowed;    /* this thread's contexts, when free; else own ones: */
    ZSTD_DCtx *dctx;
    char *out;                    /* CAS_DECODE_OUT_BYTES of raw output room */
    char *stage;                  /* a piece being gathered across feeds */
    size_t staged;
    struct cas_hasher hasher;
    const char *why;
};

int cas_decoder_new(const struct cas_digest *expect, uint64_t max_raw, cas_sink_fn sink,
                    void *sink_arg, struct cas_decoder **out)
{
    struct cas_decoder *dec = calloc(1, sizeof(*dec));
    if (!dec)
        return -ENOMEM;
    if (expect) {
        dec->expect = *expect;
        dec->has_expect = 1;
    }
    dec->max_raw = max_raw;
    dec->sink = sink;
    dec->sink_arg = sink_arg;
    if (cas_hasher_init(&dec->hasher) < 0) {
        free(dec);
        return -ENOMEM;
    }
    *out = dec;
    return 0;
}

void cas_decoder_free(struct cas_decoder *dec)
{
    if (!dec)
        return;
    if (dec->borrowed) {
        dec->borrowed->dctx_busy = 0;
    } else {
        ZSTD_freeDCtx(dec->dctx);
        free(dec->out);
    }
    free(dec->stage);
    cas_hasher_release(&dec->hasher);
    free(dec);
}

const char *cas_decoder_error(const struct cas_decoder *dec)
{
    return dec->why ? dec->why : "";
}

static int fail(struct cas_decoder *dec, int rc, const char *why)
{
    if (!dec->why)
        dec->why = why;
    return rc;
}

/* Check a parsed header against what the caller expects. */
static int check_header(const struct cas_blob_header *h, const struct cas_digest *expect,
                        int has_expect, uint64_t max_raw, const char **why)
{
    if (has_expect && (memcmp(h->digest.hash, expect->hash, CAS_HASH_BYTES) != 0 ||
                       (expect->size && expect->size != h->digest.size))) {
        *why = "the blob's header names a different digest than the one asked for";
        return UDCS_ECORRUPT;
    }
    if (max_raw && h->digest.size > max_raw) {
        *why = "the blob is larger than the configured limit";
        return UDCS_ETOOBIG;
    }
    return 0;
}

static int emit(struct cas_decoder *dec, const void *data, size_t len)
{
    if (len > dec->hdr.digest.size - dec->hasher.size)
        return fail(dec, UDCS_ECORRUPT, "the payload decodes to more bytes than the header says");
    cas_hasher_update(&dec->hasher, data, len);
    if (dec->sink && len) {
        int rc = dec->sink(dec->sink_arg, data, len);
        if (rc < 0)
            return fail(dec, rc, "the destination refused the bytes");
    }
    return 0;
}

/* Get decompression state: this thread's, unless another decoder holds it. */
static int take_zstd(struct cas_decoder *dec)
{
    struct cas_zctx *z = cas_zctx_get();
    if (z && !z->dctx_busy) {
        z->dctx_busy = 1;
        dec->borrowed = z;
        dec->dctx = z->dctx;
        dec->out = z->dout;
        ZSTD_DCtx_reset(dec->dctx, ZSTD_reset_session_only);
        return 0;
    }
    dec->dctx = ZSTD_createDCtx();
    dec->out = malloc(CAS_DECODE_OUT_BYTES);
    return dec->dctx && dec->out ? 0 : -ENOMEM;
}

static int take_header(struct cas_decoder *dec)
{
    int rc = cas_blob_header_parse(dec->hdr_bytes, CAS_BLOB_HEADER_BYTES, &dec->hdr);
    if (rc == UDCS_EFORMAT)
        return fail(dec, rc, "the blob was written by a newer UDCS (unknown format version)");
    if (rc < 0)
        return fail(dec, rc, "the blob header is damaged");
    const char *why = NULL;
    rc = check_header(&dec->hdr, &dec->expect, dec->has_expect, dec->max_raw, &why);
    if (rc < 0)
        return fail(dec, rc, why);
    dec->have_header = 1;
    return dec->hdr.codec == CAS_CODEC_ZSTD ? take_zstd(dec) : 0;
}

/* Hand one whole piece of the frame to zstd and pass on everything it yields. */
static int decompress_piece(struct cas_decoder *dec, const void *piece, size_t len)
{
    ZSTD_inBuffer in = { piece, len, 0 };
    for (;;) {
        if (dec->frame_done)
            return in.pos < in.size ? fail(dec, UDCS_ECORRUPT,
                                           "bytes follow the end of the zstd frame") : 0;
        ZSTD_outBuffer out = { dec->out, CAS_DECODE_OUT_BYTES, 0 };
        size_t r = ZSTD_decompressStream(dec->dctx, &out, &in);
        if (ZSTD_isError(r))
            return fail(dec, UDCS_ECORRUPT, "the zstd frame is damaged");
        int rc = emit(dec, dec->out, out.pos);
        if (rc < 0)
            return rc;
        if (r == 0)
            dec->frame_done = 1;
        /* Done with this piece once it is consumed and zstd had room to spare. */
        else if (in.pos == in.size && out.pos < out.size)
            return 0;
    }
}

/* Size of the piece that starts at payload offset `at`. */
static size_t piece_len(const struct cas_decoder *dec, uint64_t at)
{
    uint64_t left = dec->hdr.payload_size - at;
    return left < CAS_DECODE_PIECE_BYTES ? (size_t)left : CAS_DECODE_PIECE_BYTES;
}

static int take_payload(struct cas_decoder *dec, const uint8_t *p, size_t len)
{
    if (len > dec->hdr.payload_size - dec->payload_seen)
        return fail(dec, UDCS_ECORRUPT, "more bytes follow than the header announced");
    if (dec->hdr.codec == CAS_CODEC_RAW) {
        dec->payload_seen += len;
        return emit(dec, p, len);
    }
    while (len > 0) {
        uint64_t start = dec->payload_seen - dec->staged;   /* where the next piece begins */
        size_t want = piece_len(dec, start);
        if (dec->staged == 0 && len >= want) {
            /* The whole piece is here: no copy. */
            dec->payload_seen += want;
            int rc = decompress_piece(dec, p, want);
            if (rc < 0)
                return rc;
            p += want;
            len -= want;
            continue;
        }
        if (!dec->stage && !(dec->stage = malloc(CAS_DECODE_PIECE_BYTES)))
            return -ENOMEM;
        size_t take = want - dec->staged < len ? want - dec->staged : len;
        memcpy(dec->stage + dec->staged, p, take);
        dec->staged += take;
        dec->payload_seen += take;
        p += take;
        len -= take;
        if (dec->staged == want) {
            dec->staged = 0;
            int rc = decompress_piece(dec, dec->stage, want);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int cas_decoder_feed(struct cas_decoder *dec, const void *data, size_t len)
{
    if (dec->why)
        return UDCS_ECORRUPT;
    const uint8_t *p = data;
    if (!dec->have_header) {
        size_t take = CAS_BLOB_HEADER_BYTES - dec->hdr_len;
        if (take > len)
            take = len;
        memcpy(dec->hdr_bytes + dec->hdr_len, p, take);
        dec->hdr_len += take;
        p += take;
        len -= take;
        if (dec->hdr_len < CAS_BLOB_HEADER_BYTES)
            return 0;
        int rc = take_header(dec);
        if (rc < 0)
            return rc;
    }
    return len ? take_payload(dec, p, len) : 0;
}

int cas_decoder_finish(struct cas_decoder *dec, struct cas_blob_header *hdr)
{
    if (dec->why)
        return UDCS_ECORRUPT;
    if (!dec->have_header)
        return fail(dec, UDCS_ECORRUPT, "the blob ends inside its header");
    if (dec->payload_seen < dec->hdr.payload_size)
        return fail(dec, UDCS_ECORRUPT, "the blob is truncated: its payload is incomplete");
    if (dec->hdr.codec == CAS_CODEC_ZSTD && !dec->frame_done)
        return fail(dec, UDCS_ECORRUPT, "the zstd frame is incomplete");
    if (dec->hasher.size != dec->hdr.digest.size)
        return fail(dec, UDCS_ECORRUPT, "the payload decodes to a different size than the "
                    "header says");
    struct cas_digest got;
    cas_hasher_final(&dec->hasher, &got);
    if (!cas_digest_equal(&got, &dec->hdr.digest))
        return fail(dec, UDCS_ECORRUPT, "the bytes do not hash to the blob's digest");
    if (hdr)
        *hdr = dec->hdr;
    return 0;
}

static int sink_append(void *arg, const void *data, size_t len)
{
    return udcs_buf_append(arg, data, len);
}

/* Feed a whole stored blob, then finish. */
static int decode_whole(const void *data, size_t len, const struct cas_digest *expect,
                        cas_sink_fn sink, void *arg, const char **why)
{
    struct cas_decoder *dec;
    int rc = cas_decoder_new(expect, 0, sink, arg, &dec);
    if (rc < 0)
        return rc;
    rc = cas_decoder_feed(dec, data, len);
    if (rc == 0)
        rc = cas_decoder_finish(dec, NULL);
    if (rc < 0 && why)
        *why = cas_decoder_error(dec);
    cas_decoder_free(dec);
    return rc;
}

int cas_blob_decode_mem(const void *data, size_t len, const struct cas_digest *expect,
                        struct udcs_buf *out, const char **why)
{
    /* Reserve the raw size up front (bounded by out->max) so the appends never move. */
    struct cas_blob_header h;
    if (cas_blob_header_parse(data, len, &h) == 0) {
        int rc = udcs_buf_reserve(out, h.digest.size);
        if (rc < 0)
            return rc;
    }
    size_t before = out->len;
    int rc = decode_whole(data, len, expect, sink_append, out, why);
    if (rc < 0) {
        out->len = before;   /* nothing of a bad blob stays visible */
        if (out->data)
            out->data[before] = '\0';
    }
    return rc;
}

int cas_blob_decode(const void *data, size_t len, const struct cas_digest *expect,
                    struct udcs_buf *out)
{
    return cas_blob_decode_mem(data, len, expect, out, NULL);
}

int cas_blob_verify_memory(const void *data, size_t len, const struct cas_digest *expect,
                           const char **why)
{
    return decode_whole(data, len, expect, NULL, NULL, why);
}
