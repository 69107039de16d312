/* common/http_server.c - routes, auth, body limits and replies over libmicrohttpd.
 *
 * MHD calls the access handler several times per request: once with the headers, once
 * per body chunk, and once more at the end. Replies made by handlers are held in the
 * request and queued when MHD allows it: right after the headers (the body is then
 * skipped and the connection closed) or after the last chunk. One thread per connection:
 * handlers may block on disk without stalling other clients. */
#include "common/http_server.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_DEFAULT_MAX_CONNECTIONS 256
#define HTTP_DEFAULT_TIMEOUT_S 300
#define HTTP_LISTEN_BACKLOG 128
/* Block size MHD asks streaming readers for. */
#define HTTP_STREAM_BLOCK (256 * 1024)
/* Headers a handler may add to one reply. */
#define HTTP_MAX_EXTRA_HEADERS 8

struct udcs_http_server {
    struct udcs_http_server_options opt;
    char *listen;
    struct udcs_http_token tokens[UDCS_HTTP_MAX_TOKENS];   /* secrets are our copies */
    size_t n_tokens;
    struct udcs_http_route *routes;
    size_t n_routes;
    struct adopted { void *ptr; void (*free_fn)(void *); } *adopted;
    size_t n_adopted;
    struct MHD_Daemon *daemon;
    int listen_fd;
    unsigned port;
    char url[300];
};

/* The request as MHD sees it: the public part plus what the glue needs. */
struct http_req {
    struct udcs_http_req pub;
    char *header_names[HTTP_MAX_EXTRA_HEADERS];
    char *header_values[HTTP_MAX_EXTRA_HEADERS];
    size_t n_headers;
    int queued;
};

/* ---- replies ---------------------------------------------------------------------- */

static void attach_response(struct udcs_http_req *req, unsigned status, struct MHD_Response *r,
                            const char *content_type)
{
    struct http_req *hr = (struct http_req *)req;
    if (!r) {
        udcs_log_error("http: out of memory answering %s %s", req->method, req->url);
        return;
    }
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; i < hr->n_headers; i++)
        MHD_add_response_header(r, hr->header_names[i], hr->header_values[i]);
    req->response = r;
    req->status = status;
    req->replied = 1;
}

void udcs_http_add_header(struct udcs_http_req *req, const char *name, const char *value)
{
    struct http_req *hr = (struct http_req *)req;
    if (hr->n_headers == HTTP_MAX_EXTRA_HEADERS || req->replied)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    hr->header_names[hr->n_headers] = n;
    hr->header_values[hr->n_headers] = v;
    hr->n_headers++;
}

void udcs_http_reply(struct udcs_http_req *req, unsigned status, const char *content_type,
                     const void *data, size_t len)
{
    if (req->replied)
        return;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    attach_response(req, status, r, content_type);
}

void udcs_http_reply_json(struct udcs_http_req *req, unsigned status, json_t *body)
{
    if (req->replied) {
        json_decref(body);
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    if (!text) {
        udcs_http_reply(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
        return;
    }
    size_t len = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r)
        free(text);
    attach_response(req, status, r, "application/json");
}

void udcs_http_reply_error(struct udcs_http_req *req, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    udcs_log_debug("http: %s %s -> %u: %s", req->method, req->url, status, msg);
    udcs_http_reply_json(req, status, json_pack("{s:s}", "error", msg));
}

void udcs_http_reply_fd(struct udcs_http_req *req, unsigned status, const char *content_type,
                        int fd, uint64_t size)
{
    if (req->replied) {
        close(fd);
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
    if (!r)
        close(fd);
    attach_response(req, status, r, content_type);
}

struct stream_reply {
    long (*read)(void *arg, uint64_t pos, char *buf, size_t max);
    void (*done)(void *arg);
    void *arg;
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_reply *s = cls;
    long n = s->read(s->arg, pos, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n;
}

static void stream_free(void *cls)
{
    struct stream_reply *s = cls;
    if (s->done)
        s->done(s->arg);
    free(s);
}

void udcs_http_reply_stream(struct udcs_http_req *req, unsigned status,
                            const char *content_type, uint64_t size,
                            long (*read)(void *arg, uint64_t pos, char *buf, size_t max),
                            void (*done)(void *arg), void *arg)
{
    struct stream_reply *s = req->replied ? NULL : malloc(sizeof(*s));
    if (!s) {
        if (done)
            done(arg);
        return;
    }
    s->read = read;
    s->done = done;
    s->arg = arg;
    struct MHD_Response *r = MHD_create_response_from_callback(size, HTTP_STREAM_BLOCK,
                                                               stream_reader, s, stream_free);
    if (!r)
        stream_free(s);
    attach_response(req, status, r, content_type);
}

/* ---- requests --------------------------------------------------------------------- */

const char *udcs_http_req_header(struct udcs_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *udcs_http_req_query(struct udcs_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

static int path_matches(const struct udcs_http_route *r, const char *url, const char **sub)
{
    size_t n = strlen(r->path);
    if (n && r->path[n - 1] == '/') {
        if (strncmp(url, r->path, n) != 0)
            return 0;
        *sub = url + n;
        return 1;
    }
    *sub = "";
    return strcmp(url, r->path) == 0;
}

/* Pick the route; HEAD falls back to the GET route when there is no HEAD route. Sets
 * *path_known when some route has the path but not the method. */
static const struct udcs_http_route *find_route(struct udcs_http_server *srv, const char *method,
                                                const char *url, const char **sub,
                                                int *path_known)
{
    *path_known = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *want = pass == 0 ? method : (strcmp(method, "HEAD") == 0 ? "GET" : NULL);
        if (!want)
            break;
        for (size_t i = 0; i < srv->n_routes; i++) {
            const struct udcs_http_route *r = &srv->routes[i];
            if (!path_matches(r, url, sub))
                continue;
            if (strcmp(r->method, want) == 0)
                return r;
            *path_known = 1;
        }
    }
    return NULL;
}

/* Returns 0 when the request may go on; otherwise replies 401/403 and returns -1. */
static int check_auth(struct udcs_http_server *srv, struct udcs_http_req *req,
                      const struct udcs_http_route *r)
{
    if (srv->n_tokens == 0 || r->auth == UDCS_HTTP_AUTH_NONE ||
        (r->auth == UDCS_HTTP_AUTH_READ && !srv->opt.auth_reads))
        return 0;
    const char *h = udcs_http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *given = h && strncmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
    if (!given && r->query_token && r->auth == UDCS_HTTP_AUTH_READ)
        given = udcs_http_req_query(req, "token");
    if (!given) {
        udcs_http_add_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        udcs_http_reply_error(req, 401, "%s %s needs a bearer token: send 'Authorization: "
                              "Bearer <token>' with the server's token", req->method, req->url);
        return -1;
    }
    size_t given_len = strlen(given);
    unsigned roles = 0;
    for (size_t i = 0; i < srv->n_tokens; i++) {
        size_t n = strlen(srv->tokens[i].secret);
        if (given_len == n && CRYPTO_memcmp(given, srv->tokens[i].secret, n) == 0)
            roles |= srv->tokens[i].roles;
    }
    if (!roles) {
        udcs_http_reply_error(req, 403, "the bearer token was refused; check the token "
                              "file matches the server's");
        return -1;
    }
    if (r->roles && !(roles & r->roles)) {
        udcs_http_reply_error(req, 403, "this token may not call %s %s: it is %s token",
                              req->method, req->url,
                              roles & UDCS_HTTP_ROLE_AGENT ? "an agent" : "a client");
        return -1;
    }
    req->role = roles;
    return 0;
}

static enum MHD_Result queue_if_replied(struct http_req *hr)
{
    struct udcs_http_req *req = &hr->pub;
    if (hr->queued || !req->replied)
        return MHD_YES;
    if (!req->response)
        return MHD_NO;   /* the reply could not be built: drop the connection */
    enum MHD_Result rc = MHD_queue_response(req->connection, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    hr->queued = 1;
    return rc;
}

static void start_request(struct udcs_http_server *srv, struct udcs_http_req *req)
{
    int path_known;
    const char *sub;
    const struct udcs_http_route *r = find_route(srv, req->method, req->url, &sub, &path_known);
    if (!r) {
        if (path_known)
            udcs_http_reply_error(req, 405, "%s is not allowed on %s", req->method, req->url);
        else
            udcs_http_reply_error(req, 404, "no such endpoint: %s", req->url);
        return;
    }
    req->route = r;
    req->ctx = r->ctx;
    req->subpath = sub;
    req->body.max = r->max_body;
    if (check_auth(srv, req, r) < 0)
        return;

    const char *cl = udcs_http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || end == cl) {
            udcs_http_reply_error(req, 400, "Content-Length '%s' is not a number", cl);
            return;
        }
        req->content_length = (int64_t)n;
        if (n > r->max_body) {
            udcs_http_reply_error(req, 413, "body of %llu bytes is over this endpoint's "
                                  "limit of %zu bytes", n, r->max_body);
            return;
        }
    }
    if (r->begin)
        r->begin(req);
}

static void take_chunk(struct udcs_http_req *req, const char *data, size_t len)
{
    req->bytes_in += len;
    if (req->replied)
        return;   /* an early error: read and drop the rest */
    const struct udcs_http_route *r = req->route;
    if (req->bytes_in > r->max_body) {
        udcs_http_reply_error(req, 413, "body is over this endpoint's limit of %zu bytes",
                              r->max_body);
        return;
    }
    if (r->chunk) {
        r->chunk(req, data, len);
    } else if (udcs_buf_append(&req->body, data, len) < 0) {
        udcs_http_reply_error(req, 500, "out of memory reading the body");
    }
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct udcs_http_server *srv = cls;
    (void)version;
    struct http_req *hr = *con_cls;
    if (!hr) {
        hr = calloc(1, sizeof(*hr));
        if (!hr)
            return MHD_NO;
        *con_cls = hr;
        struct udcs_http_req *req = &hr->pub;
        req->method = method;
        req->url = url;
        req->server = srv;
        req->connection = conn;
        req->content_length = -1;
        req->start_ns = udcs_mono_ns();
        req->body = (struct udcs_buf)UDCS_BUF_INIT(0);
        start_request(srv, req);
        return queue_if_replied(hr);
    }
    struct udcs_http_req *req = &hr->pub;
    if (*upload_data_size) {
        take_chunk(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!req->replied && req->route && req->route->handle)
        req->route->handle(req);
    if (!req->replied)
        udcs_http_reply_error(req, 500, "the handler for %s %s gave no answer", method, url);
    return queue_if_replied(hr);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct http_req *hr = *con_cls;
    if (!hr)
        return;
    struct udcs_http_req *req = &hr->pub;
    udcs_log_debug("http: %s %s -> %u, %llu bytes in, %.2f ms%s", req->method, req->url,
                   req->status, (unsigned long long)req->bytes_in,
                   (double)(udcs_mono_ns() - req->start_ns) / 1e6,
                   toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    if (req->route && req->route->cleanup)
        req->route->cleanup(req);
    if (req->response)
        MHD_destroy_response(req->response);
    for (size_t i = 0; i < hr->n_headers; i++) {
        free(hr->header_names[i]);
        free(hr->header_values[i]);
    }
    udcs_buf_release(&req->body);
    free(hr);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    udcs_log_warn("http: %s", msg);
}

/* ---- server ----------------------------------------------------------------------- */

/* Split "host:port", "[v6]:port" or ":port" (any address). */
static int split_listen(const char *listen, char *host, size_t host_len, char *port,
                        size_t port_len)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *close_br = strchr(listen, ']');
        if (!close_br || close_br[1] != ':')
            return -1;
        snprintf(host, host_len, "%.*s", (int)(close_br - listen - 1), listen + 1);
        colon = close_br + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        snprintf(host, host_len, "%.*s", (int)(colon - listen), listen);
    }
    const char *digits = colon + 1;
    /* Check the whole text, not the copy: snprintf() may have cut a long number short. */
    size_t n = strlen(digits);
    if (n == 0 || n >= port_len || strspn(digits, "0123456789") != n ||
        strtoul(digits, NULL, 10) > 65535)
        return -1;
    snprintf(port, port_len, "%s", digits);
    return 0;
}

int udcs_http_server_new(const struct udcs_http_server_options *opt,
                         struct udcs_http_server **out)
{
    struct udcs_http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->opt = *opt;
    srv->listen_fd = -1;
    srv->listen = strdup(opt->listen ? opt->listen : "127.0.0.1:0");
    if (!srv->listen) {
        udcs_http_server_free(srv);
        return -ENOMEM;
    }
    struct udcs_http_token all = { opt->token, UDCS_HTTP_ROLE_ANY };
    for (size_t i = 0; i <= UDCS_HTTP_MAX_TOKENS; i++) {
        const struct udcs_http_token *t = i == 0 ? &all : &opt->tokens[i - 1];
        if (!t->secret)
            continue;
        if (srv->n_tokens == UDCS_HTTP_MAX_TOKENS || !*t->secret) {
            udcs_http_server_free(srv);
            return UDCS_EUSAGE;   /* more tokens than slots, or an empty one */
        }
        srv->tokens[srv->n_tokens].roles = t->roles;
        srv->tokens[srv->n_tokens].secret = strdup(t->secret);
        if (!srv->tokens[srv->n_tokens++].secret) {
            udcs_http_server_free(srv);
            return -ENOMEM;
        }
    }
    char host[256], port[16];
    if (split_listen(srv->listen, host, sizeof(host), port, sizeof(port)) < 0) {
        udcs_log_error("http: listen address '%s' is not HOST:PORT (for example "
                       "127.0.0.1:7070 or [::1]:7070)", srv->listen);
        udcs_http_server_free(srv);
        return UDCS_EUSAGE;
    }
    *out = srv;
    return 0;
}

int udcs_http_server_add_route(struct udcs_http_server *srv, const struct udcs_http_route *r)
{
    struct udcs_http_route *n = realloc(srv->routes, (srv->n_routes + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    srv->routes = n;
    srv->routes[srv->n_routes++] = *r;
    return 0;
}

int udcs_http_server_adopt(struct udcs_http_server *srv, void *ptr, void (*free_fn)(void *))
{
    struct adopted *n = realloc(srv->adopted, (srv->n_adopted + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    srv->adopted = n;
    srv->adopted[srv->n_adopted].ptr = ptr;
    srv->adopted[srv->n_adopted].free_fn = free_fn;
    srv->n_adopted++;
    return 0;
}

static int open_listen_socket(struct udcs_http_server *srv, int *family)
{
    char host[256], port[16];
    split_listen(srv->listen, host, sizeof(host), port, sizeof(port));
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        udcs_log_error("http: cannot resolve listen address '%s': %s", srv->listen,
                       gai_strerror(gai));
        return -EADDRNOTAVAIL;
    }
    int fd = -1, rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, HTTP_LISTEN_BACKLOG) == 0) {
            *family = ai->ai_family;
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc < 0) {
        udcs_log_error("http: cannot listen on %s: %s", srv->listen, udcs_strerror(rc));
        return rc;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char h[NI_MAXHOST], p[NI_MAXSERV];
        if (getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
            srv->port = (unsigned)atoi(p);
            snprintf(srv->url, sizeof(srv->url), ss.ss_family == AF_INET6 ? "http://[%s]:%s"
                                                                         : "http://%s:%s", h, p);
        }
    }
    srv->listen_fd = fd;
    return 0;
}

int udcs_http_server_start(struct udcs_http_server *srv)
{
    int family = AF_INET;
    int rc = open_listen_socket(srv, &family);
    if (rc < 0)
        return rc;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,   /* first, so it catches everything */
        MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_LIMIT,
        srv->opt.max_connections ? srv->opt.max_connections : HTTP_DEFAULT_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT,
        srv->opt.timeout_s ? srv->opt.timeout_s : HTTP_DEFAULT_TIMEOUT_S,
        MHD_OPTION_THREAD_STACK_SIZE, srv->opt.thread_stack_bytes,
        MHD_OPTION_END);
    if (!srv->daemon) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
        udcs_log_error("http: libmicrohttpd could not start on %s", srv->listen);
        return -EIO;
    }
    return 0;
}

unsigned udcs_http_server_port(const struct udcs_http_server *srv)
{
    return srv->port;
}

const char *udcs_http_server_url(const struct udcs_http_server *srv)
{
    return srv->url;
}

void udcs_http_server_free(struct udcs_http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);   /* also closes the listening socket */
    else if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    free(srv->routes);
    for (size_t i = 0; i < srv->n_adopted; i++)
        srv->adopted[i].free_fn(srv->adopted[i].ptr);
    free(srv->adopted);
    for (size_t i = 0; i < srv->n_tokens; i++) {
        char *secret = (char *)srv->tokens[i].secret;
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    free(srv->listen);
    free(srv);
}
