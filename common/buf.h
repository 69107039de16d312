/* common/buf.h - the one growable byte buffer, with a maximum size.
 *
 * Invariants: `data` is NULL or points to `cap` bytes of which `len` are used, and
 * data[len] is always a NUL byte when data is not NULL, so text can be used as a C string.
 * `max` is the largest `len` the buffer will grow to; growing past it fails with
 * UDCS_ETOOBIG and leaves the buffer as it was. Declare with UDCS_BUF_INIT(max);
 * udcs_buf_release() frees the memory and leaves an empty, reusable buffer. */
#ifndef UDCS_COMMON_BUF_H
#define UDCS_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct udcs_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

#define UDCS_BUF_INIT(max_bytes) { NULL, 0, 0, (max_bytes) }

/* Make room for `extra` more bytes (plus the NUL). Returns 0, UDCS_ETOOBIG or -ENOMEM. */
int udcs_buf_reserve(struct udcs_buf *b, size_t extra);

/* Append bytes, a C string, or printf-formatted text. Return 0, UDCS_ETOOBIG or -ENOMEM. */
int udcs_buf_append(struct udcs_buf *b, const void *data, size_t len);
int udcs_buf_append_str(struct udcs_buf *b, const char *s);
int udcs_buf_appendf(struct udcs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int udcs_buf_vappendf(struct udcs_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Read `fd` to its end, appending. Retries on EINTR. Returns 0, UDCS_ETOOBIG past the
 * limit, or -errno. */
int udcs_buf_read_fd(struct udcs_buf *b, int fd);

/* Forget the contents but keep the memory. */
void udcs_buf_reset(struct udcs_buf *b);

/* Hand the memory to the caller (free() it); the buffer becomes empty. Never NULL unless
 * out of memory: an empty buffer detaches as a fresh "" string. */
char *udcs_buf_detach(struct udcs_buf *b, size_t *len_out);

/* Free the memory; the buffer is empty and reusable, with the same maximum. */
void udcs_buf_release(struct udcs_buf *b);

#endif
