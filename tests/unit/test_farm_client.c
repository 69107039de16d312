/* tests/unit/test_farm_client.c - what the programs that submit jobs work out for their
 * user on their own (farm/client.h): the ETA of the progress bar. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "farm/client.h"

static void eta_is_unknown_until_a_unit_has_run(void **state)
{
    (void)state;
    assert_true(client_eta_s(3.0, 0, 0, 10) < 0);
    assert_true(client_eta_s(3.0, 6, 6, 10) < 0);    /* six from the cache, none run yet */
}

static void eta_takes_its_rate_from_units_that_ran_not_cached_ones(void **state)
{
    (void)state;
    /* 8 of 10 units in 20 s: 6 from the cache at once, 2 rendered at 10 s each; the 2 left
     * take 20 s more (counting the cached ones in the rate would say 5 s) */
    assert_float_equal(client_eta_s(20.0, 8, 6, 10), 20.0, 1e-9);
    assert_float_equal(client_eta_s(20.0, 8, 0, 10), 5.0, 1e-9);
}

static void eta_is_zero_when_every_unit_is_done(void **state)
{
    (void)state;
    assert_float_equal(client_eta_s(20.0, 10, 4, 10), 0.0, 1e-9);
    assert_float_equal(client_eta_s(20.0, 11, 4, 10), 0.0, 1e-9);   /* counts out of step */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eta_is_unknown_until_a_unit_has_run),
        cmocka_unit_test(eta_takes_its_rate_from_units_that_ran_not_cached_ones),
        cmocka_unit_test(eta_is_zero_when_every_unit_is_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
