/* cas/remote.c - the client side of the CAS protocol, over common/http_client:
 *   HEAD /cas/{hex}   presence         GET /cas/{hex}   stored form (header + payload)
 *   PUT  /cas/{hex}   upload, stored form, verified by the server before it keeps it
 *   GET  /ac/{hex}    result as JSON   PUT /ac/{hex}    result as JSON
 *   GET  /stats       the server store's counters */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOB_CONTENT_TYPE "application/x-udcs-blob"

struct cas_remote {
    struct udcs_http_client *http;
    char error[512];
};

int cas_remote_open(const char *url, const char *token, struct cas_remote **out)
{
    struct cas_remote *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int rc = udcs_http_client_new(url, token, &r->http);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void cas_remote_free(struct cas_remote *r)
{
    if (!r)
        return;
    udcs_http_client_free(r->http);
    free(r);
}

const char *cas_remote_url(const struct cas_remote *r)
{
    return udcs_http_client_url(r->http);
}

const char *cas_remote_error(const struct cas_remote *r)
{
    return r->error;
}

void cas_remote_set_timeouts(struct cas_remote *r, uint64_t connect_ms, uint64_t stall_ms,
                             uint64_t call_ms)
{
    udcs_http_client_set_timeouts(r->http, connect_ms, call_ms);
    udcs_http_client_set_stall(r->http, stall_ms);
}

static void blob_path(char *out, size_t len, const char *area, const struct cas_digest *d)
{
    char hex[CAS_HEX_LEN + 1];
    snprintf(out, len, "/%s/%s", area, cas_digest_hex(d, hex));
}

static int finish_call(struct cas_remote *r, struct udcs_http_call *call, int rc)
{
    if (rc < 0)
        snprintf(r->error, sizeof(r->error), "%s", call->error);
    else
        r->error[0] = '\0';
    return rc;
}

int cas_remote_has(struct cas_remote *r, const struct cas_digest *d)
{
    char path[64];
    blob_path(path, sizeof(path), "cas", d);
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "HEAD";
    call.path = path;
    int rc = udcs_http_client_call(r->http, &call);
    if (rc == UDCS_ENOTFOUND) {
        r->error[0] = '\0';
        return 0;
    }
    rc = finish_call(r, &call, rc);
    return rc < 0 ? rc : 1;
}

int cas_remote_get_stored(struct cas_remote *r, const struct cas_digest *d, cas_sink_fn sink,
                          void *arg)
{
    char path[64];
    blob_path(path, sizeof(path), "cas", d);
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "GET";
    call.path = path;
    call.on_data = sink;
    call.arg = arg;
    return finish_call(r, &call, udcs_http_client_call(r->http, &call));
}

int cas_remote_put_stored(struct cas_remote *r, const struct cas_digest *d, int fd,
                          uint64_t stored_size)
{
    char path[64];
    blob_path(path, sizeof(path), "cas", d);
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "PUT";
    call.path = path;
    call.content_type = BLOB_CONTENT_TYPE;
    call.body_fd = fd;
    call.body_fd_len = stored_size;
    int rc = udcs_http_client_call(r->http, &call);
    if (rc == UDCS_EPROTO && call.status == 400)
        rc = UDCS_ECORRUPT;   /* the server refused the bytes as not matching the name */
    return finish_call(r, &call, rc);
}

int cas_remote_ac_get(struct cas_remote *r, const struct cas_digest *action,
                      struct cas_action_result *out)
{
    char path[64];
    blob_path(path, sizeof(path), "ac", action);
    struct udcs_buf body = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "GET";
    call.path = path;
    call.response = &body;
    int rc = udcs_http_client_call(r->http, &call);
    if (rc == 0) {
        char why[256];
        rc = cas_action_result_from_json(body.data, body.len, out, why, sizeof(why));
        if (rc < 0)
            snprintf(call.error, sizeof(call.error), "the server sent a bad action result: %s",
                     why);
    }
    udcs_buf_release(&body);
    return finish_call(r, &call, rc);
}

int cas_remote_ac_put(struct cas_remote *r, const struct cas_digest *action,
                      const struct cas_action_result *res)
{
    char path[64];
    blob_path(path, sizeof(path), "ac", action);
    struct udcs_buf body = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    int rc = cas_action_result_to_json(res, &body);
    if (rc < 0) {
        udcs_buf_release(&body);
        return rc;
    }
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "PUT";
    call.path = path;
    call.content_type = "application/json";
    call.body = body.data;
    call.body_len = body.len;
    rc = udcs_http_client_call(r->http, &call);
    udcs_buf_release(&body);
    return finish_call(r, &call, rc);
}

int cas_remote_stats(struct cas_remote *r, struct udcs_buf *out)
{
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = "GET";
    call.path = "/stats";
    call.response = out;
    return finish_call(r, &call, udcs_http_client_call(r->http, &call));
}
