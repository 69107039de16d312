/* cas/tree.c - directory trees as manifests: building one, its canonical JSON, and
 * parsing one back with every check a restore relies on, and restoring a parsed tree
 * into a directory (udcs-cas get --tree, and the agent's unit directories). Walking a
 * directory is left to the callers. */
#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TREE_FORMAT 1

int cas_tree_add(struct cas_tree *t, enum cas_tree_kind kind, const char *path,
                 const struct cas_digest *d, unsigned mode, const char *target)
{
    struct cas_tree_entry *n = realloc(t->entries, (t->count + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    t->entries = n;
    struct cas_tree_entry *e = &t->entries[t->count];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->mode = mode & 0777;
    if (d)
        e->digest = *d;
    e->path = strdup(path);
    e->target = target ? strdup(target) : NULL;
    if (!e->path || (target && !e->target)) {
        free(e->path);
        free(e->target);
        return -ENOMEM;
    }
    t->count++;
    return 0;
}

void cas_tree_release(struct cas_tree *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->entries[i].path);
        free(t->entries[i].target);
    }
    free(t->entries);
    t->entries = NULL;
    t->count = 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct cas_tree_entry *)a)->path,
                  ((const struct cas_tree_entry *)b)->path);
}

static void sort_entries(struct cas_tree *t)
{
    if (t->count > 1)   /* qsort() must not see the NULL array of an empty tree */
        qsort(t->entries, t->count, sizeof(*t->entries), by_path);
}

static json_t *entry_json(const struct cas_tree_entry *e)
{
    char hex[CAS_HEX_LEN + 1], digest[CAS_HEX_LEN + 32];
    switch (e->kind) {
    case CAS_TREE_DIR:
        return json_pack("{s:s, s:s}", "path", e->path, "type", "dir");
    case CAS_TREE_SYMLINK:
        return json_pack("{s:s, s:s}", "path", e->path, "symlink", e->target);
    case CAS_TREE_FILE:
        break;
    }
    snprintf(digest, sizeof(digest), "%s/%llu", cas_digest_hex(&e->digest, hex),
             (unsigned long long)e->digest.size);
    return json_pack("{s:s, s:s, s:i}", "path", e->path, "digest", digest, "mode",
                     (int)e->mode);
}

int cas_tree_to_json(struct cas_tree *t, struct udcs_buf *out)
{
    sort_entries(t);
    json_t *entries = json_array();
    for (size_t i = 0; entries && i < t->count; i++) {
        if (json_array_append_new(entries, entry_json(&t->entries[i])) < 0) {
            json_decref(entries);
            entries = NULL;
        }
    }
    json_t *m = entries ? json_pack("{s:i, s:o}", "udcs_tree", TREE_FORMAT, "entries", entries)
                        : NULL;
    int rc = m ? udcs_json_dump_canonical(m, out) : -ENOMEM;
    json_decref(m);
    return rc;
}

static int bad(char *why, size_t why_len, const char *fmt, const char *arg)
{
    snprintf(why, why_len, fmt, arg);
    return UDCS_EPROTO;
}

static int parse_entry(json_t *e, struct cas_tree *t, char *why, size_t why_len)
{
    const char *path = json_string_value(json_object_get(e, "path"));
    if (!json_is_object(e) || !path)
        return bad(why, why_len, "%san entry without a 'path' string", "");
    if (!udcs_path_is_contained(path))
        return bad(why, why_len, "path '%s' is absolute, climbs out with '..' or has an "
                   "empty or '.' component", path);
    json_t *type = json_object_get(e, "type"), *link = json_object_get(e, "symlink"),
           *digest = json_object_get(e, "digest"), *mode = json_object_get(e, "mode");
    int kinds = (type != NULL) + (link != NULL) + (digest != NULL);
    if (kinds != 1)
        return bad(why, why_len, "entry '%s' must have exactly one of 'type', 'symlink' "
                   "and 'digest'", path);
    int rc;
    if (type) {
        if (!json_is_string(type) || strcmp(json_string_value(type), "dir") != 0)
            return bad(why, why_len, "entry '%s' has a type other than \"dir\"", path);
        rc = cas_tree_add(t, CAS_TREE_DIR, path, NULL, 0, NULL);
    } else if (link) {
        const char *target = json_string_value(link);
        if (!target || !*target)
            return bad(why, why_len, "symlink '%s' has no target text", path);
        rc = cas_tree_add(t, CAS_TREE_SYMLINK, path, NULL, 0, target);
    } else {
        struct cas_digest d;
        int sized;
        if (!json_is_string(digest) ||
            cas_digest_parse(json_string_value(digest), &d, &sized) < 0 || !sized)
            return bad(why, why_len, "file '%s' has no digest written HEX/SIZE", path);
        if (!json_is_integer(mode) || json_integer_value(mode) < 0 ||
            json_integer_value(mode) > 0777)
            return bad(why, why_len, "file '%s' has no mode between 0 and 0777", path);
        rc = cas_tree_add(t, CAS_TREE_FILE, path, &d, (unsigned)json_integer_value(mode), NULL);
    }
    if (rc < 0)
        snprintf(why, why_len, "out of memory");
    return rc;
}

/* No path twice, and nothing below a symlink or a file: every ancestor of every path
 * is looked up among the (sorted) entries. */
static int check_entries(struct cas_tree *t, char *why, size_t why_len)
{
    sort_entries(t);
    for (size_t i = 0; i + 1 < t->count; i++)
        if (strcmp(t->entries[i].path, t->entries[i + 1].path) == 0)
            return bad(why, why_len, "path '%s' is listed twice", t->entries[i].path);
    int rc = 0;
    for (size_t i = 0; i < t->count && rc == 0; i++) {
        /* A copy to cut at each slash: the entries must stay intact for the search. */
        char *ancestor = strdup(t->entries[i].path);
        if (!ancestor)
            return -ENOMEM;
        for (char *slash = strchr(ancestor, '/'); slash && rc == 0;
             slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            struct cas_tree_entry key = { .path = ancestor };
            struct cas_tree_entry *anc = bsearch(&key, t->entries, t->count,
                                                 sizeof(*t->entries), by_path);
            *slash = '/';
            if (anc && anc->kind != CAS_TREE_DIR)
                rc = bad(why, why_len, "path '%s' lies below a symlink or a file of the tree",
                         t->entries[i].path);
        }
        free(ancestor);
    }
    return rc;
}

int cas_tree_parse(const void *data, size_t len, struct cas_tree *out, char *why,
                   size_t why_len)
{
    memset(out, 0, sizeof(*out));
    json_t *m;
    int rc = udcs_json_parse(data, len, &m, why, why_len);
    if (rc < 0)
        return rc;
    json_t *format = json_object_get(m, "udcs_tree"), *entries = json_object_get(m, "entries");
    if (!json_is_object(m) || !json_is_integer(format) || !json_is_array(entries)) {
        rc = bad(why, why_len, "%snot a tree manifest (no 'udcs_tree' and 'entries')", "");
    } else if (json_integer_value(format) != TREE_FORMAT) {
        rc = bad(why, why_len, "%stree manifest of an unknown format version", "");
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
            if ((rc = parse_entry(e, out, why, why_len)) < 0)
                break;
        }
        if (rc == 0)
            rc = check_entries(out, why, why_len);
    }
    json_decref(m);
    if (rc < 0)
        cas_tree_release(out);
    return rc;
}

/* ---- restoring ------------------------------------------------------------------------ */

/* Create one entry under `dir`; parents come first because entries are sorted. */
static int restore_entry(struct cas *c, const char *dir, const struct cas_tree_entry *e,
                         char *why, size_t why_len)
{
    char full[PATH_MAX];
    if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, e->path) >= sizeof(full)) {
        snprintf(why, why_len, "path too long: %s/%s", dir, e->path);
        return -ENAMETOOLONG;
    }
    char *slash = strrchr(full, '/');
    *slash = '\0';
    int rc = udcs_mkdir_p(full, 0755);
    *slash = '/';
    if (rc == 0) {
        switch (e->kind) {
        case CAS_TREE_DIR:
            rc = udcs_mkdir_p(full, 0755);
            break;
        case CAS_TREE_SYMLINK:
            if (unlink(full) < 0 && errno != ENOENT)
                rc = -errno;
            else if (symlink(e->target, full) < 0)
                rc = -errno;
            break;
        case CAS_TREE_FILE:
            rc = cas_get_to_file(c, &e->digest, full, e->mode);
            break;
        }
    }
    if (rc < 0) {
        char hex[CAS_HEX_LEN + 1];
        snprintf(why, why_len, "%s%s%s: %s", e->path,
                 e->kind == CAS_TREE_FILE ? " = " : "",
                 e->kind == CAS_TREE_FILE ? cas_digest_hex(&e->digest, hex) : "",
                 rc == -ENOENT && e->kind == CAS_TREE_FILE ? "no such blob" : udcs_strerror(rc));
    }
    return rc;
}

int cas_tree_restore(struct cas *c, const struct cas_tree *t, const char *dir, char *why,
                     size_t why_len)
{
    int rc = udcs_mkdir_p(dir, 0755);
    if (rc < 0) {
        snprintf(why, why_len, "cannot create %s: %s", dir, udcs_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < t->count; i++)
        if ((rc = restore_entry(c, dir, &t->entries[i], why, why_len)) < 0)
            return rc;
    return 0;
}
