/* toolchains/compile_manifest.c - direct mode's memory: for one source text and one set of
 * arguments (the direct key), the include files each earlier compile read, with their
 * digests, and the result that compile stored. A later call hashes those files as they
 * are now; when every one matches an entry, that entry's result is the answer, with no
 * preprocessor run.
 *
 * Stored as a blob of JSON, named by an action-cache record under the direct key, so a
 * farm shares manifests like any other result:
 *   {"udcs_manifest":1,"entries":[{"files":[["a.h","HEX/SIZE"],...],"result":"HEX/SIZE"}]}
 * Newest entry first; at most MANIFEST_MAX_ENTRIES (a header that keeps changing must not
 * grow it without bound). */
#include "toolchains/compile_internal.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANIFEST_VERSION 1
#define MANIFEST_MAX_ENTRIES 32

void cc_file_digests_free(struct cc_file_digest *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        free(f[i].path);
    free(f);
}

/* Digests of the files as they are now, computed once per path for all entries. */
struct seen {
    const char *path;
    struct cas_digest digest;
    int ok;
};

/* The digest of `path` when it still has `expect_size` bytes; 0 when it has not (then it
 * cannot match) or cannot be read. A hit reads every recorded header, so this is the
 * hot path: one read of the expected size plus one byte tells both the size and the
 * bytes, with no fstat and no second read to find the end. O_NONBLOCK keeps a FIFO put
 * where a header was from blocking the call. */
static int digest_if_size(const char *path, uint64_t expect_size, struct cas_digest *out)
{
    if (expect_size > ((uint64_t)1 << 31))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    char small[64 * 1024];
    size_t want = (size_t)expect_size + 1;
    char *buf = want <= sizeof(small) ? small : malloc(want);
    size_t got = 0;
    while (buf && got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int ok = buf && got == expect_size;
    if (ok)
        cas_digest_of_bytes(buf, got, out);
    if (buf != small)
        free(buf);
    return ok;
}

static int current_digest(struct seen **memo, size_t *n, const char *path,
                          const struct cas_digest *want, struct cas_digest *out)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*memo)[i].path, path) == 0) {
            *out = (*memo)[i].digest;
            return (*memo)[i].ok;
        }
    }
    struct seen *m = realloc(*memo, (*n + 1) * sizeof(*m));
    if (!m)
        return 0;
    *memo = m;
    m[*n].path = path;
    memset(&m[*n].digest, 0, sizeof(m[*n].digest));
    m[*n].ok = digest_if_size(path, want->size, &m[*n].digest);
    *out = m[*n].digest;
    return m[(*n)++].ok;
}

int cc_manifest_lookup(const struct udcs_buf *manifest,
                       struct cas_digest *result)
{
    json_error_t jerr;
    json_t *root = json_loadb(manifest->data ? manifest->data : "", manifest->len, 0, &jerr);
    if (!root || json_integer_value(json_object_get(root, "udcs_manifest")) != MANIFEST_VERSION) {
        udcs_log_debug("compile: manifest unreadable (%s); ignoring it", root ? "version" : jerr.text);
        json_decref(root);
        return 0;
    }
    struct seen *memo = NULL;
    size_t n_memo = 0;
    int found = 0;
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(root, "entries"), i, entry) {
        const char *res = json_string_value(json_object_get(entry, "result"));
        json_t *files = json_object_get(entry, "files");
        if (!res || !json_is_array(files) || cas_digest_parse(res, result, NULL) < 0)
            continue;
        int match = 1;
        size_t k;
        json_t *f;
        json_array_foreach(files, k, f) {
            const char *path = json_string_value(json_array_get(f, 0));
            const char *dig = json_string_value(json_array_get(f, 1));
            struct cas_digest want, now;
            if (!path || !dig || cas_digest_parse(dig, &want, NULL) < 0 ||
                !current_digest(&memo, &n_memo, path, &want, &now) || !cas_digest_equal(&want, &now)) {
                match = 0;
                break;
            }
        }
        if (match) {
            found = 1;
            break;
        }
    }
    free(memo);
    json_decref(root);
    return found;
}

static json_t *entry_json(const struct cc_file_digest *files, size_t n,
                          const struct cas_digest *result)
{
    char hex[CAS_HEX_LEN + 1], text[CAS_HEX_LEN + 32];
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        snprintf(text, sizeof(text), "%s/%llu", cas_digest_hex(&files[i].digest, hex),
                 (unsigned long long)files[i].digest.size);
        json_array_append_new(list, json_pack("[ss]", files[i].path, text));
    }
    snprintf(text, sizeof(text), "%s/%llu", cas_digest_hex(result, hex),
             (unsigned long long)result->size);
    return json_pack("{s:o, s:s}", "files", list, "result", text);
}

int cc_manifest_add(const struct udcs_buf *old, const struct cc_file_digest *files, size_t n,
                    const struct cas_digest *result, struct udcs_buf *out)
{
    json_t *entries = json_array();
    json_t *fresh = entry_json(files, n, result);
    if (!entries || !fresh || json_array_append_new(entries, fresh) < 0) {
        json_decref(entries);
        return -ENOMEM;
    }
    json_t *prev = old && old->len ? json_loadb(old->data, old->len, 0, NULL) : NULL;
    if (prev && json_integer_value(json_object_get(prev, "udcs_manifest")) == MANIFEST_VERSION) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(prev, "entries"), i, e) {
            if (json_array_size(entries) >= MANIFEST_MAX_ENTRIES)
                break;
            if (!json_equal(e, fresh))
                json_array_append(entries, e);
        }
    }
    json_decref(prev);
    json_t *root = json_pack("{s:i, s:o}", "udcs_manifest", MANIFEST_VERSION, "entries", entries);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    int rc = text ? udcs_buf_append_str(out, text) : -ENOMEM;
    free(text);
    return rc;
}
