/* common/http_server.h - HTTP serving over libmicrohttpd: routes, bodies, auth, replies.
 *
 * A server is a listening socket, a bearer token and a list of routes. Each request is
 * matched to a route by method and path; the glue checks the token, enforces the route's
 * body limit (from Content-Length before reading, and while reading), and then either
 * collects the body into req->body or hands it to the route chunk by chunk. The route's
 * handler must answer with exactly one udcs_http_reply_*() call. Errors are JSON:
 * {"error": "what was wrong and what to do"}. The CAS server and the farm master both
 * serve through this file. */
#ifndef UDCS_COMMON_HTTP_SERVER_H
#define UDCS_COMMON_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct udcs_http_server;
struct udcs_http_req;

enum udcs_http_auth {
    UDCS_HTTP_AUTH_NONE = 0,   /* anyone */
    UDCS_HTTP_AUTH_READ,       /* token needed when the server guards reads */
    UDCS_HTTP_AUTH_WRITE,      /* token needed whenever the server has one */
};

/* Roles a token can carry. A server with several kinds of caller (the farm master has
 * agents and clients) gives each its own token; a route names the roles it admits. */
enum udcs_http_role {
    UDCS_HTTP_ROLE_CLIENT = 1 << 0,
    UDCS_HTTP_ROLE_AGENT  = 1 << 1,
    UDCS_HTTP_ROLE_ANY    = UDCS_HTTP_ROLE_CLIENT | UDCS_HTTP_ROLE_AGENT,
};

struct udcs_http_route {
    const char *method;        /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *path;          /* exact path, or a prefix when it ends with '/' */
    enum udcs_http_auth auth;
    unsigned roles;            /* roles whose token passes (when a token is needed); 0: any */
    int query_token;           /* also take the token from ?token= (for EventSource, which
                                * cannot send headers; only on routes that are reads) */
    size_t max_body;           /* largest body accepted; 0: none allowed */

    /* Streaming bodies (optional): begin runs once the headers are in and may answer
     * at once (the body is then skipped); chunk receives the body as it arrives and may
     * answer early with an error (the rest is read and dropped). */
    void (*begin)(struct udcs_http_req *req);
    void (*chunk)(struct udcs_http_req *req, const char *data, size_t len);
    /* Runs after the whole body; must reply unless begin or chunk already did. */
    void (*handle)(struct udcs_http_req *req);
    /* Frees what begin/chunk left in req->state, whatever happened. */
    void (*cleanup)(struct udcs_http_req *req);
    void *ctx;                 /* given to the handlers as req->ctx */
};

struct udcs_http_req {
    const char *method;
    const char *url;           /* path only, without the query */
    const char *subpath;       /* for prefix routes: the part after the prefix */
    unsigned role;             /* roles of the token the caller sent (0: none or unchecked) */
    int64_t content_length;    /* -1 when not given */
    struct udcs_buf body;      /* the body, when the route has no chunk handler */
    void *ctx;                 /* the route's ctx */
    void *state;               /* the handlers' per-request state */
    int replied;
    /* private */
    struct udcs_http_server *server;
    const struct udcs_http_route *route;
    void *connection;
    void *response;
    unsigned status;
    uint64_t start_ns;
    uint64_t bytes_in;
};

/* The largest number of tokens a server accepts. */
#define UDCS_HTTP_MAX_TOKENS 4

struct udcs_http_token {
    const char *secret;
    unsigned roles;            /* enum udcs_http_role bits */
};

struct udcs_http_server_options {
    const char *listen;        /* "127.0.0.1:8080", "[::1]:0", "0.0.0.0:7070"; port 0: any */
    const char *token;         /* one bearer token for every role (udcs-cas serve) ... */
    struct udcs_http_token tokens[UDCS_HTTP_MAX_TOKENS];   /* ... or one per role */
    int auth_reads;            /* also require a token on AUTH_READ routes */
    unsigned max_connections;  /* 0: a built-in default */
    unsigned timeout_s;        /* idle connection timeout; 0: a built-in default */
    size_t thread_stack_bytes; /* per connection thread; 0: libmicrohttpd's default */
};
/* With no token at all (token NULL and tokens[] empty), nothing is checked. */

/* Create a server (not yet listening). Returns 0, UDCS_EUSAGE for a bad listen address
 * (logged), or -errno. */
int udcs_http_server_new(const struct udcs_http_server_options *opt,
                         struct udcs_http_server **out);

/* Add a route; routes are tried in the order added. The route is copied. Returns 0 or
 * -ENOMEM. */
int udcs_http_server_add_route(struct udcs_http_server *srv, const struct udcs_http_route *r);

/* Hand `ptr` to the server: `free_fn(ptr)` runs when the server is freed, after the
 * last handler has returned. For the state routes share. Returns 0 or -ENOMEM. */
int udcs_http_server_adopt(struct udcs_http_server *srv, void *ptr, void (*free_fn)(void *));

/* Bind, listen and serve on internal threads. Returns 0, or -errno (-EADDRINUSE ...). */
int udcs_http_server_start(struct udcs_http_server *srv);

/* The bound port (after start) and the base URL "http://host:port". */
unsigned udcs_http_server_port(const struct udcs_http_server *srv);
const char *udcs_http_server_url(const struct udcs_http_server *srv);

/* Stop serving, wait for handlers to finish, free everything. NULL is fine. */
void udcs_http_server_free(struct udcs_http_server *srv);

/* Request details. */
const char *udcs_http_req_header(struct udcs_http_req *req, const char *name);
const char *udcs_http_req_query(struct udcs_http_req *req, const char *name);

/* Answers. Each may be called once per request; later calls are ignored. A header added
 * with udcs_http_add_header() before the reply goes out with it. */
void udcs_http_reply(struct udcs_http_req *req, unsigned status, const char *content_type,
                     const void *data, size_t len);
void udcs_http_reply_json(struct udcs_http_req *req, unsigned status, json_t *body); /* steals */
void udcs_http_reply_error(struct udcs_http_req *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Send `size` bytes of `fd` from offset 0 (sendfile where possible); takes the fd. */
void udcs_http_reply_fd(struct udcs_http_req *req, unsigned status, const char *content_type,
                        int fd, uint64_t size);
/* For udcs_http_reply_stream: a body whose length is not known in advance (events). */
#define UDCS_HTTP_SIZE_UNKNOWN UINT64_MAX

/* Send `size` bytes produced by `read` on demand. `read` fills up to `max` bytes at `pos`
 * and returns how many, or -1 to abort the transfer (the client sees a short body).
 * `done` frees `arg` when the transfer ends, however it ends. With UDCS_HTTP_SIZE_UNKNOWN,
 * `read` may block until it has something (each connection has its own thread). */
void udcs_http_reply_stream(struct udcs_http_req *req, unsigned status,
                            const char *content_type, uint64_t size,
                            long (*read)(void *arg, uint64_t pos, char *buf, size_t max),
                            void (*done)(void *arg), void *arg);
void udcs_http_add_header(struct udcs_http_req *req, const char *name, const char *value);

#endif
