/* common/http_client.h - HTTP calls over libcurl with one keep-alive handle per client.
 *
 * A client talks to one server (its base URL) with an optional bearer token. Each call
 * sends a body from memory or from a file descriptor and receives the response into a
 * buffer or through a callback, so large blobs stream in both directions. A client is
 * used by one thread at a time. */
#ifndef UDCS_COMMON_HTTP_CLIENT_H
#define UDCS_COMMON_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct udcs_http_client;

struct udcs_http_call {
    /* in */
    const char *method;            /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *path;              /* appended to the base URL: "/cas/0123..." */
    const char *content_type;      /* of the request body */
    const char *const *headers;    /* more request headers ("Name: value"), NULL-ended; or NULL */
    const void *body;              /* request body from memory ... */
    size_t body_len;
    int body_fd;                   /* ... or from this descriptor (when >= 0) */
    uint64_t body_fd_len;          /* exactly this many bytes are sent from body_fd; a
                                    * file that ends sooner fails the call (UDCS_ENET) */
    /* Response body of a 2xx answer: through `on_data` when set (return 0 to go on, a
     * negative code to abort the transfer with it), else into `response` when set. */
    int (*on_data)(void *arg, const void *data, size_t len);
    void *arg;
    struct udcs_buf *response;
    uint64_t timeout_ms;           /* 0: the client's default */

    /* out */
    long status;                   /* HTTP status, 0 when no answer came */
    char error[512];               /* transport error, or the server's {"error": ...} */
    int callback_rc;               /* what on_data returned when it aborted */
};

#define UDCS_HTTP_CALL_INIT { .body_fd = -1 }
#define UDCS_HTTP_STALL_S 60

/* A client for `base_url` ("http://127.0.0.1:7070"); `token` may be NULL. Returns 0,
 * UDCS_EUSAGE for a URL that is not http(s)://..., or -ENOMEM. */
int udcs_http_client_new(const char *base_url, const char *token,
                         struct udcs_http_client **out);
void udcs_http_client_free(struct udcs_http_client *c);

/* How long to wait for a connection, and the default limit for a whole call (0: none;
 * a transfer that stalls is ended either way, see udcs_http_client_set_stall). */
void udcs_http_client_set_timeouts(struct udcs_http_client *c, uint64_t connect_ms,
                                   uint64_t call_ms);

/* End a call once nothing has moved in either direction for `stall_ms` (counted in whole
 * seconds, at least one; UDCS_HTTP_STALL_S by default): a server that accepts the
 * connection and never answers costs this long. */
void udcs_http_client_set_stall(struct udcs_http_client *c, uint64_t stall_ms);

const char *udcs_http_client_url(const struct udcs_http_client *c);

/* Make the call. Returns 0 when a 2xx answer arrived; otherwise an error with
 * call->error filled: UDCS_ENET (no answer: refused, timed out, reset), UDCS_ENOTFOUND
 * (404), UDCS_EAUTH (401, 403), UDCS_ETOOBIG (413), UDCS_EPROTO (other 4xx),
 * UDCS_EREMOTE (5xx), or what on_data returned. */
int udcs_http_client_call(struct udcs_http_client *c, struct udcs_http_call *call);

#endif
