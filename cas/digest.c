/* cas/digest.c - XXH3-128 digests: computing, hex form, parsing. The hex form is the
 * canonical (big-endian) byte order, so it matches what `xxh128sum` prints. */
#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* Read size for hashing files: big enough to keep syscalls rare, small enough for L2. */
#define DIGEST_FILE_CHUNK (256 * 1024)

static void from_hash(XXH128_hash_t h, uint64_t size, struct cas_digest *out)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(out->hash, c.digest, CAS_HASH_BYTES);
    out->size = size;
}

void cas_digest_of_bytes(const void *data, size_t len, struct cas_digest *out)
{
    from_hash(XXH3_128bits(data, len), len, out);
}

int cas_hasher_init(struct cas_hasher *h)
{
    h->size = 0;
    h->state = XXH3_createState();
    if (!h->state)
        return -ENOMEM;
    XXH3_128bits_reset(h->state);
    return 0;
}

void cas_hasher_update(struct cas_hasher *h, const void *data, size_t len)
{
    XXH3_128bits_update(h->state, data, len);
    h->size += len;
}

void cas_hasher_final(struct cas_hasher *h, struct cas_digest *out)
{
    from_hash(XXH3_128bits_digest(h->state), h->size, out);
}

void cas_hasher_release(struct cas_hasher *h)
{
    if (h->state)
        XXH3_freeState(h->state);
    h->state = NULL;
}

int cas_digest_of_file(const char *path, struct cas_digest *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct cas_hasher h;
    int rc = cas_hasher_init(&h);
    char *chunk = rc == 0 ? malloc(DIGEST_FILE_CHUNK) : NULL;
    if (rc == 0 && !chunk)
        rc = -ENOMEM;
    while (rc == 0) {
        ssize_t n = udcs_read_full(fd, chunk, DIGEST_FILE_CHUNK);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            break;
        else
            cas_hasher_update(&h, chunk, (size_t)n);
    }
    if (rc == 0)
        cas_hasher_final(&h, out);
    free(chunk);
    cas_hasher_release(&h);
    close(fd);
    return rc;
}

char *cas_digest_hex(const struct cas_digest *d, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < CAS_HASH_BYTES; i++) {
        out[2 * i] = digits[d->hash[i] >> 4];
        out[2 * i + 1] = digits[d->hash[i] & 15];
    }
    out[CAS_HEX_LEN] = '\0';
    return out;
}

char *cas_fingerprint_with_version(const char *file_hex, const char *version, char *out)
{
    char text[CAS_HEX_LEN + CAS_FINGERPRINT_VERSION_MAX + 2];
    int len = snprintf(text, sizeof(text), "%s\n%s", file_hex, version);
    struct cas_digest d;
    cas_digest_of_bytes(text, (size_t)len < sizeof(text) ? (size_t)len : sizeof(text) - 1, &d);
    return cas_digest_hex(&d, out);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int cas_digest_parse(const char *text, struct cas_digest *out, int *has_size)
{
    struct cas_digest d = { .size = 0 };
    for (int i = 0; i < CAS_HASH_BYTES; i++) {
        int hi = hex_value(text[2 * i]);
        int lo = hi < 0 ? -1 : hex_value(text[2 * i + 1]);
        if (lo < 0)
            return UDCS_EUSAGE;
        d.hash[i] = (uint8_t)(hi << 4 | lo);
    }
    const char *rest = text + CAS_HEX_LEN;
    int sized = 0;
    if (*rest == '/') {
        rest++;
        if (*rest < '0' || *rest > '9' || (rest[0] == '0' && rest[1] != '\0'))
            return UDCS_EUSAGE;   /* one size, one spelling: no leading zeros */
        uint64_t n = 0;
        for (; *rest >= '0' && *rest <= '9'; rest++) {
            if (n > (UINT64_MAX - 9) / 10)
                return UDCS_EUSAGE;
            n = n * 10 + (uint64_t)(*rest - '0');
        }
        d.size = n;
        sized = 1;
    }
    if (*rest != '\0')
        return UDCS_EUSAGE;
    *out = d;
    if (has_size)
        *has_size = sized;
    return 0;
}

int cas_digest_equal(const struct cas_digest *a, const struct cas_digest *b)
{
    return a->size == b->size && memcmp(a->hash, b->hash, CAS_HASH_BYTES) == 0;
}
