/* cas/cli_tree.c - `udcs-cas put -r DIR` and `udcs-cas get --tree DIGEST -o DIR`.
 *
 * A tree is stored as its files' blobs plus one manifest blob, canonical JSON:
 *   {"entries":[{"digest":"HEX/SIZE","mode":420,"path":"a/b.h"},
 *               {"path":"lib","type":"dir"}, {"path":"l","symlink":"target"}],
 *    "udcs_tree":1}
 * sorted by path, so the same tree always has the same digest. Restoring refuses paths
 * that are absolute, climb out with "..", or pass through a symlink of the tree. */
#include "cas/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_FORMAT 1
/* Largest manifest read back: a million entries of typical length. */
#define TREE_MANIFEST_MAX (256u * 1024 * 1024)

struct walk {
    struct cas *c;
    json_t *entries;
    int verbose;
    uint64_t files, bytes;
    int status;
};

static json_t *digest_text(const struct cas_digest *d)
{
    char hex[CAS_HEX_LEN + 1], text[CAS_HEX_LEN + 32];
    snprintf(text, sizeof(text), "%s/%llu", cas_digest_hex(d, hex), (unsigned long long)d->size);
    return json_string(text);
}

/* Store everything under `abs` (whose path relative to the tree root is `rel`). */
static void walk_dir(struct walk *w, const char *abs, const char *rel)
{
    DIR *dir = opendir(abs);
    if (!dir) {
        udcs_log_error("put: cannot read directory %s: %s", abs, strerror(errno));
        w->status = CLI_EXIT_FAILED;
        return;
    }
    struct dirent *e;
    while (w->status == CLI_EXIT_OK && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX], sub[PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", abs, e->d_name) >= sizeof(path) ||
            (size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
                sizeof(sub)) {
            udcs_log_error("put: path too long under %s", abs);
            w->status = CLI_EXIT_FAILED;
            break;
        }
        struct stat st;
        if (lstat(path, &st) < 0) {
            udcs_log_error("put: cannot stat %s: %s", path, strerror(errno));
            w->status = CLI_EXIT_FAILED;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            json_array_append_new(w->entries, json_pack("{s:s, s:s}", "path", sub, "type", "dir"));
            walk_dir(w, path, sub);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(path, target, sizeof(target) - 1);
            if (n < 0) {
                udcs_log_error("put: cannot read link %s: %s", path, strerror(errno));
                w->status = CLI_EXIT_FAILED;
                break;
            }
            target[n] = '\0';
            json_array_append_new(w->entries,
                                  json_pack("{s:s, s:s}", "path", sub, "symlink", target));
        } else if (S_ISREG(st.st_mode)) {
            struct cas_digest d;
            int rc = cas_put_file(w->c, path, &d);
            if (rc < 0) {
                udcs_log_error("put %s: %s", path, udcs_strerror(rc));
                w->status = CLI_EXIT_FAILED;
                break;
            }
            json_array_append_new(w->entries,
                                  json_pack("{s:s, s:o, s:i}", "path", sub, "digest",
                                            digest_text(&d), "mode", (int)(st.st_mode & 0777)));
            w->files++;
            w->bytes += d.size;
            if (w->verbose) {
                char hex[CAS_HEX_LEN + 1];
                printf("%s %llu %s\n", cas_digest_hex(&d, hex), (unsigned long long)d.size, path);
            }
        } else {
            udcs_log_warn("put: skipping %s: not a file, directory or symlink", path);
        }
    }
    closedir(dir);
}

static int by_path(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "path")),
                  json_string_value(json_object_get(y, "path")));
}

/* Sort the entries by path so equal trees give equal manifests. */
static void sort_entries(json_t *entries)
{
    size_t n = json_array_size(entries);
    json_t **v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(entries, i));
    qsort(v, n, sizeof(*v), by_path);
    json_array_clear(entries);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(entries, v[i]);
    free(v);
}

int cli_cmd_put_tree(struct cli *cli, struct cas *c, const char *dir, const char *manifest_out,
                     int verbose)
{
    (void)cli;
    struct walk w = { .c = c, .entries = json_array(), .verbose = verbose };
    if (!w.entries)
        return CLI_EXIT_FAILED;
    walk_dir(&w, dir, "");
    if (w.status != CLI_EXIT_OK) {
        json_decref(w.entries);
        return w.status;
    }
    sort_entries(w.entries);
    json_t *manifest = json_pack("{s:i, s:o}", "udcs_tree", TREE_FORMAT, "entries", w.entries);
    struct udcs_buf text = UDCS_BUF_INIT(TREE_MANIFEST_MAX);
    int rc = manifest ? udcs_json_dump_canonical(manifest, &text) : -ENOMEM;
    json_decref(manifest);
    struct cas_digest d;
    if (rc == 0)
        rc = cas_put_bytes(c, text.data, text.len, &d);
    if (rc == 0 && manifest_out)
        rc = udcs_write_atomic(manifest_out, text.data, text.len, 0644);
    udcs_buf_release(&text);
    if (rc < 0) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof(what), "storing the manifest of %s", dir);
        return cli_fail(c, rc, what);
    }
    char hex[CAS_HEX_LEN + 1], size[32];
    printf("%s %llu %s/ (tree: %llu files, %s)\n", cas_digest_hex(&d, hex),
           (unsigned long long)d.size, dir, (unsigned long long)w.files,
           udcs_size_format(w.bytes, size, sizeof(size)));
    return CLI_EXIT_OK;
}

/* ---- restoring -------------------------------------------------------------------------- */

static int path_is_safe(const char *p)
{
    if (!*p || *p == '/')
        return 0;
    for (const char *s = p; s; s = strchr(s, '/')) {
        if (*s == '/')
            s++;
        if ((strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0')) || *s == '/' || !*s)
            return 0;
    }
    return 1;
}

/* Whether some ancestor of `path` is one of the tree's symlinks (entries are sorted). */
static int under_symlink(json_t *symlinks, const char *path)
{
    size_t i;
    json_t *s;
    json_array_foreach(symlinks, i, s) {
        const char *l = json_string_value(s);
        size_t n = strlen(l);
        if (strncmp(path, l, n) == 0 && path[n] == '/')
            return 1;
    }
    return 0;
}

static int restore_entry(struct cas *c, const char *out_dir, json_t *e, json_t *symlinks)
{
    const char *path = json_string_value(json_object_get(e, "path"));
    if (!path || !path_is_safe(path) || under_symlink(symlinks, path)) {
        udcs_log_error("get: the tree names an unsafe path '%s' (absolute, '..', or below "
                       "a symlink); nothing more is restored", path ? path : "(none)");
        return CLI_EXIT_FAILED;
    }
    char full[PATH_MAX];
    if ((size_t)snprintf(full, sizeof(full), "%s/%s", out_dir, path) >= sizeof(full)) {
        udcs_log_error("get: path too long: %s/%s", out_dir, path);
        return CLI_EXIT_FAILED;
    }
    char *slash = strrchr(full, '/');
    *slash = '\0';
    int rc = udcs_mkdir_p(full, 0755);
    *slash = '/';
    if (rc < 0) {
        udcs_log_error("get: cannot create the directory of %s: %s", full, udcs_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *target = json_string_value(json_object_get(e, "symlink"));
    const char *digest = json_string_value(json_object_get(e, "digest"));
    if (type && strcmp(type, "dir") == 0) {
        rc = udcs_mkdir_p(full, 0755);
    } else if (target) {
        json_array_append_new(symlinks, json_string(path));
        unlink(full);
        rc = symlink(target, full) < 0 ? -errno : 0;
    } else if (digest) {
        struct cas_digest d;
        json_t *mode = json_object_get(e, "mode");
        if (cas_digest_parse(digest, &d, NULL) < 0 || !json_is_integer(mode)) {
            udcs_log_error("get: the tree's entry for %s is malformed", path);
            return CLI_EXIT_FAILED;
        }
        rc = cas_get_to_file(c, &d, full, (mode_t)(json_integer_value(mode) & 0777));
        if (rc < 0) {
            char what[PATH_MAX + 80];
            snprintf(what, sizeof(what), "get %s (%s)", digest, path);
            return cli_fail(c, rc, what);
        }
    } else {
        udcs_log_error("get: the tree's entry for %s is neither file, dir nor symlink", path);
        return CLI_EXIT_FAILED;
    }
    if (rc < 0) {
        udcs_log_error("get: cannot create %s: %s", full, udcs_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int cli_cmd_get_tree(struct cli *cli, struct cas *c, const char *digest, const char *out_dir)
{
    (void)cli;
    struct cas_digest d;
    cas_digest_parse(digest, &d, NULL);
    struct udcs_buf text = UDCS_BUF_INIT(TREE_MANIFEST_MAX);
    int rc = cas_get_bytes(c, &d, &text);
    if (rc < 0) {
        udcs_buf_release(&text);
        char what[128];
        snprintf(what, sizeof(what), "get --tree %s", digest);
        return cli_fail(c, rc, what);
    }
    json_t *m = NULL;
    char why[256];
    rc = udcs_json_parse(text.data, text.len, &m, why, sizeof(why));
    udcs_buf_release(&text);
    json_t *entries = rc == 0 ? json_object_get(m, "entries") : NULL;
    if (rc < 0 || !json_is_integer(json_object_get(m, "udcs_tree")) || !json_is_array(entries)) {
        udcs_log_error("get --tree %s: that blob is not a tree manifest%s%s", digest,
                       rc < 0 ? ": " : "", rc < 0 ? why : "");
        json_decref(m);
        return CLI_EXIT_FAILED;
    }
    rc = udcs_mkdir_p(out_dir, 0755);
    if (rc < 0) {
        udcs_log_error("get --tree: cannot create %s: %s", out_dir, udcs_strerror(rc));
        json_decref(m);
        return CLI_EXIT_FAILED;
    }
    json_t *symlinks = json_array();
    int status = CLI_EXIT_OK;
    size_t i, files = 0;
    json_t *e;
    json_array_foreach(entries, i, e) {
        status = restore_entry(c, out_dir, e, symlinks);
        if (status != CLI_EXIT_OK)
            break;
        files += json_object_get(e, "digest") != NULL;
    }
    json_decref(symlinks);
    json_decref(m);
    if (status == CLI_EXIT_OK)
        printf("restored %zu files into %s\n", files, out_dir);
    return status;
}
