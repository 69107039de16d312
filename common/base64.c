/* common/base64.c - base64 over OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. */
#include "common/base64.h"
#include "common/err.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

int udcs_base64_decode(const char *text, size_t len, struct udcs_buf *out)
{
    if (len % 4 != 0 || len > (size_t)INT32_MAX)
        return UDCS_EPROTO;
    size_t pad = 0;
    if (len >= 1 && text[len - 1] == '=')
        pad++;
    if (len >= 2 && text[len - 2] == '=')
        pad++;
    /* EVP_DecodeBlock accepts whitespace and stray '='; be strict instead. */
    size_t body = strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    if (body + pad != len)
        return UDCS_EPROTO;
    size_t max = len / 4 * 3;
    int rc = udcs_buf_reserve(out, max);
    if (rc < 0)
        return rc;
    int n = EVP_DecodeBlock((unsigned char *)out->data + out->len, (const unsigned char *)text,
                            (int)len);
    if (n < 0)
        return UDCS_EPROTO;
    out->len += (size_t)n - pad;   /* the block decoder counts the padding as zero bytes */
    out->data[out->len] = '\0';
    return 0;
}

int udcs_base64_encode(const void *data, size_t len, struct udcs_buf *out)
{
    if (len > (size_t)INT32_MAX / 4 * 3)
        return UDCS_ETOOBIG;
    size_t need = (len + 2) / 3 * 4;
    int rc = udcs_buf_reserve(out, need);
    if (rc < 0)
        return rc;
    int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, data, (int)len);
    out->len += (size_t)n;
    out->data[out->len] = '\0';
    return 0;
}
