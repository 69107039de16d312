/* tests/fuzz/fuzz_tree_manifest.c - cas_tree_parse on arbitrary bytes: the manifest that
 * `udcs-cas get --tree` restores, which may come from any remote. An accepted manifest
 * must be safe to restore (every path relative, without "." or ".." or empty components,
 * listed once, nothing below a symlink or a file) and its canonical form must be stable. */
#include "cas/cas.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

#define FUZZ_TREE_OUT_MAX_BYTES (16u * 1024 * 1024)

/* The restore rule, written out again independently of the parser. */
static int component_ok(const char *c, size_t n)
{
    return n > 0 && !(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.');
}

static int path_ok(const char *p)
{
    if (p[0] == '/')
        return 0;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!component_ok(p, n))
            return 0;
        if (!end)
            return 1;
        p = end + 1;
    }
}

static void check_tree(const struct cas_tree *t)
{
    for (size_t i = 0; i < t->count; i++) {
        const struct cas_tree_entry *e = &t->entries[i];
        FUZZ_CHECK(path_ok(e->path), "accepted an unsafe path '%s'", e->path);
        FUZZ_CHECK(e->kind != CAS_TREE_SYMLINK || (e->target && *e->target),
                   "symlink '%s' without a target", e->path);
        FUZZ_CHECK(e->mode <= 0777, "mode %o out of range", e->mode);
        for (size_t j = 0; j < t->count; j++) {
            const struct cas_tree_entry *o = &t->entries[j];
            size_t n = strlen(o->path);
            FUZZ_CHECK(i == j || strcmp(e->path, o->path) != 0, "'%s' listed twice", e->path);
            FUZZ_CHECK(o->kind == CAS_TREE_DIR || strncmp(e->path, o->path, n) != 0 ||
                           e->path[n] != '/',
                       "'%s' lies below the non-directory '%s'", e->path, o->path);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cas_tree t, back;
    char why[512] = "";
    int rc = cas_tree_parse(data, size, &t, why, sizeof(why));
    if (rc < 0) {
        FUZZ_CHECK(rc == UDCS_EPROTO || rc == -ENOMEM, "unexpected code %d", rc);
        FUZZ_CHECK(why[0] != '\0', "refused without saying why");
        FUZZ_CHECK(t.count == 0 && t.entries == NULL, "a refused manifest left entries");
        return 0;
    }
    check_tree(&t);

    struct udcs_buf a = UDCS_BUF_INIT(FUZZ_TREE_OUT_MAX_BYTES);
    struct udcs_buf b = UDCS_BUF_INIT(FUZZ_TREE_OUT_MAX_BYTES);
    FUZZ_CHECK(cas_tree_to_json(&t, &a) == 0, "an accepted manifest did not serialize");
    rc = cas_tree_parse(a.data, a.len, &back, why, sizeof(why));
    FUZZ_CHECK(rc == 0, "the canonical form was refused: %s", why);
    FUZZ_CHECK(back.count == t.count, "entry count changed");
    FUZZ_CHECK(cas_tree_to_json(&back, &b) == 0, "second serialization failed");
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
               "the canonical form is not stable");
    cas_tree_release(&t);
    cas_tree_release(&back);
    udcs_buf_release(&a);
    udcs_buf_release(&b);
    return 0;
}
