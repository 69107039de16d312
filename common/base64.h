/* common/base64.h - base64 as JSON bodies carry binary data (the seed's NATIVE_EXEC
 * "binary" and "payload"), over OpenSSL's EVP encoder. */
#ifndef UDCS_COMMON_BASE64_H
#define UDCS_COMMON_BASE64_H

#include <stddef.h>

#include "common/buf.h"

/* Decode standard base64 (with '=' padding; no line breaks), appending to `out`.
 * Returns 0, UDCS_EPROTO for text that is not base64, or UDCS_ETOOBIG (out->max). */
int udcs_base64_decode(const char *text, size_t len, struct udcs_buf *out);

/* Encode, appending to `out`. Returns 0, UDCS_ETOOBIG or -ENOMEM. */
int udcs_base64_encode(const void *data, size_t len, struct udcs_buf *out);

#endif
