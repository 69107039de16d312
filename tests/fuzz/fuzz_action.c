/* tests/fuzz/fuzz_action.c - cas_action_from_json on arbitrary bytes: the action an agent
 * receives. Accepted actions are safe to run (a program, contained paths) and their
 * canonical form is stable, so one action has one digest. */
#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cas_action a, b;
    char why[512] = "";
    if (cas_action_from_json(data, size, &a, why, sizeof(why)) < 0) {
        FUZZ_CHECK(why[0], "refused without a reason");
        return 0;
    }
    FUZZ_CHECK(a.argc > 0 && a.argv[a.argc] == NULL, "argv not terminated");
    FUZZ_CHECK(!a.cwd || udcs_path_is_contained(a.cwd), "unsafe cwd accepted");
    FUZZ_CHECK(!a.stdin_path || udcs_path_is_contained(a.stdin_path), "unsafe stdin accepted");
    for (size_t i = 0; i < a.n_outputs; i++)
        FUZZ_CHECK(udcs_path_is_contained(a.outputs[i]), "unsafe output accepted");
    for (size_t i = 0; i < a.n_env; i++)
        FUZZ_CHECK(strchr(a.env[i], '=') && a.env[i][0] != '=', "bad environment entry");
    struct udcs_buf x = UDCS_BUF_INIT(4u << 20), y = UDCS_BUF_INIT(4u << 20);
    struct cas_digest d1, d2;
    FUZZ_CHECK(cas_action_to_json(&a, &x) == 0, "an accepted action did not serialize");
    FUZZ_CHECK(cas_action_from_json(x.data, x.len, &b, why, sizeof(why)) == 0,
               "the canonical form was refused: %s", why);
    FUZZ_CHECK(cas_action_to_json(&b, &y) == 0 && x.len == y.len &&
                   memcmp(x.data, y.data, x.len) == 0, "the canonical form is not stable");
    FUZZ_CHECK(cas_action_digest(&a, &d1) == 0 && cas_action_digest(&b, &d2) == 0 &&
                   cas_digest_equal(&d1, &d2), "one action, two digests");
    cas_action_release(&a);
    cas_action_release(&b);
    udcs_buf_release(&x);
    udcs_buf_release(&y);
    return 0;
}
