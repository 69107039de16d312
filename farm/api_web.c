/* farm/api_web.c - the web port's pages: the built dashboard (GET / is its index.html,
 * GET /assets/NAME the files beside it) from the directory --web-dir names, or, when no
 * dashboard is built, a plain status page. The JSON it reads is served by api_client.c
 * and api_dash.c on the same port. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_server.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest file name under /assets/. */
#define WEB_NAME_MAX 128

static int has_index(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    return snprintf(path, sizeof(path), "%s/index.html", dir) < (int)sizeof(path) &&
           stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int farm_web_dir_check(const char *dir, char **out)
{
    *out = NULL;
    if (!dir)
        return 0;
    if (!has_index(dir)) {
        udcs_log_error("farm: --web-dir %s holds no index.html; build the dashboard (make web) "
                       "or leave --web-dir out", dir);
        return UDCS_EUSAGE;
    }
    *out = strdup(dir);
    return *out ? 0 : -ENOMEM;
}

char *farm_web_dir_default(void)
{
    char exe[PATH_MAX];
    if (udcs_self_dir(exe, sizeof(exe)) < 0)
        return NULL;
    /* installed (PREFIX/bin -> PREFIX/share/udcs/web), then in the build tree
     * (build/bin -> build/web) */
    static const char *const beside[] = { "../share/udcs/web", "../web" };
    for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
        char dir[PATH_MAX], real[PATH_MAX];
        if (snprintf(dir, sizeof(dir), "%s/%s", exe, beside[i]) < (int)sizeof(dir) &&
            has_index(dir) && realpath(dir, real))
            return strdup(real);
    }
    return NULL;
}

/* A name /assets/ may serve: letters, digits, '.', '-' and '_', not starting with '.'
 * (so neither "..", nor a hidden file, nor a path). */
int farm_web_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > WEB_NAME_MAX || name[0] == '.')
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

const char *farm_web_content_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "application/javascript" },
        { ".css", "text/css" },
        { ".map", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".json", "application/json" },
        { ".woff2", "font/woff2" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Send NAME of the web directory, read now (a rebuilt dashboard is served without a
 * restart). */
static void send_file(struct udcs_http_req *req, const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        udcs_http_reply_error(req, 404, "no such file: %s", name);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        udcs_http_reply_error(req, 404, "no such file: %s", name);
        return;
    }
    /* index.html names app.js and app.css, which change with each build: never cached */
    udcs_http_add_header(req, "Cache-Control", "no-cache");
    udcs_http_add_header(req, "X-Content-Type-Options", "nosniff");
    udcs_http_reply_fd(req, 200, farm_web_content_type(name), fd, (uint64_t)st.st_size);
}

static void do_index(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    if (*req->subpath) {   /* "/" is a prefix route: only "/" itself is the page */
        udcs_http_reply_error(req, 404, "no such page: %s", req->url);
        return;
    }
    if (f->web_dir)   /* missing now (a build in progress): 404, not the guarded page */
        send_file(req, f->web_dir, "index.html");
    else
        farm_status_page(req);
}

static void do_asset(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    if (!farm_web_name_ok(req->subpath)) {
        udcs_http_reply_error(req, 404, "no such file: /assets/ serves plain file names only");
        return;
    }
    if (!f->web_dir) {
        udcs_http_reply_error(req, 404, "the dashboard is not built: run make web");
        return;
    }
    send_file(req, f->web_dir, req->subpath);
}

/* ---- the plain status page (no dashboard built) ------------------------------------------- */

static void html_text(struct udcs_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': udcs_buf_append_str(b, "&lt;"); break;
        case '>': udcs_buf_append_str(b, "&gt;"); break;
        case '&': udcs_buf_append_str(b, "&amp;"); break;
        case '"': udcs_buf_append_str(b, "&quot;"); break;
        default: udcs_buf_append(b, s, 1);
        }
    }
}

void farm_status_page(struct udcs_http_req *req)
{
    struct farm *f = req->ctx;
    struct udcs_buf b = UDCS_BUF_INIT(8u << 20);
    udcs_buf_append_str(&b, "<!doctype html><html><head><meta charset=\"utf-8\">"
                            "<meta http-equiv=\"refresh\" content=\"5\"><title>UDCS farm</title>"
                            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                            "collapse}td,th{border:1px solid #999;padding:.2em .6em;text-align:"
                            "left}</style></head><body><h1>UDCS farm</h1>"
                            "<p>A plain status page; the same data is in <a href=\"/api/devices\">"
                            "/api/devices</a>, <a href=\"/api/jobs\">/api/jobs</a> and <a href="
                            "\"/metrics\">/metrics</a>.</p><p>The dashboard is not built: run "
                            "<code>make web</code> (or pass --web-dir).</p><h2>Devices</h2><table><tr><th>id</th>"
                            "<th>name</th><th>architecture</th><th>cores</th><th>RAM GB</th>"
                            "<th>GPUs</th><th>status</th><th>running</th></tr>");
    pthread_mutex_lock(&f->lock);
    for (size_t i = 1; i < f->n_agents; i++) {
        struct agent *a = f->agents[i];
        if (!a)
            continue;
        udcs_buf_appendf(&b, "<tr><td>%lld</td><td>", (long long)a->id);
        html_text(&b, a->name);
        udcs_buf_append_str(&b, "</td><td>");
        html_text(&b, json_string_value(json_object_get(a->info, "architecture")));
        udcs_buf_appendf(&b, "</td><td>%lld</td><td>%.1f</td><td>%zu</td><td>%s</td>"
                             "<td>%d / %d</td></tr>",
                         (long long)json_integer_value(json_object_get(a->info, "cpu_cores")),
                         json_number_value(json_object_get(a->info, "ram_gb")),
                         json_array_size(json_object_get(a->info, "gpus")),
                         farm_agent_state_names[a->state], a->running, a->slots);
    }
    udcs_buf_append_str(&b, "</table><h2>Jobs</h2><table><tr><th>id</th><th>type</th>"
                            "<th>priority</th><th>state</th><th>done</th><th>queued</th>"
                            "<th>running</th><th>failed</th><th>cache hits</th></tr>");
    size_t shown = 0;
    for (size_t i = f->n_jobs; i-- > 1 && shown < 200;) {
        struct job *j = f->jobs[i];
        if (!j)
            continue;
        shown++;
        udcs_buf_appendf(&b, "<tr><td><a href=\"/api/jobs/%lld\">%lld</a></td><td>",
                         (long long)j->id, (long long)j->id);
        html_text(&b, j->type);
        udcs_buf_appendf(&b, "</td><td>%d</td><td>%s</td><td>%zu / %zu</td><td>%zu</td>"
                             "<td>%zu</td><td>%zu</td><td>%zu</td></tr>", j->priority,
                         farm_job_state_names[j->state], j->counts[UNIT_DONE], j->n_units,
                         j->counts[UNIT_QUEUED] + j->counts[UNIT_WAITING],
                         j->counts[UNIT_LEASED], j->counts[UNIT_FAILED], j->cache_hits);
    }
    pthread_mutex_unlock(&f->lock);
    udcs_buf_append_str(&b, "</table></body></html>\n");
    udcs_http_reply(req, 200, "text/html; charset=utf-8", b.data, b.len);
    udcs_buf_release(&b);
}


int farm_api_mount_web(struct farm *f, struct udcs_http_server *srv)
{
    const struct udcs_http_route routes[] = {
        /* The page and its code hold no farm data: a browser loads them without a
         * token even under --auth-reads (the page then sends it on its API calls). The
         * plain status page shows data, so it is guarded like any read. */
        { .method = "GET", .path = "/assets/", .auth = UDCS_HTTP_AUTH_NONE, .handle = do_asset,
          .ctx = f },
        { .method = "GET", .path = "/", .auth = f->web_dir ? UDCS_HTTP_AUTH_NONE
                                                           : UDCS_HTTP_AUTH_READ,
          .handle = do_index, .ctx = f },
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = udcs_http_server_add_route(srv, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
