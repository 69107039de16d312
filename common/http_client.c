/* common/http_client.c - libcurl glue; see http_client.h. One CURL easy handle per
 * client, reset between calls, so connections stay open (keep-alive) across calls. */
#include "common/http_client.h"
#include "common/err.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HTTP_DEFAULT_CONNECT_MS 5000
/* How much of an error body we keep to find the server's message. */
#define HTTP_ERROR_BODY_MAX 16384

struct udcs_http_client {
    CURL *curl;
    char *base;
    char *auth_header;
    uint64_t connect_ms;
    uint64_t call_ms;
    uint64_t stall_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int udcs_http_client_new(const char *base_url, const char *token,
                         struct udcs_http_client **out)
{
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0) {
        udcs_log_error("http: '%s' is not an http:// or https:// URL", base_url);
        return UDCS_EUSAGE;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return -ENOMEM;
    struct udcs_http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->curl = curl_easy_init();
    c->base = strdup(base_url);
    if (token && asprintf(&c->auth_header, "Authorization: Bearer %s", token) < 0)
        c->auth_header = NULL;
    if (!c->curl || !c->base || (token && !c->auth_header)) {
        udcs_http_client_free(c);
        return -ENOMEM;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    c->connect_ms = HTTP_DEFAULT_CONNECT_MS;
    c->stall_ms = UDCS_HTTP_STALL_S * 1000ull;
    *out = c;
    return 0;
}

void udcs_http_client_free(struct udcs_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->auth_header);
    free(c);
}

void udcs_http_client_set_timeouts(struct udcs_http_client *c, uint64_t connect_ms,
                                   uint64_t call_ms)
{
    c->connect_ms = connect_ms;
    c->call_ms = call_ms;
}

void udcs_http_client_set_stall(struct udcs_http_client *c, uint64_t stall_ms)
{
    c->stall_ms = stall_ms;
}

const char *udcs_http_client_url(const struct udcs_http_client *c)
{
    return c->base;
}

struct transfer {
    struct udcs_http_client *client;
    struct udcs_http_call *call;
    const char *mem;
    size_t mem_left;
    uint64_t fd_left;          /* body_fd bytes still to send */
    int status_known;
    int is_success;
    struct udcs_buf error_body;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * nmemb;
    if (!t->status_known) {
        long code = 0;
        curl_easy_getinfo(t->client->curl, CURLINFO_RESPONSE_CODE, &code);
        t->is_success = code >= 200 && code < 300;
        t->status_known = 1;
    }
    if (!t->is_success) {
        size_t room = t->error_body.max - t->error_body.len;
        udcs_buf_append(&t->error_body, data, len < room ? len : room);
        return len;
    }
    struct udcs_http_call *call = t->call;
    if (call->on_data) {
        int rc = call->on_data(call->arg, data, len);
        if (rc < 0) {
            call->callback_rc = rc;
            return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
        }
    } else if (call->response) {
        int rc = udcs_buf_append(call->response, data, len);
        if (rc < 0) {
            call->callback_rc = rc;
            return 0;
        }
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t want = size * nmemb;
    if (t->call->body_fd >= 0) {
        /* Never more than body_fd_len: bytes past the announced Content-Length would go
         * out on the kept-alive connection and be read as the start of the next request. */
        if (want > t->fd_left)
            want = (size_t)t->fd_left;
        if (want == 0)
            return 0;
        ssize_t n;
        while ((n = read(t->call->body_fd, buf, want)) < 0 && errno == EINTR)
            ;
        if (n <= 0)
            return CURL_READFUNC_ABORT;   /* a read error, or a file shorter than promised */
        t->fd_left -= (uint64_t)n;
        return (size_t)n;
    }
    size_t n = want < t->mem_left ? want : t->mem_left;
    memcpy(buf, t->mem, n);
    t->mem += n;
    t->mem_left -= n;
    return n;
}

static int status_to_err(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 404: return UDCS_ENOTFOUND;
    case 401:
    case 403: return UDCS_EAUTH;
    case 413: return UDCS_ETOOBIG;
    }
    return status >= 500 ? UDCS_EREMOTE : UDCS_EPROTO;
}

/* Fill call->error from the server's {"error": "..."} body, or say what status came. */
static void describe_http_error(struct transfer *t)
{
    struct udcs_http_call *call = t->call;
    json_t *j = t->error_body.len ? json_loadb(t->error_body.data, t->error_body.len, 0, NULL)
                                  : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    if (msg)
        snprintf(call->error, sizeof(call->error), "%s", msg);
    else
        snprintf(call->error, sizeof(call->error), "%s %s%s answered HTTP %ld",
                 call->method, t->client->base, call->path, call->status);
    json_decref(j);
}

int udcs_http_client_call(struct udcs_http_client *c, struct udcs_http_call *call)
{
    CURL *h = c->curl;
    struct transfer t = { .client = c, .call = call,
                          .error_body = UDCS_BUF_INIT(HTTP_ERROR_BODY_MAX) };
    char url[4096];
    char ctype[256];
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;

    call->status = 0;
    call->error[0] = '\0';
    call->callback_rc = 0;
    snprintf(url, sizeof(url), "%s%s", c->base, call->path);

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
    uint64_t total = call->timeout_ms ? call->timeout_ms : c->call_ms;
    if (total)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)total);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    /* libcurl counts the stall in whole seconds */
    uint64_t stall_s = (c->stall_ms + 999) / 1000;
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(stall_s ? stall_s : 1));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    /* Only loopback and LAN peers: never follow a redirect elsewhere. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);

    if (c->auth_header)
        headers = curl_slist_append(headers, c->auth_header);
    for (size_t i = 0; call->headers && call->headers[i]; i++)
        headers = curl_slist_append(headers, call->headers[i]);
    if (call->content_type) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", call->content_type);
        headers = curl_slist_append(headers, ctype);
    }

    int has_body = call->body_fd >= 0 || call->body;
    curl_off_t body_len = call->body_fd >= 0 ? (curl_off_t)call->body_fd_len
                                             : (curl_off_t)call->body_len;
    t.mem = call->body;
    t.mem_left = call->body_len;
    t.fd_left = call->body_fd_len;
    if (strcmp(call->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (has_body) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, body_len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &call->status);
    if (call->status < 200)
        call->status = 0;   /* a "100 Continue" alone is no answer */
    curl_slist_free_all(headers);

    int rc;
    if (call->callback_rc < 0) {
        rc = call->callback_rc;
        snprintf(call->error, sizeof(call->error), "%s", udcs_strerror(rc));
    } else if (cc != CURLE_OK) {
        rc = UDCS_ENET;
        snprintf(call->error, sizeof(call->error), "%s %s: %s", call->method, url,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if ((rc = status_to_err(call->status)) < 0) {
        describe_http_error(&t);
    }
    udcs_buf_release(&t.error_body);
    return rc;
}
