/* tests/fuzz/fuzz_action_result.c - cas_action_result_from_json on arbitrary bytes, the
 * action-cache record a CAS server or a damaged store hands us. An accepted record must
 * name only relative output paths without ".." components, and its canonical form must be
 * stable: to_json, from_json, to_json gives the same bytes and the same record. */
#include "cas/cas.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

/* Canonical output is bounded by the input (at most a few escapes more per byte); this is
 * far above what an input of libFuzzer's lengths can produce. */
#define FUZZ_JSON_OUT_MAX_BYTES (16u * 1024 * 1024)

/* The rule from cas.h, written out again: not absolute, not empty, no ".." component. */
static int path_is_relative_and_inside(const char *p)
{
    if (p[0] == '\0' || p[0] == '/')
        return 0;
    for (const char *c = p;;) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 0;
        if (!end)
            return 1;
        c = end + 1;
    }
}

static int strings_equal(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int records_equal(const struct cas_action_result *a, const struct cas_action_result *b)
{
    if (a->exit_code != b->exit_code || a->n_outputs != b->n_outputs ||
        !cas_digest_equal(&a->stdout_digest, &b->stdout_digest) ||
        !cas_digest_equal(&a->stderr_digest, &b->stderr_digest) ||
        !strings_equal(a->executor, b->executor) || a->duration_ms != b->duration_ms ||
        a->created_ms != b->created_ms)
        return 0;
    for (size_t i = 0; i < a->n_outputs; i++) {
        const struct cas_output *x = &a->outputs[i], *y = &b->outputs[i];
        if (strcmp(x->path, y->path) != 0 || !cas_digest_equal(&x->digest, &y->digest) ||
            !x->executable != !y->executable)
            return 0;
    }
    return 1;
}

static int is_released(const struct cas_action_result *r)
{
    return r->outputs == NULL && r->n_outputs == 0 && r->executor == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cas_action_result r, again;
    char why[256] = "";
    int rc = cas_action_result_from_json(data, size, &r, why, sizeof(why));
    if (rc < 0) {
        FUZZ_CHECK(rc == UDCS_EPROTO || rc == -ENOMEM,
                   "cas_action_result_from_json returned unexpected code %d", rc);
        FUZZ_CHECK(rc != UDCS_EPROTO || why[0] != '\0',
                   "cas_action_result_from_json refused a record without saying why");
        FUZZ_CHECK(is_released(&r), "a refused record was left holding memory");
        return 0;
    }

    FUZZ_CHECK(r.exit_code >= -1 && r.exit_code <= 255, "accepted exit code %d", r.exit_code);
    for (size_t i = 0; i < r.n_outputs; i++)
        FUZZ_CHECK(r.outputs[i].path && path_is_relative_and_inside(r.outputs[i].path),
                   "accepted output path '%s', which is absolute, empty or climbs out",
                   r.outputs[i].path ? r.outputs[i].path : "(null)");

    struct udcs_buf first = UDCS_BUF_INIT(FUZZ_JSON_OUT_MAX_BYTES);
    struct udcs_buf second = UDCS_BUF_INIT(FUZZ_JSON_OUT_MAX_BYTES);
    rc = cas_action_result_to_json(&r, &first);
    FUZZ_CHECK(rc == 0, "an accepted record cannot be written back: %d", rc);

    why[0] = '\0';
    rc = cas_action_result_from_json(first.data, first.len, &again, why, sizeof(why));
    FUZZ_CHECK(rc == 0, "the canonical form of an accepted record is refused (%s): %s", why,
               first.data);
    FUZZ_CHECK(records_equal(&r, &again), "the canonical form reads back as another record: %s",
               first.data);
    rc = cas_action_result_to_json(&again, &second);
    FUZZ_CHECK(rc == 0, "a re-read record cannot be written back: %d", rc);
    FUZZ_CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
               "the canonical form is not stable:\n  first:  %s\n  second: %s", first.data,
               second.data);

    udcs_buf_release(&first);
    udcs_buf_release(&second);
    cas_action_result_release(&again);
    cas_action_result_release(&r);
    FUZZ_CHECK(is_released(&r), "cas_action_result_release left the record holding memory");
    return 0;
}
