/* tests/unit/test_cas_codec.c - digests and the blob codec: hex form and parsing, header
 * checks, one-shot and streaming encoding, and the push decoder's verification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/unit/helpers/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cas_encode_options level3 = { .level = 3, .workers = 0 };

static void digest_hex_matches_xxh128sum_of_known_input(void **state)
{
    (void)state;
    /* `printf 'hello\n' | xxh128sum` prints this. */
    struct cas_digest d;
    char hex[CAS_HEX_LEN + 1];
    cas_digest_of_bytes("hello\n", 6, &d);
    assert_string_equal(cas_digest_hex(&d, hex), "6bba86c7e069f56d5a10b435f1c8e49c");
    assert_int_equal(d.size, 6);
}

static void digest_of_nothing_is_the_empty_blob(void **state)
{
    (void)state;
    struct cas_digest d;
    char hex[CAS_HEX_LEN + 1];
    cas_digest_of_bytes("", 0, &d);
    assert_string_equal(cas_digest_hex(&d, hex), "99aa06d3014798d86001c324468d497f");
}

static void digest_parse_accepts_hex_and_hex_size(void **state)
{
    (void)state;
    struct cas_digest d, e;
    int sized = -1;
    assert_int_equal(cas_digest_parse("6bba86c7e069f56d5a10b435f1c8e49c", &d, &sized), 0);
    assert_int_equal(sized, 0);
    assert_int_equal(cas_digest_parse("6bba86c7e069f56d5a10b435f1c8e49c/6", &e, &sized), 0);
    assert_int_equal(sized, 1);
    assert_int_equal(e.size, 6);
    assert_memory_equal(d.hash, e.hash, CAS_HASH_BYTES);
}

static void digest_parse_rejects_malformed_text(void **state)
{
    (void)state;
    struct cas_digest d;
    const char *bad[] = { "", "6bba", "6BBA86C7E069F56D5A10B435F1C8E49C",
                          "6bba86c7e069f56d5a10b435f1c8e49c0", "6bba86c7e069f56d5a10b435f1c8e49c/",
                          "6bba86c7e069f56d5a10b435f1c8e49c/x", "6bba86c7e069f56d5a10b435f1c8e49g",
                          "6bba86c7e069f56d5a10b435f1c8e49c/06",
                          "6bba86c7e069f56d5a10b435f1c8e49c/99999999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cas_digest_parse(bad[i], &d, NULL), UDCS_EUSAGE);
}

static void hasher_in_pieces_equals_one_shot(void **state)
{
    (void)state;
    size_t len = 1 << 20;
    char *data = malloc(len);
    test_fill(data, len, 7, 0);
    struct cas_digest whole, pieces;
    struct cas_hasher h;
    cas_digest_of_bytes(data, len, &whole);
    assert_int_equal(cas_hasher_init(&h), 0);
    for (size_t off = 0; off < len; off += 777)
        cas_hasher_update(&h, data + off, off + 777 > len ? len - off : 777);
    cas_hasher_final(&h, &pieces);
    cas_hasher_release(&h);
    assert_true(cas_digest_equal(&whole, &pieces));
    free(data);
}

/* Encode `len` bytes, decode them back, and return the codec the header chose. */
static int round_trip(const void *data, size_t len)
{
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX), dec = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_digest d, want;
    struct cas_blob_header h;
    cas_digest_of_bytes(data, len, &want);
    assert_int_equal(cas_blob_encode(data, len, &level3, &enc, &d), 0);
    assert_true(cas_digest_equal(&d, &want));
    assert_int_equal(cas_blob_header_parse(enc.data, enc.len, &h), 0);
    assert_int_equal(enc.len, CAS_BLOB_HEADER_BYTES + h.payload_size);
    assert_int_equal(cas_blob_decode(enc.data, enc.len, &d, &dec), 0);
    assert_int_equal(dec.len, len);
    if (len)
        assert_memory_equal(dec.data, data, len);
    udcs_buf_release(&enc);
    udcs_buf_release(&dec);
    return (int)h.codec;
}

static void encode_compresses_text_and_keeps_random_raw(void **state)
{
    (void)state;
    size_t len = 256 * 1024;
    char *data = malloc(len);
    test_fill(data, len, 1, 1);
    assert_int_equal(round_trip(data, len), CAS_CODEC_ZSTD);
    test_fill(data, len, 1, 0);
    assert_int_equal(round_trip(data, len), CAS_CODEC_RAW);   /* random: zstd would not help */
    assert_int_equal(round_trip("tiny", 4), CAS_CODEC_RAW);   /* under the raw threshold */
    assert_int_equal(round_trip("", 0), CAS_CODEC_RAW);
    free(data);
}

static void header_parse_rejects_damage_and_newer_versions(void **state)
{
    (void)state;
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_blob_header h;
    char text[4096];
    test_fill(text, sizeof(text), 3, 1);
    assert_int_equal(cas_blob_encode(text, sizeof(text), &level3, &enc, NULL), 0);
    uint8_t *p = (uint8_t *)enc.data;

    assert_int_equal(cas_blob_header_parse(p, CAS_BLOB_HEADER_BYTES - 1, &h), UDCS_ECORRUPT);
    p[0] ^= 1;   /* magic */
    assert_int_equal(cas_blob_header_parse(p, enc.len, &h), UDCS_ECORRUPT);
    p[0] ^= 1;
    p[4] = CAS_BLOB_VERSION + 1;
    assert_int_equal(cas_blob_header_parse(p, enc.len, &h), UDCS_EFORMAT);
    p[4] = CAS_BLOB_VERSION;
    p[5] = 9;   /* codec */
    assert_int_equal(cas_blob_header_parse(p, enc.len, &h), UDCS_ECORRUPT);
    p[5] = CAS_CODEC_ZSTD;
    p[6] = 1;   /* reserved */
    assert_int_equal(cas_blob_header_parse(p, enc.len, &h), UDCS_ECORRUPT);
    p[6] = 0;
    p[15] = 0x40;   /* a raw size no zstd frame of this length can hold */
    assert_int_equal(cas_blob_header_parse(p, enc.len, &h), UDCS_ECORRUPT);
    udcs_buf_release(&enc);
}

/* A flipped byte must never come out as wrong bytes. zstd frames have a few bits that do
 * not change what they decode to (the digest then matches, and the data is right), so
 * the rule is: reject, or return exactly the original. Header damage is always found. */
static void decode_never_returns_wrong_bytes_after_a_flip(void **state)
{
    (void)state;
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX), out = UDCS_BUF_INIT(1 << 20);
    char text[2000];
    struct cas_digest d;
    size_t rejected = 0;
    test_fill(text, sizeof(text), 5, 1);
    assert_int_equal(cas_blob_encode(text, sizeof(text), &level3, &enc, &d), 0);
    for (size_t i = 0; i < enc.len; i++) {
        enc.data[i] ^= 0x20;
        udcs_buf_reset(&out);
        int rc = cas_blob_decode(enc.data, enc.len, &d, &out);
        if (rc == 0) {
            assert_true(i >= CAS_BLOB_HEADER_BYTES);
            assert_int_equal(out.len, sizeof(text));
            assert_memory_equal(out.data, text, sizeof(text));
        } else {
            assert_int_equal(out.len, 0);   /* nothing of a bad blob comes out */
            rejected++;
        }
        enc.data[i] ^= 0x20;
    }
    assert_true(rejected > enc.len * 9 / 10);
    assert_int_equal(cas_blob_decode(enc.data, enc.len, &d, &out), 0);
    udcs_buf_release(&enc);
    udcs_buf_release(&out);
}

static void decode_rejects_truncation_trailing_bytes_and_wrong_name(void **state)
{
    (void)state;
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX), out = UDCS_BUF_INIT(1 << 20);
    char text[5000];
    struct cas_digest d, other;
    test_fill(text, sizeof(text), 9, 1);
    assert_int_equal(cas_blob_encode(text, sizeof(text), &level3, &enc, &d), 0);
    assert_int_equal(cas_blob_decode(enc.data, enc.len - 1, &d, &out), UDCS_ECORRUPT);
    assert_int_equal(udcs_buf_append(&enc, "x", 1), 0);
    assert_int_equal(cas_blob_decode(enc.data, enc.len, &d, &out), UDCS_ECORRUPT);
    enc.len--;
    cas_digest_of_bytes("something else", 14, &other);
    assert_int_equal(cas_blob_decode(enc.data, enc.len, &other, &out), UDCS_ECORRUPT);
    other = d;
    other.size++;   /* right hash, wrong size */
    assert_int_equal(cas_blob_decode(enc.data, enc.len, &other, &out), UDCS_ECORRUPT);
    udcs_buf_release(&enc);
    udcs_buf_release(&out);
}

static int collect(void *arg, const void *data, size_t len)
{
    return udcs_buf_append(arg, data, len);
}

/* Feed `enc` to a push decoder in pieces of `step` bytes. */
static int push_decode(const struct udcs_buf *enc, const struct cas_digest *d, size_t step,
                       struct udcs_buf *out)
{
    struct cas_decoder *dec;
    assert_int_equal(cas_decoder_new(d, 0, collect, out, &dec), 0);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < enc->len; off += step)
        rc = cas_decoder_feed(dec, enc->data + off, off + step > enc->len ? enc->len - off : step);
    if (rc == 0)
        rc = cas_decoder_finish(dec, NULL);
    if (rc < 0)
        assert_true(strlen(cas_decoder_error(dec)) > 0);   /* it says why */
    cas_decoder_free(dec);
    return rc;
}

static void push_decoder_accepts_any_chunking(void **state)
{
    (void)state;
    size_t len = 3 * 1024 * 1024 + 17;
    char *data = malloc(len);
    test_fill(data, len, 11, 1);
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_digest d;
    assert_int_equal(cas_blob_encode(data, len, &level3, &enc, &d), 0);
    size_t steps[] = { 39, 40, 41, 4096, 1 << 20, enc.len };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
        assert_int_equal(push_decode(&enc, &d, steps[i], &out), 0);
        assert_int_equal(out.len, len);
        assert_memory_equal(out.data, data, len);
        udcs_buf_release(&out);
    }
    udcs_buf_release(&enc);
    free(data);
}

static void push_decoder_accepts_one_byte_at_a_time(void **state)
{
    (void)state;
    char text[64 * 1024];
    test_fill(text, sizeof(text), 12, 1);
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX), out = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_digest d;
    assert_int_equal(cas_blob_encode(text, sizeof(text), &level3, &enc, &d), 0);
    assert_int_equal(push_decode(&enc, &d, 1, &out), 0);
    assert_int_equal(out.len, sizeof(text));
    assert_memory_equal(out.data, text, sizeof(text));
    udcs_buf_release(&enc);
    udcs_buf_release(&out);
}

static void push_decoder_refuses_truncation_and_oversize(void **state)
{
    (void)state;
    char text[100000];
    test_fill(text, sizeof(text), 13, 1);
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX), out = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_digest d;
    struct cas_decoder *dec;
    assert_int_equal(cas_blob_encode(text, sizeof(text), &level3, &enc, &d), 0);

    enc.len -= 10;
    assert_int_equal(push_decode(&enc, &d, 4096, &out), UDCS_ECORRUPT);
    enc.len += 10;

    assert_int_equal(cas_decoder_new(&d, sizeof(text) - 1, NULL, NULL, &dec), 0);
    assert_int_equal(cas_decoder_feed(dec, enc.data, enc.len), UDCS_ETOOBIG);
    cas_decoder_free(dec);

    assert_int_equal(cas_decoder_new(&d, 0, NULL, NULL, &dec), 0);
    assert_int_equal(cas_decoder_feed(dec, enc.data, 20), 0);
    assert_int_equal(cas_decoder_finish(dec, NULL), UDCS_ECORRUPT);   /* ends in the header */
    cas_decoder_free(dec);
    udcs_buf_release(&enc);
    udcs_buf_release(&out);
}

static void encode_fd_streams_large_input_with_workers(void **state)
{
    (void)state;
    char *dir = test_tmpdir("codec");
    char *in_path = udcs_path_join(dir, "in"), *out_path = udcs_path_join(dir, "out");
    size_t len = 9 * 1024 * 1024 + 3;   /* over the one-shot limit: the streaming path */
    char *data = malloc(len);
    test_fill(data, len, 17, 1);
    test_write_file(in_path, data, len);

    struct cas_encode_options mt = { .level = 3, .workers = 2 };
    int in = open(in_path, O_RDONLY), out = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct cas_digest d, want;
    uint64_t stored;
    assert_int_equal(cas_blob_encode_fd(in, out, &mt, &d, &stored), 0);
    cas_digest_of_bytes(data, len, &want);
    assert_true(cas_digest_equal(&d, &want));
    assert_true(stored < len / 2);   /* text compresses */
    close(in);
    close(out);

    size_t enc_len;
    char *enc = test_read_file(out_path, &enc_len);
    assert_int_equal(enc_len, stored);
    struct udcs_buf dec = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_blob_decode(enc, enc_len, &d, &dec), 0);
    assert_int_equal(dec.len, len);
    assert_memory_equal(dec.data, data, len);
    udcs_buf_release(&dec);
    free(enc);
    free(data);
    free(in_path);
    free(out_path);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(digest_hex_matches_xxh128sum_of_known_input),
        cmocka_unit_test(digest_of_nothing_is_the_empty_blob),
        cmocka_unit_test(digest_parse_accepts_hex_and_hex_size),
        cmocka_unit_test(digest_parse_rejects_malformed_text),
        cmocka_unit_test(hasher_in_pieces_equals_one_shot),
        cmocka_unit_test(encode_compresses_text_and_keeps_random_raw),
        cmocka_unit_test(header_parse_rejects_damage_and_newer_versions),
        cmocka_unit_test(decode_never_returns_wrong_bytes_after_a_flip),
        cmocka_unit_test(decode_rejects_truncation_trailing_bytes_and_wrong_name),
        cmocka_unit_test(push_decoder_accepts_any_chunking),
        cmocka_unit_test(push_decoder_accepts_one_byte_at_a_time),
        cmocka_unit_test(push_decoder_refuses_truncation_and_oversize),
        cmocka_unit_test(encode_fd_streams_large_input_with_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
