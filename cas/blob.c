/* cas/blob.c - the stored form of a blob: header layout and encoding (one-shot and
 * streaming). Decoding lives in decoder.c.
 *
 * Header, 40 bytes, little-endian:
 *   0  magic "UDCB"      4  version (1)     5  codec (0 raw, 1 zstd)   6  reserved (0)
 *   8  raw size          16 payload size    24 XXH3-128 of the raw bytes (canonical)
 * The payload follows. The header carries the digest so a blob can be verified without
 * knowing its name, and the payload size so truncation shows without decoding. */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A zstd block holds at most 128 KiB of content and takes at least 4 bytes (a 3-byte
 * block header and one RLE byte), so a payload can never be smaller than this. */
#define ZSTD_BLOCK_CONTENT_MAX (128u * 1024)
#define ZSTD_BLOCK_MIN_BYTES 4

/* Bytes compressed to judge whether a large input is worth compressing at all. */
#define CAS_SAMPLE_BYTES (256u * 1024)

static pthread_key_t zctx_key;
static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;

static void zctx_free(void *p)
{
    struct cas_zctx *z = p;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    free(z->dout);
    free(z);
}

static void zctx_key_create(void)
{
    pthread_key_create(&zctx_key, zctx_free);
}

struct cas_zctx *cas_zctx_get(void)
{
    pthread_once(&zctx_once, zctx_key_create);
    struct cas_zctx *z = pthread_getspecific(zctx_key);
    if (z)
        return z;
    z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->cctx = ZSTD_createCCtx();
    z->dctx = ZSTD_createDCtx();
    z->dout = malloc(CAS_DECODE_OUT_BYTES);
    if (!z->cctx || !z->dctx || !z->dout || pthread_setspecific(zctx_key, z) != 0) {
        zctx_free(z);
        return NULL;
    }
    return z;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void cas_blob_header_write(const struct cas_blob_header *h, uint8_t out[CAS_BLOB_HEADER_BYTES])
{
    memcpy(out, CAS_BLOB_MAGIC, 4);
    out[4] = CAS_BLOB_VERSION;
    out[5] = (uint8_t)h->codec;
    out[6] = out[7] = 0;
    put_le64(out + 8, h->digest.size);
    put_le64(out + 16, h->payload_size);
    memcpy(out + 24, h->digest.hash, CAS_HASH_BYTES);
}

int cas_blob_header_parse(const void *data, size_t len, struct cas_blob_header *out)
{
    const uint8_t *p = data;
    if (len < CAS_BLOB_HEADER_BYTES || memcmp(p, CAS_BLOB_MAGIC, 4) != 0)
        return UDCS_ECORRUPT;
    if (p[4] > CAS_BLOB_VERSION)
        return UDCS_EFORMAT;
    if (p[4] == 0 || p[6] || p[7] || p[5] > CAS_CODEC_ZSTD)
        return UDCS_ECORRUPT;
    struct cas_blob_header h;
    h.codec = (enum cas_codec)p[5];
    h.digest.size = get_le64(p + 8);
    h.payload_size = get_le64(p + 16);
    memcpy(h.digest.hash, p + 24, CAS_HASH_BYTES);
    if (h.codec == CAS_CODEC_RAW && h.payload_size != h.digest.size)
        return UDCS_ECORRUPT;
    if (h.codec == CAS_CODEC_ZSTD) {
        /* Sizes no zstd frame can have: content beyond what zstd compresses at all, a
         * payload larger than the worst case, or smaller than one byte-sized block per
         * 128 KiB of content. Written so that no step can wrap around. */
        size_t bound = ZSTD_compressBound(h.digest.size);
        uint64_t blocks = h.digest.size / ZSTD_BLOCK_CONTENT_MAX +
                          (h.digest.size % ZSTD_BLOCK_CONTENT_MAX != 0);
        if (h.payload_size == 0 || ZSTD_isError(bound) || h.payload_size > bound ||
            h.payload_size / ZSTD_BLOCK_MIN_BYTES < blocks)
            return UDCS_ECORRUPT;
    }
    *out = h;
    return 0;
}

int cas_blob_encode_with(struct cas_zctx *z, const void *data, size_t len, int level,
                         const struct cas_digest *known, struct udcs_buf *out,
                         struct cas_digest *d)
{
    struct cas_blob_header h;
    if (known)
        h.digest = *known;
    else
        cas_digest_of_bytes(data, len, &h.digest);
    size_t bound = len >= CAS_RAW_BELOW_BYTES ? ZSTD_compressBound(len) : len;
    int rc = udcs_buf_reserve(out, CAS_BLOB_HEADER_BYTES + (bound > len ? bound : len));
    if (rc < 0)
        return rc;
    uint8_t *hdr = (uint8_t *)out->data + out->len;
    uint8_t *payload = hdr + CAS_BLOB_HEADER_BYTES;

    h.codec = CAS_CODEC_RAW;
    h.payload_size = len;
    if (len >= CAS_RAW_BELOW_BYTES) {
        size_t n = ZSTD_compressCCtx(z->cctx, payload, bound, data, len, level);
        if (!ZSTD_isError(n) && n < len - len / CAS_MIN_SAVING_DIVISOR) {
            h.codec = CAS_CODEC_ZSTD;
            h.payload_size = n;
        }
    }
    if (h.codec == CAS_CODEC_RAW && len)
        memcpy(payload, data, len);
    cas_blob_header_write(&h, hdr);
    out->len += CAS_BLOB_HEADER_BYTES + h.payload_size;
    out->data[out->len] = '\0';
    if (d)
        *d = h.digest;
    return 0;
}

int cas_blob_encode(const void *data, size_t len, const struct cas_encode_options *opt,
                    struct udcs_buf *out, struct cas_digest *d)
{
    struct cas_zctx *z = cas_zctx_get();
    if (!z)
        return -ENOMEM;
    return cas_blob_encode_with(z, data, len, opt->level, NULL, out, d);
}

/* Whether a sample of the input shrinks enough to be worth compressing. */
static int sample_compresses(struct cas_zctx *z, const void *data, size_t len, int level)
{
    size_t n = len < CAS_SAMPLE_BYTES ? len : CAS_SAMPLE_BYTES;
    size_t cap = ZSTD_compressBound(n);
    void *tmp = malloc(cap);
    if (!tmp)
        return 1;
    size_t c = ZSTD_compressCCtx(z->cctx, tmp, cap, data, n, level < 1 ? level : 1);
    free(tmp);
    return !ZSTD_isError(c) && c < n - n / CAS_MIN_SAVING_DIVISOR;
}

/* Streaming state for cas_blob_encode_fd. */
struct fd_encoder {
    struct cas_zctx *z;
    int out_fd;
    off_t out_pos;
    struct cas_hasher hasher;
    char *out_buf;
    size_t out_cap;
};

static int write_out(struct fd_encoder *e, const void *data, size_t len)
{
    int rc = udcs_pwrite_full(e->out_fd, data, len, e->out_pos);
    if (rc == 0)
        e->out_pos += (off_t)len;
    return rc;
}

/* Feed `len` bytes (len 0 with end=1 finishes the frame) and write what comes out. */
static int compress_some(struct fd_encoder *e, const void *data, size_t len, int end)
{
    ZSTD_inBuffer in = { data, len, 0 };
    ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
        ZSTD_outBuffer out = { e->out_buf, e->out_cap, 0 };
        size_t left = ZSTD_compressStream2(e->z->cctx, &out, &in, mode);
        if (ZSTD_isError(left)) {
            switch (ZSTD_getErrorCode(left)) {
            case ZSTD_error_memory_allocation:
                return -ENOMEM;
            case ZSTD_error_srcSize_wrong:
                return UDCS_ECORRUPT;   /* the file changed size while we read it */
            default:
                return -EIO;
            }
        }
        if (out.pos) {
            int rc = write_out(e, e->out_buf, out.pos);
            if (rc < 0)
                return rc;
        }
        if (end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

int cas_blob_encode_fd(int in_fd, int out_fd, const struct cas_encode_options *opt,
                       struct cas_digest *d, uint64_t *stored_size)
{
    struct cas_zctx *z = cas_zctx_get();
    if (!z)
        return -ENOMEM;
    char *chunk = malloc(CAS_ONESHOT_MAX_BYTES);
    if (!chunk)
        return -ENOMEM;

    /* The first chunk decides: a short input is encoded in one call. */
    ssize_t first = udcs_read_full(in_fd, chunk, CAS_ONESHOT_MAX_BYTES);
    int rc = first < 0 ? (int)first : 0;
    if (rc == 0 && (size_t)first < CAS_ONESHOT_MAX_BYTES) {
        struct udcs_buf b = UDCS_BUF_INIT(SIZE_MAX);
        rc = cas_blob_encode_with(z, chunk, (size_t)first, opt->level, NULL, &b, d);
        if (rc == 0)
            rc = udcs_pwrite_full(out_fd, b.data, b.len, 0);
        if (rc == 0)
            *stored_size = b.len;
        udcs_buf_release(&b);
        free(chunk);
        return rc;
    }

    struct fd_encoder e = { .z = z, .out_fd = out_fd, .out_pos = CAS_BLOB_HEADER_BYTES };
    struct cas_blob_header h = { .codec = CAS_CODEC_RAW };
    if (rc == 0)
        rc = cas_hasher_init(&e.hasher);
    if (rc == 0 && sample_compresses(z, chunk, (size_t)first, opt->level)) {
        h.codec = CAS_CODEC_ZSTD;
        e.out_cap = ZSTD_CStreamOutSize() * 8;
        e.out_buf = malloc(e.out_cap);
        if (!e.out_buf)
            rc = -ENOMEM;
        ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_and_parameters);
        ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, opt->level);
        ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, opt->workers);
        struct stat st;
        if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
            ZSTD_CCtx_setPledgedSrcSize(z->cctx, (unsigned long long)st.st_size);
    }

    size_t n = (size_t)first;
    while (rc == 0 && n > 0) {
        cas_hasher_update(&e.hasher, chunk, n);
        rc = h.codec == CAS_CODEC_ZSTD ? compress_some(&e, chunk, n, 0)
                                       : write_out(&e, chunk, n);
        if (rc < 0)
            break;
        ssize_t got = udcs_read_full(in_fd, chunk, CAS_ONESHOT_MAX_BYTES);
        if (got < 0)
            rc = (int)got;
        else
            n = (size_t)got;
    }
    if (rc == 0 && h.codec == CAS_CODEC_ZSTD)
        rc = compress_some(&e, NULL, 0, 1);   /* fails if a pledged size was not met */
    if (rc == 0) {
        cas_hasher_final(&e.hasher, &h.digest);
        h.payload_size = (uint64_t)e.out_pos - CAS_BLOB_HEADER_BYTES;
        uint8_t hdr[CAS_BLOB_HEADER_BYTES];
        cas_blob_header_write(&h, hdr);
        rc = udcs_pwrite_full(out_fd, hdr, sizeof(hdr), 0);
    }
    if (rc == 0) {
        *d = h.digest;
        *stored_size = (uint64_t)e.out_pos;
    }
    if (h.codec == CAS_CODEC_ZSTD)   /* drop the worker settings for the next small blob */
        ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_and_parameters);
    cas_hasher_release(&e.hasher);
    free(e.out_buf);
    free(chunk);
    return rc;
}
