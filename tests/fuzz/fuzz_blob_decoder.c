/* tests/fuzz/fuzz_blob_decoder.c - the blob readers on hostile bytes: the push decoder (fed
 * whole, byte by byte and in input-chosen chunks, with and without an expected digest),
 * cas_blob_decode, cas_blob_verify_memory and cas_blob_header_parse must agree with each other
 * and the digest, on the input as a stored blob, as a raw or zstd payload, and encoded. */
#include "cas/cas.h"
#include "cas/cas_internal.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <zstd.h>

/* The one-shot output buffer's maximum and the push decoder's max_raw, set equal so the
 * two refuse the same blobs as too big. */
#define FUZZ_MAX_RAW_BYTES (16u * 1024 * 1024)
/* The expected-digest variants decode a blob eight more times; they run only for blobs
 * whose content is at most this big, so a tiny frame that expands to 16 MiB stays cheap. */
#define FUZZ_EXPECT_MAX_RAW_BYTES (1024u * 1024)
/* Content a zstd payload may decode to before the made-up-header pass gives up on it. */
#define FUZZ_ZSTD_CONTENT_MAX_BYTES (1024u * 1024)
/* A zstd block holds at most 128 KiB of content and takes at least 4 bytes (3-byte block
 * header and one RLE byte): the zstd format's own bounds, restated here so the header
 * check below does not reuse the code it checks. */
#define ZSTD_BLOCK_CONTENT_MAX (128u * 1024)
#define ZSTD_BLOCK_MIN_BYTES 4

enum chunking { CHUNK_WHOLE, CHUNK_BYTES, CHUNK_RANDOM };

static const char *chunking_name(enum chunking c)
{
    return c == CHUNK_WHOLE ? "in one piece" : c == CHUNK_BYTES ? "byte by byte" : "in chunks";
}

/* What one decode produced. */
struct outcome {
    int rc;
    struct udcs_buf out;          /* raw bytes; only meaningful when rc == 0 */
    struct cas_blob_header hdr;   /* from cas_decoder_finish when rc == 0 */
};

static void outcome_init(struct outcome *o)
{
    o->rc = 0;
    o->out = (struct udcs_buf)UDCS_BUF_INIT(FUZZ_MAX_RAW_BYTES);
    memset(&o->hdr, 0, sizeof(o->hdr));
}

static void outcome_release(struct outcome *o)
{
    udcs_buf_release(&o->out);
}

static int same_bytes(const struct outcome *a, const struct outcome *b)
{
    return a->out.len == b->out.len &&
           (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0);
}

static int holds(const struct outcome *o, const uint8_t *data, size_t len)
{
    return o->out.len == len && (len == 0 || memcmp(o->out.data, data, len) == 0);
}

/* splitmix64: chunk sizes and choices come from a seed taken from the input's digest, so
 * every stored blob in the corpus is a valid input as it is, with no control bytes. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int sink_append(void *arg, const void *data, size_t len)
{
    return udcs_buf_append(arg, data, len);
}

static size_t next_chunk(enum chunking how, uint64_t *rng, size_t left)
{
    if (how == CHUNK_WHOLE)
        return left;
    if (how == CHUNK_BYTES)
        return 1;
    uint64_t r = rng_next(rng);
    size_t n;
    switch (r & 7) {
    case 0:
        n = 0;                        /* an empty feed must change nothing */
        break;
    case 1:
    case 2:
        n = 1 + (size_t)(r >> 8) % 8;
        break;
    case 3:
        /* around the header's end, where the decoder switches state */
        n = CAS_BLOB_HEADER_BYTES - 2 + (size_t)(r >> 8) % 5;
        break;
    default:
        n = 1 + (size_t)(r >> 8) % 512;
        break;
    }
    return n < left ? n : left;
}

static void push_decode(const uint8_t *data, size_t len, const struct cas_digest *expect,
                        enum chunking how, uint64_t seed, struct outcome *o)
{
    struct cas_decoder *dec;
    outcome_init(o);
    int rc = cas_decoder_new(expect, FUZZ_MAX_RAW_BYTES, sink_append, &o->out, &dec);
    FUZZ_CHECK(rc == 0, "cas_decoder_new failed: %d", rc);
    uint64_t rng = seed;
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        size_t n = next_chunk(how, &rng, len - pos);
        rc = cas_decoder_feed(dec, data + pos, n);
        pos += n;
    }
    if (rc == 0)
        rc = cas_decoder_finish(dec, &o->hdr);
    if (rc < 0) {
        FUZZ_CHECK(rc == UDCS_ECORRUPT || rc == UDCS_ETOOBIG || rc == UDCS_EFORMAT,
                   "push decoder returned unexpected code %d", rc);
        FUZZ_CHECK(cas_decoder_error(dec)[0] != '\0',
                   "push decoder failed with %d but cas_decoder_error() is empty", rc);
        /* A failure sticks: the decoder must not accept the blob afterwards. */
        FUZZ_CHECK(cas_decoder_feed(dec, data, len ? 1 : 0) < 0,
                   "push decoder accepted more bytes after failing with %d", rc);
        FUZZ_CHECK(cas_decoder_finish(dec, NULL) < 0,
                   "push decoder finished cleanly after failing with %d", rc);
    }
    o->rc = rc;
    cas_decoder_free(dec);
}

static void oneshot_decode(const uint8_t *data, size_t len, const struct cas_digest *expect,
                           struct outcome *o)
{
    outcome_init(o);
    o->rc = cas_blob_decode(data, len, expect, &o->out);
    if (o->rc < 0) {
        FUZZ_CHECK(o->rc == UDCS_ECORRUPT || o->rc == UDCS_ETOOBIG || o->rc == UDCS_EFORMAT,
                   "cas_blob_decode returned unexpected code %d", o->rc);
        FUZZ_CHECK(o->out.len == 0, "cas_blob_decode failed with %d yet appended %zu bytes",
                   o->rc, o->out.len);
    }
}

/* A parsed header must describe something that can exist and write back to the very bytes
 * it came from (one header, one byte form). */
static void check_header(const uint8_t *data, const struct cas_blob_header *h)
{
    uint8_t again[CAS_BLOB_HEADER_BYTES];
    FUZZ_CHECK(h->codec == CAS_CODEC_RAW || h->codec == CAS_CODEC_ZSTD,
               "header parsed with codec %d", (int)h->codec);
    cas_blob_header_write(h, again);
    FUZZ_CHECK(memcmp(again, data, CAS_BLOB_HEADER_BYTES) == 0,
               "a parsed header does not write back to the bytes it was read from");
    if (h->codec == CAS_CODEC_RAW) {
        FUZZ_CHECK(h->payload_size == h->digest.size,
                   "raw header with payload %llu != raw size %llu",
                   (unsigned long long)h->payload_size, (unsigned long long)h->digest.size);
        return;
    }
    uint64_t blocks = h->digest.size / ZSTD_BLOCK_CONTENT_MAX +
                      (h->digest.size % ZSTD_BLOCK_CONTENT_MAX != 0);
    FUZZ_CHECK(h->payload_size > 0 && h->payload_size / ZSTD_BLOCK_MIN_BYTES >= blocks,
               "cas_blob_header_parse accepted a zstd header whose sizes no frame can have: "
               "raw size %llu (needs >= %llu blocks of >= %u bytes) in a payload of %llu bytes",
               (unsigned long long)h->digest.size, (unsigned long long)blocks,
               ZSTD_BLOCK_MIN_BYTES, (unsigned long long)h->payload_size);
}

/* A decode that succeeded must have produced the bytes its header names. */
static void check_success(const char *who, const struct outcome *o,
                          const struct cas_blob_header *h, size_t len)
{
    struct cas_digest got;
    cas_digest_of_bytes(o->out.data, o->out.len, &got);
    FUZZ_CHECK(cas_digest_equal(&got, &h->digest),
               "%s accepted a blob whose %zu output bytes do not hash to its header's digest",
               who, o->out.len);
    FUZZ_CHECK(len == CAS_BLOB_HEADER_BYTES + h->payload_size,
               "%s accepted %zu stored bytes for a payload of %llu", who, len,
               (unsigned long long)h->payload_size);
}

/* Decoding with an expected digest: the right one changes nothing, a wrong one fails. */
static void check_expect_variants(const uint8_t *data, size_t len,
                                  const struct cas_blob_header *h, const struct outcome *plain,
                                  uint64_t seed)
{
    struct cas_digest right = h->digest, hash_only = h->digest, wrong_hash = h->digest,
                      wrong_size = h->digest;
    hash_only.size = 0;   /* size 0: only the hash is checked */
    uint64_t r = rng_next(&seed);
    wrong_hash.hash[r % CAS_HASH_BYTES] ^= (uint8_t)(1u << ((r >> 8) % 8));
    wrong_size.size += 1 + (r >> 16) % 3;
    if (wrong_size.size == 0)
        wrong_size.size = 1;
    const struct {
        const struct cas_digest *d;
        int must_fail;
        const char *what;
    } cases[] = {
        { &right, 0, "its own digest" },
        { &hash_only, 0, "its own hash with size 0" },
        { &wrong_hash, 1, "a digest one bit off" },
        { &wrong_size, 1, "its hash with a different size" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct outcome p, o;
        push_decode(data, len, cases[i].d, CHUNK_RANDOM, seed, &p);
        oneshot_decode(data, len, cases[i].d, &o);
        if (cases[i].must_fail) {
            FUZZ_CHECK(p.rc < 0, "push decoder accepted a blob when expecting %s",
                       cases[i].what);
            FUZZ_CHECK(o.rc < 0, "cas_blob_decode accepted a blob when expecting %s",
                       cases[i].what);
        } else {
            FUZZ_CHECK((p.rc == 0) == (plain->rc == 0) && (p.rc != 0 || same_bytes(&p, plain)),
                       "push decoder: expecting %s gave %d, no expectation gave %d",
                       cases[i].what, p.rc, plain->rc);
            FUZZ_CHECK((o.rc == 0) == (plain->rc == 0) && (o.rc != 0 || same_bytes(&o, plain)),
                       "cas_blob_decode: expecting %s gave %d, push without expectation %d",
                       cases[i].what, o.rc, plain->rc);
        }
        outcome_release(&p);
        outcome_release(&o);
    }
}

/* The input as a stored blob, exactly as a store file or a network body would hold it. */
static void check_stored(const uint8_t *data, size_t len, uint64_t seed)
{
    struct cas_blob_header h;
    int hrc = cas_blob_header_parse(data, len, &h);
    FUZZ_CHECK(hrc == 0 || hrc == UDCS_ECORRUPT || hrc == UDCS_EFORMAT,
               "cas_blob_header_parse returned unexpected code %d", hrc);
    if (hrc == 0)
        check_header(data, &h);

    struct outcome push[3], one;
    const enum chunking ways[3] = { CHUNK_WHOLE, CHUNK_BYTES, CHUNK_RANDOM };
    for (int i = 0; i < 3; i++)
        push_decode(data, len, NULL, ways[i], seed, &push[i]);
    oneshot_decode(data, len, NULL, &one);
    /* what the CAS server runs on small blobs before it sends them */
    const char *why = NULL;
    int vrc = cas_blob_verify_memory(data, len, NULL, &why);
    FUZZ_CHECK((vrc == 0) == (push[0].rc == 0) && (vrc == 0 || (why && why[0])),
               "cas_blob_verify_memory returned %d (%s) but the push decoder %d", vrc,
               why ? why : "no reason", push[0].rc);

    for (int i = 1; i < 3; i++)
        FUZZ_CHECK(push[i].rc == push[0].rc &&
                       (push[0].rc != 0 || same_bytes(&push[i], &push[0])),
                   "push decoder: fed %s it returned %d, fed %s %d (%zu stored bytes)",
                   chunking_name(ways[i]), push[i].rc, chunking_name(ways[0]), push[0].rc, len);
    FUZZ_CHECK((push[0].rc == 0) == (one.rc == 0),
               "push decoder returned %d but cas_blob_decode %d on the same %zu stored bytes",
               push[0].rc, one.rc, len);
    if (push[0].rc == 0) {
        FUZZ_CHECK(hrc == 0, "push decoder accepted a blob cas_blob_header_parse refuses");
        FUZZ_CHECK(push[0].hdr.codec == h.codec && push[0].hdr.payload_size == h.payload_size &&
                       cas_digest_equal(&push[0].hdr.digest, &h.digest),
                   "cas_decoder_finish reported a different header than cas_blob_header_parse");
        check_success("push decoder", &push[0], &h, len);
    }
    if (one.rc == 0) {
        FUZZ_CHECK(hrc == 0, "cas_blob_decode accepted a blob cas_blob_header_parse refuses");
        check_success("cas_blob_decode", &one, &h, len);
        FUZZ_CHECK(push[0].rc != 0 || same_bytes(&push[0], &one),
                   "push decoder and cas_blob_decode both accept but give different bytes");
    }
    if (hrc == 0 && h.digest.size <= FUZZ_EXPECT_MAX_RAW_BYTES)
        check_expect_variants(data, len, &h, &push[0], seed);

    for (int i = 0; i < 3; i++)
        outcome_release(&push[i]);
    outcome_release(&one);
}

/* Wrap `payload` in a header for `codec` and `content`, and decode it every way. Returns
 * the number of decoders that accepted (0..3), or -1 if the header itself was refused. */
static int decode_made_up(const uint8_t *payload, size_t len, enum cas_codec codec,
                          const void *content, size_t content_len, uint64_t seed,
                          const char *what)
{
    struct cas_blob_header h = { .codec = codec, .payload_size = len };
    cas_digest_of_bytes(content, content_len, &h.digest);
    struct udcs_buf stored = UDCS_BUF_INIT(SIZE_MAX);
    uint8_t hdr[CAS_BLOB_HEADER_BYTES];
    cas_blob_header_write(&h, hdr);
    FUZZ_CHECK(udcs_buf_append(&stored, hdr, sizeof(hdr)) == 0 &&
                   udcs_buf_append(&stored, payload, len) == 0,
               "out of memory");
    const uint8_t *s = (const uint8_t *)stored.data;

    struct cas_blob_header back;
    if (cas_blob_header_parse(s, stored.len, &back) < 0) {
        udcs_buf_release(&stored);
        return -1;
    }
    check_header(s, &back);
    struct outcome whole, chunked, one;
    push_decode(s, stored.len, &h.digest, CHUNK_WHOLE, seed, &whole);
    push_decode(s, stored.len, NULL, CHUNK_RANDOM, seed, &chunked);
    oneshot_decode(s, stored.len, &h.digest, &one);
    FUZZ_CHECK(whole.rc == chunked.rc,
               "push decoder on %s: fed in one piece it returned %d, in chunks %d", what,
               whole.rc, chunked.rc);
    FUZZ_CHECK((whole.rc == 0) == (one.rc == 0),
               "push decoder returned %d but cas_blob_decode %d on %s (%zu payload bytes)",
               whole.rc, one.rc, what, len);
    const struct outcome *all[3] = { &whole, &chunked, &one };
    int accepted = 0;
    for (int i = 0; i < 3; i++) {
        if (all[i]->rc == 0) {
            accepted++;
            FUZZ_CHECK(holds(all[i], content, content_len),
                       "a decoder accepted %s but gave other bytes than its content", what);
        }
    }
    outcome_release(&whole);
    outcome_release(&chunked);
    outcome_release(&one);
    udcs_buf_release(&stored);
    return accepted;
}

/* The input as the payload of a raw blob: always valid, so every decoder must accept. */
static void check_raw_payload(const uint8_t *data, size_t len, uint64_t seed)
{
    int n = decode_made_up(data, len, CAS_CODEC_RAW, data, len, seed, "a raw blob");
    FUZZ_CHECK(n == 3, "a well-formed raw blob of %zu bytes was refused (%d of 3 accepted)",
               len, n);
}

/* Whether a zstd skippable frame starts at `p` (its magic is one of 16 values; the
 * library's own test for it needs ZSTD_STATIC_LINKING_ONLY). */
static int is_skippable_frame(const uint8_t *p, size_t len)
{
    if (len < 4)
        return 0;
    uint32_t magic = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
    return (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

/* Decode `data` with zstd's streaming decoder fed one byte at a time, which never takes
 * the single-pass shortcut and so applies every rule of the format (a block no larger than
 * the window, for one). Returns the content's length, or -1 if zstd refuses the frames or
 * they decode to more than `cap` bytes. */
static ssize_t strict_zstd_decode(const uint8_t *data, size_t len, char *out, size_t cap)
{
    static ZSTD_DStream *ds;
    if (!ds) {
        ds = ZSTD_createDStream();
        FUZZ_CHECK(ds, "out of memory");
    }
    ZSTD_DCtx_reset(ds, ZSTD_reset_session_only);
    size_t got = 0, r = 1;
    for (size_t i = 0; i <= len; i++) {
        /* one byte at a time, then one more call with none to flush */
        ZSTD_inBuffer in = { data + i, i < len ? 1 : 0, 0 };
        ZSTD_outBuffer o;
        do {
            if (got == cap)
                return -1;
            o = (ZSTD_outBuffer){ out + got, cap - got, 0 };
            r = ZSTD_decompressStream(ds, &o, &in);
            if (ZSTD_isError(r))
                return -1;
            got += o.pos;
        } while (in.pos < in.size || o.pos == o.size);
    }
    return r == 0 ? (ssize_t)got : -1;   /* r != 0: the last frame is incomplete */
}

/* The input as a zstd payload. zstd decodes it (all frames, any window, as
 * ZSTD_decompressDCtx does) to find its content; the blob made from that must get the
 * same answer from every decoder. A payload of exactly one frame that zstd's strict
 * streaming decoder reads the same way is a valid blob and must be accepted; frames only
 * the lenient one-shot API reads may be refused, as long as every decoder refuses them. */
static void check_zstd_payload(const uint8_t *data, size_t len, uint64_t seed)
{
    static ZSTD_DCtx *dctx;
    static char *content, *strict;
    if (!dctx) {
        dctx = ZSTD_createDCtx();
        content = malloc(FUZZ_ZSTD_CONTENT_MAX_BYTES);
        strict = malloc(FUZZ_ZSTD_CONTENT_MAX_BYTES);
        FUZZ_CHECK(dctx && content && strict, "out of memory");
    }
    size_t n = ZSTD_decompressDCtx(dctx, content, FUZZ_ZSTD_CONTENT_MAX_BYTES, data, len);
    if (ZSTD_isError(n))
        return;

    int frames = 0, skippable = 0;
    for (size_t pos = 0; pos < len; frames++) {
        size_t f = ZSTD_findFrameCompressedSize(data + pos, len - pos);
        if (ZSTD_isError(f) || f == 0)
            return;   /* cannot happen after a clean decode; be safe */
        skippable += is_skippable_frame(data + pos, len - pos);
        pos += f;
    }
    ssize_t sn = strict_zstd_decode(data, len, strict, FUZZ_ZSTD_CONTENT_MAX_BYTES);
    int is_valid = sn >= 0 && (size_t)sn == n && (n == 0 || memcmp(strict, content, n) == 0);
    char what[128];
    snprintf(what, sizeof(what), "a zstd blob of %d frame(s), %d skippable, %zu -> %zu bytes%s",
             frames, skippable, len, n, is_valid ? "" : " (refused by strict zstd)");
    int accepted = decode_made_up(data, len, CAS_CODEC_ZSTD, content, n, seed, what);
    if (accepted >= 0 && frames == 1 && skippable == 0 && is_valid)
        FUZZ_CHECK(accepted == 3, "%s was refused by %d of 3 decoders", what, 3 - accepted);
}

/* The input as content: encode it, decode it back, get the same bytes. */
static void check_round_trip(const uint8_t *data, size_t len, uint64_t seed)
{
    static const int levels[] = { 1, 3, -5, 7 };
    uint64_t r = rng_next(&seed);
    struct cas_encode_options opt = { .level = levels[r % 4], .workers = 0 };
    if ((r >> 8) % 64 == 0)
        opt.level = 19;   /* the slowest level, now and then */
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_digest d, want;
    int rc = cas_blob_encode(data, len, &opt, &enc, &d);
    FUZZ_CHECK(rc == 0, "cas_blob_encode failed with %d on %zu bytes", rc, len);
    cas_digest_of_bytes(data, len, &want);
    FUZZ_CHECK(cas_digest_equal(&d, &want), "cas_blob_encode reported the wrong digest");

    struct cas_blob_header h;
    rc = cas_blob_header_parse(enc.data, enc.len, &h);
    FUZZ_CHECK(rc == 0, "a freshly encoded blob's header is refused: %d", rc);
    check_header((const uint8_t *)enc.data, &h);
    FUZZ_CHECK(cas_digest_equal(&h.digest, &d) &&
                   enc.len == CAS_BLOB_HEADER_BYTES + h.payload_size,
               "a freshly encoded blob's header does not describe it");

    struct outcome one, push;
    oneshot_decode((const uint8_t *)enc.data, enc.len, &d, &one);
    push_decode((const uint8_t *)enc.data, enc.len, &d, CHUNK_RANDOM, seed, &push);
    FUZZ_CHECK(one.rc == 0 && holds(&one, data, len),
               "encode then cas_blob_decode (level %d, codec %d) did not give the %zu bytes "
               "back: %d", opt.level, (int)h.codec, len, one.rc);
    FUZZ_CHECK(push.rc == 0 && holds(&push, data, len),
               "encode then the push decoder (level %d, codec %d) did not give the %zu bytes "
               "back: %d", opt.level, (int)h.codec, len, push.rc);
    outcome_release(&one);
    outcome_release(&push);
    udcs_buf_release(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cas_digest id;
    cas_digest_of_bytes(data, size, &id);
    uint64_t seed = 0;
    memcpy(&seed, id.hash, sizeof(seed));

    check_stored(data, size, seed);
    check_raw_payload(data, size, seed);
    check_zstd_payload(data, size, seed);
    check_round_trip(data, size, seed);
    return 0;
}
