/* farm/client.c - what every program that talks to the master shares (udcs, udcs-render):
 * the connection from the settings, JSON calls, submitting, and following a job's
 * server-sent events. */
#include "farm/client.h"
#include "cas/cas.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESPONSE_MAX (256u * 1024 * 1024)
/* Times the event stream is followed again after it broke (the master restarting). */
#define FOLLOW_RECONNECTS 30

int client_open(struct client *c)
{
    const char *tf = udcs_config_str(&c->cfg, "token_file");
    const char *token = udcs_config_str(&c->cfg, "token");
    if (token && !(c->token = strdup(token)))
        return -ENOMEM;
    if (!token && tf && udcs_config_read_token(tf, &c->token) < 0)
        return UDCS_EUSAGE;
    const char *farm = udcs_config_str(&c->cfg, "farm");
    if (strncmp(farm, "http://", 7) == 0 || strncmp(farm, "https://", 8) == 0)
        c->url = strdup(farm);
    else if (asprintf(&c->url, "http://%s", farm) < 0)
        c->url = NULL;
    if (!c->url)
        return -ENOMEM;
    return udcs_http_client_new(c->url, c->token, &c->http) < 0 ? UDCS_EUSAGE : 0;
}

void client_close(struct client *c)
{
    udcs_http_client_free(c->http);
    free(c->url);
    free(c->token);
    c->http = NULL;
    c->url = c->token = NULL;
}

int client_call_json(struct client *c, const char *method, const char *path, const char *body,
                     json_t **answer)
{
    struct udcs_buf resp = UDCS_BUF_INIT(RESPONSE_MAX);
    struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
    call.method = method;
    call.path = path;
    call.response = &resp;
    if (body) {
        call.body = body;
        call.body_len = strlen(body);
        call.content_type = "application/json";
    }
    int rc = udcs_http_client_call(c->http, &call);
    if (rc < 0) {
        udcs_log_error("%s %s: %s", method, path, call.error);
    } else if (answer) {
        *answer = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
        if (!*answer) {
            udcs_log_error("%s %s: the master's answer is not JSON", method, path);
            rc = UDCS_EPROTO;
        }
    }
    udcs_buf_release(&resp);
    return rc;
}

int client_status_of(int rc)
{
    if (rc == UDCS_ENOTFOUND)
        return UDCS_EXIT_NOT_FOUND;
    return rc < 0 ? UDCS_EXIT_FAILED : UDCS_EXIT_OK;
}

int client_submit(struct client *c, const char *text, long long *id)
{
    json_t *j;
    int rc = client_call_json(c, "POST", "/api/submit", text, &j);
    if (rc < 0)
        return rc;
    *id = json_integer_value(json_object_get(j, "job_id"));
    json_decref(j);
    return 0;
}

struct stream {
    struct udcs_buf line;
    char event[64];
    int ended;
    client_event_fn *fn;
    void *arg;
};

/* Server-sent events arrive in pieces: split into lines, act on "event:" and "data:". */
static int on_stream(void *arg, const void *data, size_t len)
{
    struct stream *s = arg;
    const char *p = data;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\n') {
            if (udcs_buf_append(&s->line, p + i, 1) < 0)
                return UDCS_ETOOBIG;
            continue;
        }
        const char *l = s->line.data ? s->line.data : "";
        if (strncmp(l, "event: ", 7) == 0) {
            snprintf(s->event, sizeof(s->event), "%s", l + 7);
        } else if (strncmp(l, "data: ", 6) == 0) {
            s->ended |= strcmp(s->event, "job_finished") == 0;
            int rc = s->fn(s->arg, s->event, l + 6);
            if (rc < 0)
                return rc;
        }
        udcs_buf_reset(&s->line);
    }
    return 0;
}

int client_follow(struct client *c, const char *id, client_event_fn *fn, void *arg)
{
    struct stream s = { .line = UDCS_BUF_INIT(16u << 20), .fn = fn, .arg = arg };
    char path[256];
    int rc = 0;
    snprintf(path, sizeof(path), "/api/jobs/%s/events", id);
    for (int attempt = 0; !s.ended && attempt < FOLLOW_RECONNECTS; attempt++) {
        struct udcs_http_call call = UDCS_HTTP_CALL_INIT;
        call.method = "GET";
        call.path = path;
        call.on_data = on_stream;
        call.arg = &s;
        udcs_buf_reset(&s.line);
        rc = udcs_http_client_call(c->http, &call);
        if (rc < 0 && call.callback_rc < 0) {
            rc = call.callback_rc;   /* the handler stopped it */
            break;
        }
        if (rc == UDCS_ENOTFOUND || rc == UDCS_EAUTH) {
            udcs_log_error("job %s: %s", id, call.error);
            break;
        }
        if (rc < 0 && !s.ended) {
            /* the master may be restarting: say so, and follow again */
            udcs_log_warn("job %s: the event stream broke (%s); reconnecting", id, call.error);
            usleep(1000 * 1000);
        }
    }
    udcs_buf_release(&s.line);
    if (!s.ended && rc >= 0) {
        udcs_log_error("job %s: lost the master; 'udcs job %s' shows where the job is", id, id);
        rc = UDCS_ENET;
    }
    return s.ended ? 0 : rc;
}

int client_send_file(struct cas *cas, const char *path, char text[CLIENT_DIGEST_TEXT])
{
    struct cas_digest d;
    int rc = cas_put_file(cas, path, &d);
    if (rc == 0 && *cas_last_remote_error(cas))
        rc = UDCS_EREMOTE;
    if (rc < 0) {
        udcs_log_error("sending %s to the farm failed: %s%s%s", path, udcs_strerror(rc),
                       *cas_last_remote_error(cas) ? ": " : "", cas_last_remote_error(cas));
        return rc;
    }
    char hex[CAS_HEX_LEN + 1];
    snprintf(text, CLIENT_DIGEST_TEXT, "%s/%llu", cas_digest_hex(&d, hex),
             (unsigned long long)d.size);
    return 0;
}

int client_program_main(const struct client_program *p, int argc, char **argv)
{
    static const struct udcs_setting settings[] = { CLIENT_SETTINGS };
    udcs_log_init(p->name, UDCS_LOG_WARN, UDCS_LOG_STYLE_CLI);
    struct client c = { 0 };
    if (udcs_config_init(&c.cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    struct udcs_cli cli = { .program = p->name, .usage = p->usage };
    int status = udcs_cli_parse(&cli, &c.cfg, argc, argv);
    if (status <= 0)
        status = status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    else if (p->parse(cli.n_rest, cli.rest, p->opts) < 0 || client_open(&c) < 0)
        status = UDCS_EXIT_USAGE;
    else
        status = p->run(&c, p->opts);
    client_close(&c);
    free(cli.rest);
    udcs_config_release(&c.cfg);
    return udcs_cli_finish(status);
}

int client_open_store(struct client *c, struct cas **cas)
{
    struct cas_options co = { .local = { .root = udcs_config_str(&c->cfg, "cache_dir"),
                                         .max_size = 5ull << 30,
                                         .encode = { .level = 3, .workers = 1 } },
                              .remote_url = c->url, .remote_token = c->token };
    *cas = NULL;
    int rc = cas_open(&co, cas);
    if (rc < 0)
        udcs_log_error("cannot open the local store %s: %s", co.local.root, udcs_strerror(rc));
    return rc;
}
