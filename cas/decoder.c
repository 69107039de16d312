/* cas/decoder.c - reading the stored form back: a push decoder for streams (files and
 * network bodies arrive in pieces) and one-shot decoding for blobs held in memory. Both
 * check the header, the payload length, the raw size and the digest. */
#include "cas/cas_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Raw bytes handed to the sink per call when decompressing a stream. */
#define DECODER_OUT_BYTES (256u * 1024)

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

    uint64_t payload_seen;
    int frame_done;
    ZSTD_DCtx *dctx;
    char *out;
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
    ZSTD_freeDCtx(dec->dctx);
    free(dec->out);
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
    if (dec->hasher.size + len > dec->hdr.digest.size)
        return fail(dec, UDCS_ECORRUPT, "the payload decodes to more bytes than the header says");
    cas_hasher_update(&dec->hasher, data, len);
    if (dec->sink && len) {
        int rc = dec->sink(dec->sink_arg, data, len);
        if (rc < 0)
            return fail(dec, rc, "the destination refused the bytes");
    }
    return 0;
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
    if (dec->hdr.codec == CAS_CODEC_ZSTD) {
        dec->dctx = ZSTD_createDCtx();
        dec->out = malloc(DECODER_OUT_BYTES);
        if (!dec->dctx || !dec->out)
            return -ENOMEM;
    }
    return 0;
}

static int take_payload(struct cas_decoder *dec, const uint8_t *p, size_t len)
{
    if (len > dec->hdr.payload_size - dec->payload_seen)
        return fail(dec, UDCS_ECORRUPT, "more bytes follow than the header announced");
    dec->payload_seen += len;
    if (dec->hdr.codec == CAS_CODEC_RAW)
        return emit(dec, p, len);

    ZSTD_inBuffer in = { p, len, 0 };
    while (in.pos < in.size) {
        if (dec->frame_done)
            return fail(dec, UDCS_ECORRUPT, "bytes follow the end of the zstd frame");
        ZSTD_outBuffer out = { dec->out, DECODER_OUT_BYTES, 0 };
        size_t r = ZSTD_decompressStream(dec->dctx, &out, &in);
        if (ZSTD_isError(r))
            return fail(dec, UDCS_ECORRUPT, "the zstd frame is damaged");
        int rc = emit(dec, dec->out, out.pos);
        if (rc < 0)
            return rc;
        if (r == 0)
            dec->frame_done = 1;
        else if (out.pos == 0 && in.pos == in.size)
            break;
    }
    /* Flush what the frame still holds once all input is consumed. */
    for (;;) {
        if (dec->frame_done)
            return 0;
        ZSTD_outBuffer out = { dec->out, DECODER_OUT_BYTES, 0 };
        ZSTD_inBuffer none = { NULL, 0, 0 };
        size_t r = ZSTD_decompressStream(dec->dctx, &out, &none);
        if (ZSTD_isError(r))
            return fail(dec, UDCS_ECORRUPT, "the zstd frame is damaged");
        int rc = emit(dec, dec->out, out.pos);
        if (rc < 0)
            return rc;
        if (r == 0)
            dec->frame_done = 1;
        if (out.pos < DECODER_OUT_BYTES)
            return 0;
    }
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

int cas_blob_decode_with(struct cas_zctx *z, const void *data, size_t len,
                         const struct cas_digest *expect, struct udcs_buf *out,
                         const char **why)
{
    const char *reason = NULL;
    struct cas_blob_header h;
    int rc = cas_blob_header_parse(data, len, &h);
    if (rc < 0) {
        reason = rc == UDCS_EFORMAT ? "unknown format version" : "the blob header is damaged";
    } else if ((rc = check_header(&h, expect, expect != NULL, 0, &reason)) < 0) {
        /* reason set */
    } else if (len - CAS_BLOB_HEADER_BYTES != h.payload_size) {
        rc = UDCS_ECORRUPT;
        reason = len - CAS_BLOB_HEADER_BYTES < h.payload_size
                     ? "the blob is truncated: its payload is incomplete"
                     : "more bytes follow than the header announced";
    }
    if (rc < 0) {
        if (why)
            *why = reason;
        return rc;
    }
    if ((rc = udcs_buf_reserve(out, h.digest.size)) < 0)
        return rc;

    const uint8_t *payload = (const uint8_t *)data + CAS_BLOB_HEADER_BYTES;
    char *dst = out->data + out->len;
    if (h.codec == CAS_CODEC_RAW) {
        if (h.digest.size)
            memcpy(dst, payload, h.digest.size);
    } else {
        size_t n = ZSTD_decompressDCtx(z->dctx, dst, h.digest.size, payload, h.payload_size);
        if (ZSTD_isError(n) || n != h.digest.size) {
            if (why)
                *why = ZSTD_isError(n) ? "the zstd frame is damaged"
                                       : "the payload decodes to a different size than the "
                                         "header says";
            return UDCS_ECORRUPT;
        }
    }
    struct cas_digest got;
    cas_digest_of_bytes(dst, h.digest.size, &got);
    if (!cas_digest_equal(&got, &h.digest)) {
        if (why)
            *why = "the bytes do not hash to the blob's digest";
        return UDCS_ECORRUPT;
    }
    out->len += h.digest.size;
    out->data[out->len] = '\0';
    return 0;
}

int cas_blob_decode(const void *data, size_t len, const struct cas_digest *expect,
                    struct udcs_buf *out)
{
    struct cas_zctx *z = cas_zctx_get();
    if (!z)
        return -ENOMEM;
    return cas_blob_decode_with(z, data, len, expect, out, NULL);
}

int cas_blob_verify_memory(const void *data, size_t len, const struct cas_digest *expect,
                           const char **why)
{
    struct cas_decoder *dec;
    int rc = cas_decoder_new(expect, 0, NULL, NULL, &dec);
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
