/* common/buf.c - growable buffer with a maximum size; see buf.h for the invariants. */
#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read granularity for udcs_buf_read_fd(); large enough to keep syscalls rare. */
#define BUF_READ_CHUNK (64 * 1024)

int udcs_buf_reserve(struct udcs_buf *b, size_t extra)
{
    if (extra > b->max - b->len || extra >= SIZE_MAX - b->len - 1)
        return UDCS_ETOOBIG;
    size_t need = b->len + extra + 1;   /* +1: the trailing NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int udcs_buf_append(struct udcs_buf *b, const void *data, size_t len)
{
    int rc = udcs_buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int udcs_buf_append_str(struct udcs_buf *b, const char *s)
{
    return udcs_buf_append(b, s, strlen(s));
}

int udcs_buf_vappendf(struct udcs_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    int rc = udcs_buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int udcs_buf_appendf(struct udcs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = udcs_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int udcs_buf_read_fd(struct udcs_buf *b, int fd)
{
    for (;;) {
        size_t room = b->max - b->len;
        size_t want = room < BUF_READ_CHUNK ? room : BUF_READ_CHUNK;
        if (want == 0) {
            /* At the limit: only an immediate end of file keeps us within it. */
            char probe;
            ssize_t n;
            while ((n = read(fd, &probe, 1)) < 0 && errno == EINTR)
                ;
            if (n < 0)
                return -errno;
            return n == 0 ? 0 : UDCS_ETOOBIG;
        }
        int rc = udcs_buf_reserve(b, want);
        if (rc < 0)
            return rc;
        ssize_t n;
        while ((n = read(fd, b->data + b->len, want)) < 0 && errno == EINTR)
            ;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
}

void udcs_buf_reset(struct udcs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *udcs_buf_detach(struct udcs_buf *b, size_t *len_out)
{
    char *p = b->data;
    if (len_out)
        *len_out = b->len;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void udcs_buf_release(struct udcs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
