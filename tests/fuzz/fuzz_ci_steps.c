/* tests/fuzz/fuzz_ci_steps.c - ci_steps_parse on arbitrary bytes: the steps file
 * (.udcs-ci.json) `udcs ci affected` reads from the checkout, whose step records are also
 * what the step log and cache files carry. An accepted file must give steps that are safe
 * to use (valid names, each used once; inputs "" or contained; outputs contained; env
 * names without '='), and each step must survive a round trip through its JSON form. */
#include "ci/ci_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

static void check_round_trip(const struct ci_step *s)
{
    json_t *j = ci_step_to_json(s);
    FUZZ_CHECK(j != NULL, "step %s did not serialize", s->name);
    struct ci_step back;
    char why[256] = "";
    FUZZ_CHECK(ci_step_from_json(j, &back, why, sizeof(why)) == 0,
               "the JSON form of step %s was refused: %s", s->name, why);
    FUZZ_CHECK(strcmp(back.name, s->name) == 0 && back.n_inputs == s->n_inputs &&
                   back.n_outputs == s->n_outputs && back.n_env == s->n_env &&
                   back.argc == s->argc && back.n_toolchains == s->n_toolchains,
               "step %s changed in a round trip", s->name);
    ci_step_release(&back);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ci_step *steps = NULL;
    char why[512] = "";
    int n = ci_steps_parse(data, size, &steps, why, sizeof(why));
    if (n < 0) {
        FUZZ_CHECK(n == UDCS_EPROTO || n == -ENOMEM, "unexpected code %d", n);
        FUZZ_CHECK(why[0] != '\0', "refused without saying why");
        FUZZ_CHECK(steps == NULL, "a refused file left steps");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const struct ci_step *s = &steps[i];
        FUZZ_CHECK(ci_step_name_ok(s->name), "accepted the name '%s'", s->name);
        for (int k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(steps[k].name, s->name) != 0, "'%s' accepted twice", s->name);
        for (size_t k = 0; k < s->n_inputs; k++)
            FUZZ_CHECK(s->inputs[k][0] == '\0' || udcs_path_is_contained(s->inputs[k]),
                       "accepted the input '%s'", s->inputs[k]);
        for (size_t k = 0; k < s->n_outputs; k++)
            FUZZ_CHECK(udcs_path_is_contained(s->outputs[k]), "accepted the output '%s'",
                       s->outputs[k]);
        for (size_t k = 0; k < s->n_env; k++)
            FUZZ_CHECK(s->env[k][0] && !strchr(s->env[k], '='), "accepted the variable '%s'",
                       s->env[k]);
        FUZZ_CHECK(s->argv && s->argv[s->argc] == NULL, "argv of %s is not terminated",
                   s->name);
        check_round_trip(s);
    }
    for (int i = 0; i < n; i++)
        ci_step_release(&steps[i]);
    free(steps);
    return 0;
}
