/* cas/cli_tree.c - `udcs-cas put -r DIR` and `udcs-cas get --tree DIGEST -o DIR`: walking
 * a directory into a tree manifest (cas/tree.c) and restoring one. Restoring trusts only
 * what cas_tree_parse() accepted: contained paths, nothing below a symlink. */
#include "cas/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
    struct cas *c;
    struct cas_tree tree;
    int verbose;
    uint64_t files, bytes;
    int status;
};

static void walk_failed(struct walk *w, const char *what, const char *path, int rc)
{
    udcs_log_error("put: %s %s: %s", what, path, udcs_strerror(rc));
    w->status = CLI_EXIT_FAILED;
}

/* Store one entry found at `path` (`rel` inside the tree). */
static void walk_entry(struct walk *w, const char *path, const char *rel);

static void walk_dir(struct walk *w, const char *abs, const char *rel)
{
    DIR *dir = opendir(abs);
    if (!dir) {
        walk_failed(w, "cannot read directory", abs, -errno);
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
            walk_failed(w, "path too long under", abs, -ENAMETOOLONG);
            break;
        }
        walk_entry(w, path, sub);
    }
    closedir(dir);
}

static void walk_entry(struct walk *w, const char *path, const char *rel)
{
    struct stat st;
    int rc = 0;
    if (lstat(path, &st) < 0) {
        walk_failed(w, "cannot stat", path, -errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = cas_tree_add(&w->tree, CAS_TREE_DIR, rel, NULL, 0, NULL);
        if (rc == 0)
            walk_dir(w, path, rel);
    } else if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
            walk_failed(w, "cannot read link", path, -errno);
            return;
        }
        target[n] = '\0';
        rc = cas_tree_add(&w->tree, CAS_TREE_SYMLINK, rel, NULL, 0, target);
    } else if (S_ISREG(st.st_mode)) {
        struct cas_digest d;
        rc = cas_put_file(w->c, path, &d);
        if (rc < 0) {
            walk_failed(w, "cannot store", path, rc);
            return;
        }
        rc = cas_tree_add(&w->tree, CAS_TREE_FILE, rel, &d, st.st_mode & 0777, NULL);
        w->files++;
        w->bytes += d.size;
        if (w->verbose) {
            char hex[CAS_HEX_LEN + 1];
            printf("%s %llu %s\n", cas_digest_hex(&d, hex), (unsigned long long)d.size, path);
        }
    } else {
        udcs_log_warn("put: skipping %s: not a file, directory or symlink", path);
    }
    if (rc < 0)
        walk_failed(w, "cannot record", path, rc);
}

int cli_cmd_put_tree(struct cli *cli, struct cas *c, const char *dir, const char *manifest_out,
                     int verbose)
{
    (void)cli;
    struct walk w = { .c = c, .verbose = verbose };
    walk_dir(&w, dir, "");
    struct udcs_buf text = UDCS_BUF_INIT(CAS_TREE_MAX_BYTES);
    struct cas_digest d;
    int rc = 0;
    if (w.status == CLI_EXIT_OK) {
        rc = cas_tree_to_json(&w.tree, &text);
        if (rc == 0)
            rc = cas_put_bytes(c, text.data, text.len, &d);
        if (rc == 0 && manifest_out)
            rc = udcs_write_atomic(manifest_out, text.data, text.len, 0644);
        if (rc < 0) {
            udcs_log_error("put: storing the manifest of %s: %s", dir, udcs_strerror(rc));
            w.status = CLI_EXIT_FAILED;
        }
    }
    udcs_buf_release(&text);
    cas_tree_release(&w.tree);
    if (w.status != CLI_EXIT_OK)
        return w.status;
    char hex[CAS_HEX_LEN + 1], size[32];
    printf("%s %llu %s/ (tree: %llu files, %s)\n", cas_digest_hex(&d, hex),
           (unsigned long long)d.size, dir, (unsigned long long)w.files,
           udcs_size_format(w.bytes, size, sizeof(size)));
    return CLI_EXIT_OK;
}

int cli_cmd_get_tree(struct cli *cli, struct cas *c, const char *digest, const char *out_dir)
{
    (void)cli;
    struct cas_digest d;
    cas_digest_parse(digest, &d, NULL);
    struct udcs_buf text = UDCS_BUF_INIT(CAS_TREE_MAX_BYTES);
    int rc = cas_get_bytes(c, &d, &text);
    if (rc < 0) {
        udcs_buf_release(&text);
        char what[128];
        snprintf(what, sizeof(what), "get --tree %s", digest);
        return cli_fail(c, rc, what);
    }
    struct cas_tree tree;
    char why[512];
    rc = cas_tree_parse(text.data, text.len, &tree, why, sizeof(why));
    udcs_buf_release(&text);
    if (rc < 0) {
        udcs_log_error("get --tree %s: that blob is not a usable tree manifest: %s; nothing "
                       "was restored", digest, why);
        return CLI_EXIT_FAILED;
    }
    size_t files = 0;
    for (size_t i = 0; i < tree.count; i++)
        files += tree.entries[i].kind == CAS_TREE_FILE;
    rc = cas_tree_restore(c, &tree, out_dir, why, sizeof(why));
    int status = CLI_EXIT_OK;
    if (rc < 0) {
        char what[sizeof(why) + 64];
        snprintf(what, sizeof(what), "get --tree %s: %s", digest, why);
        status = cli_fail(c, rc, what);
    }
    cas_tree_release(&tree);
    if (status == CLI_EXIT_OK)
        printf("restored %zu files into %s\n", files, out_dir);
    return status;
}
