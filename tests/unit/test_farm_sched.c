/* tests/unit/test_farm_sched.c - the master's scheduling rules, on a real master state
 * (SQLite and store in a temporary directory) without HTTP: fair sharing, priorities,
 * requirements and why a unit waits, dependencies, fencing of late results, the
 * blocklist, the action cache, and a state that survives a reopen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "farm/farm_internal.h"
#include "common/err.h"
#include "tests/unit/helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY "99aa06d3014798d86001c324468d497f/0"
#define AGENT_SLOTS 12

struct fixture {
    char *dir;
    struct farm *f;
};

static struct farm *open_farm(const char *dir)
{
    struct farm_options o = { .state_dir = dir, .lease_ttl_ms = 60000, .backoff_ms = 1,
                              .blocklist_after = 2 };
    struct farm *f = NULL;
    assert_int_equal(farm_open(&o, &f), 0);
    return f;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->dir = test_tmpdir("sched");
    fx->f = open_farm(fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    farm_close(fx->f);
    test_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* Register an agent that reports `info` (the devices schema) as its machine. */
static struct agent *add_agent_with(struct farm *f, const char *name, const char *info)
{
    json_t *machine = json_loads(info, 0, NULL);
    assert_non_null(machine);
    json_t *body = json_pack("{s:s, s:s, s:i, s:o}", "key", name, "name", name, "slots", AGENT_SLOTS,
                             "info", machine);
    struct farm_register_req r;
    char why[256];
    struct agent *a = NULL;
    assert_int_equal(farm_parse_register(body, &r, why, sizeof(why)), 0);
    farm_db_begin(f);
    assert_int_equal(farm_agent_register(f, &r, &a), 0);
    farm_db_commit(f);
    json_decref(body);
    return a;
}

static struct agent *add_agent(struct farm *f, const char *name, const char *toolchain)
{
    char info[512];
    snprintf(info, sizeof(info), "{\"architecture\":\"x86_64\",\"os\":\"linux\",\"cpu_cores\":4,"
             "\"ram_gb\":8,\"gpus\":[],\"toolchains\":[{\"name\":\"%s\"}]}", toolchain);
    return add_agent_with(f, name, info);
}

static int64_t submit(struct farm *f, const char *json)
{
    int64_t id = 0;
    char why[512] = "";
    farm_db_begin(f);
    int rc = farm_submit(f, json, strlen(json), &id, why, sizeof(why));
    farm_db_commit(f);
    if (rc < 0) {
        fprintf(stderr, "submit refused: %s\n", why);
        fail();
    }
    return id;
}

/* A job of `n` trivial units at `prio`; `tag` makes its actions its own. */
static int64_t submit_trivial(struct farm *f, int n, int prio, const char *tag)
{
    char json[8192];
    int len = snprintf(json, sizeof(json), "{\"type\":\"EXEC\",\"priority\":%d,\"units\":[", prio);
    for (int i = 0; i < n; i++)
        len += snprintf(json + len, sizeof(json) - (size_t)len, "%s{\"argv\":[\"echo\",\"%s-%d\"]}",
                        i ? "," : "", tag, i);
    snprintf(json + len, sizeof(json) - (size_t)len, "]}");
    return submit(f, json);
}

static struct unit *pick_one(struct farm *f, struct agent *a)
{
    struct unit *u = NULL;
    farm_db_begin(f);
    size_t n = farm_pick(f, a, &u, 1);
    farm_db_commit(f);
    return n ? u : NULL;
}

/* Report a unit's result as agent `a` with `epoch`; returns the HTTP status. */
static int report(struct farm *f, struct agent *a, struct unit *u, uint64_t epoch, int exit_code)
{
    char text[512], why[512];
    snprintf(text, sizeof(text), "{\"agent_id\":%lld,\"unit\":%lld,\"epoch\":%llu,\"outcome\":\"ok\","
             "\"result\":{\"version\":1,\"exit_code\":%d,\"outputs\":[],\"stdout\":\"" EMPTY "\","
             "\"stderr\":\"" EMPTY "\"}}", (long long)a->id, (long long)u->id,
             (unsigned long long)epoch, exit_code);
    json_t *body = json_loads(text, 0, NULL);
    struct farm_result_req r;
    int status = 0;
    assert_int_equal(farm_parse_result(body, &r, why, sizeof(why)), 0);
    farm_db_begin(f);
    farm_accept_result(f, a, &r, &status, why, sizeof(why));
    farm_db_commit(f);
    farm_result_req_release(&r);
    json_decref(body);
    return status;
}

static void fair_share_alternates_between_jobs_of_equal_priority(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    int64_t j1 = submit_trivial(fx->f, 4, 5, "one"), j2 = submit_trivial(fx->f, 4, 5, "two");
    int64_t last = 0;
    for (int i = 0; i < 8; i++) {
        struct unit *u = pick_one(fx->f, a);
        assert_non_null(u);
        assert_true(u->job->id == j1 || u->job->id == j2);
        assert_true(u->job->id != last);   /* never the same job twice in a row */
        last = u->job->id;
    }
    assert_null(pick_one(fx->f, a));
}

static void an_agent_never_holds_more_units_than_its_slots(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    submit_trivial(fx->f, AGENT_SLOTS + 5, 5, "slots");
    struct unit *got[64];
    farm_db_begin(fx->f);
    size_t n = farm_pick(fx->f, a, got, 64);
    farm_db_commit(fx->f);
    assert_int_equal(n, AGENT_SLOTS);
    assert_null(pick_one(fx->f, a));
    assert_int_equal(report(fx->f, a, got[0], got[0]->epoch, 0), 200);
    assert_non_null(pick_one(fx->f, a));   /* a slot came free */
}

static void higher_priority_goes_first(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    submit_trivial(fx->f, 3, 5, "low");
    int64_t urgent = submit_trivial(fx->f, 2, 9, "high");
    assert_int_equal(pick_one(fx->f, a)->job->id, urgent);
    assert_int_equal(pick_one(fx->f, a)->job->id, urgent);
    assert_int_not_equal(pick_one(fx->f, a)->job->id, urgent);
}

static void unmet_requirements_wait_and_say_why(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    int64_t j = submit(fx->f, "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"render\"],"
                              "\"requirements\":{\"toolchains\":[\"povray\"]}}]}");
    assert_null(pick_one(fx->f, a));
    char *why = farm_unit_why(fx->f, farm_job(fx->f, j)->units[0]);
    assert_non_null(strstr(why, "no agent with toolchain povray"));
    free(why);
    struct agent *b = add_agent(fx->f, "b1", "povray");
    struct unit *u = pick_one(fx->f, b);
    assert_non_null(u);
    assert_int_equal(u->job->id, j);
}

/* "toolchain", as DESIGN.md spells it, means "toolchains": a name, or a list of them,
 * joined to those "toolchains" lists. */
static void the_requirement_toolchain_is_an_alias_of_toolchains(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    int64_t j = submit(fx->f, "{\"type\":\"EXEC\",\"requirements\":{\"toolchain\":\"povray\"},"
                              "\"units\":[{\"argv\":[\"render\"]}]}");
    int64_t k = submit(fx->f, "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"both\"],"
                              "\"requirements\":{\"toolchain\":[\"gcc\"],"
                              "\"toolchains\":[\"povray\"]}}]}");
    assert_null(pick_one(fx->f, a));
    char *why = farm_unit_why(fx->f, farm_job(fx->f, j)->units[0]);
    assert_non_null(strstr(why, "no agent with toolchain povray"));
    free(why);
    why = farm_unit_why(fx->f, farm_job(fx->f, k)->units[0]);
    assert_non_null(strstr(why, "toolchain povray, toolchain gcc"));
    free(why);
    struct agent *b = add_agent(fx->f, "b1", "povray");   /* povray only: not job k */
    struct unit *u = pick_one(fx->f, b);
    assert_non_null(u);
    assert_int_equal(u->job->id, j);
    assert_null(pick_one(fx->f, b));
    int64_t id = 0;
    char bad[] = "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"x\"],"
                 "\"requirements\":{\"toolchain\":5}}]}", why_bad[512];
    farm_db_begin(fx->f);
    assert_int_equal(farm_submit(fx->f, bad, strlen(bad), &id, why_bad, sizeof(why_bad)),
                     UDCS_EPROTO);
    farm_db_commit(fx->f);
    assert_non_null(strstr(why_bad, "toolchains an array of names"));
}

/* Cores, memory, a GPU and its memory are matched against what agents report; a unit that
 * no connected machine can hold says which requirement is missing. */
static void hardware_requirements_match_only_machines_that_have_them(void **state)
{
    struct fixture *fx = *state;
    struct agent *small = add_agent(fx->f, "small", "gcc");   /* 4 cores, 8 GB, no GPU */
    int64_t big = submit(fx->f, "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"big\"],"
                                "\"requirements\":{\"min_cores\":16,\"min_memory_gb\":32}}]}");
    int64_t gpu = submit(fx->f, "{\"type\":\"EXEC\",\"requirements\":{\"gpu_required\":true,"
                                "\"gpu_memory_gb\":16},\"units\":[{\"argv\":[\"kernel\"]}]}");
    assert_null(pick_one(fx->f, small));
    char *why = farm_unit_why(fx->f, farm_job(fx->f, big)->units[0]);
    assert_string_equal(why, "no agent with 16 cores, 32.0 GB of memory is connected");
    free(why);
    why = farm_unit_why(fx->f, farm_job(fx->f, gpu)->units[0]);
    assert_string_equal(why, "no agent with a GPU with 16.0 GB is connected");
    free(why);

    /* A GPU too small for the kernel, on a machine big enough for the other unit. */
    struct agent *wide = add_agent_with(fx->f, "wide",
        "{\"architecture\":\"x86_64\",\"os\":\"linux\",\"cpu_cores\":32,\"ram_gb\":64,"
        "\"gpus\":[{\"name\":\"small card\",\"memory_gb\":8}],\"toolchains\":[]}");
    struct unit *u = pick_one(fx->f, wide);
    assert_non_null(u);
    assert_int_equal(u->job->id, big);
    assert_null(pick_one(fx->f, wide));

    struct agent *h100 = add_agent_with(fx->f, "h100",
        "{\"architecture\":\"x86_64\",\"os\":\"linux\",\"cpu_cores\":16,\"ram_gb\":128,"
        "\"gpus\":[{\"name\":\"NVIDIA H100 80GB HBM3\",\"memory_gb\":79.2}],\"toolchains\":[]}");
    u = pick_one(fx->f, h100);
    assert_non_null(u);
    assert_int_equal(u->job->id, gpu);
}

static void a_unit_waits_for_the_units_it_takes_outputs_from(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    int64_t j = submit(fx->f, "{\"type\":\"EXEC\",\"units\":[{\"argv\":[\"first\"],\"outputs\":[]},"
                              "{\"argv\":[\"second\"],\"inputs\":{\"in\":{\"unit\":0,\"output\":\"out\"}}}]}");
    struct job *job = farm_job(fx->f, j);
    assert_int_equal(job->units[1]->state, UNIT_WAITING);
    char *why = farm_unit_why(fx->f, job->units[1]);
    assert_string_equal(why, "waiting for units 0");
    free(why);
    struct unit *u = pick_one(fx->f, a);
    assert_int_equal(u->index, 0);
    assert_null(pick_one(fx->f, a));   /* the second cannot run yet */
    /* unit 0 ends without the output unit 1 needs: unit 1 fails, and says why */
    assert_int_equal(report(fx->f, a, u, u->epoch, 0), 200);
    assert_int_equal(job->units[1]->state, UNIT_FAILED);
    assert_non_null(strstr(job->units[1]->error, "did not produce it"));
    assert_int_equal(job->state, JOB_FAILED);
}

static void a_late_result_from_a_superseded_lease_is_refused(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc"), *b = add_agent(fx->f, "b1", "gcc");
    int64_t j = submit_trivial(fx->f, 1, 5, "fence");
    struct unit *u = pick_one(fx->f, a);
    uint64_t first = u->epoch;
    /* a's lease runs out (the reaper would do this); the unit goes to b */
    farm_db_begin(fx->f);
    farm_unit_failed(fx->f, u, "lease expired", 1, 1);
    farm_db_commit(fx->f);
    u->not_before_ms = 0;
    farm_release_delayed(fx->f, farm_now_ms());
    assert_ptr_equal(pick_one(fx->f, b), u);
    assert_true(u->epoch > first);
    assert_int_equal(report(fx->f, a, u, first, 0), 409);     /* the old holder, too late */
    assert_int_equal(u->state, UNIT_LEASED);
    assert_int_equal(report(fx->f, b, u, u->epoch, 0), 200);  /* the current one */
    assert_int_equal(report(fx->f, b, u, u->epoch, 0), 409);  /* and only once */
    assert_int_equal(farm_job(fx->f, j)->state, JOB_DONE);
    assert_int_equal(farm_job(fx->f, j)->counts[UNIT_DONE], 1);
}

static void an_agent_that_keeps_failing_a_job_is_kept_off_it(void **state)
{
    struct fixture *fx = *state;
    struct agent *bad = add_agent(fx->f, "bad", "gcc");
    int64_t j = submit(fx->f, "{\"type\":\"EXEC\",\"max_attempts\":5,\"units\":[{\"argv\":[\"x\"]},"
                              "{\"argv\":[\"y\"]}]}");
    for (int i = 0; i < 2; i++) {
        struct unit *u = pick_one(fx->f, bad);
        assert_non_null(u);
        assert_int_equal(report(fx->f, bad, u, u->epoch, 1), 200);   /* exit 1: a failure */
        u->not_before_ms = 0;
    }
    farm_release_delayed(fx->f, farm_now_ms());
    assert_true(farm_agent_blocked(fx->f, bad, j));
    assert_null(pick_one(fx->f, bad));
    char *why = farm_unit_why(fx->f, farm_job(fx->f, j)->units[0]);
    assert_non_null(strstr(why, "blocklisted"));
    free(why);
    struct agent *good = add_agent(fx->f, "good", "gcc");
    assert_non_null(pick_one(fx->f, good));
}

static void the_same_job_again_completes_from_the_action_cache(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    int64_t j1 = submit_trivial(fx->f, 3, 5, "cached");
    for (struct unit *u; (u = pick_one(fx->f, a));)
        assert_int_equal(report(fx->f, a, u, u->epoch, 0), 200);
    assert_int_equal(farm_job(fx->f, j1)->state, JOB_DONE);
    int64_t j2 = submit_trivial(fx->f, 3, 5, "cached");
    assert_int_equal(farm_job(fx->f, j2)->state, JOB_DONE);
    assert_int_equal(farm_job(fx->f, j2)->cache_hits, 3);
    assert_null(pick_one(fx->f, a));
}

static void leases_and_jobs_survive_a_reopen(void **state)
{
    struct fixture *fx = *state;
    struct agent *a = add_agent(fx->f, "a1", "gcc");
    int64_t j = submit_trivial(fx->f, 2, 5, "persist");
    struct unit *u = pick_one(fx->f, a);
    int64_t unit_id = u->id, agent_id = a->id;
    uint64_t epoch = u->epoch;
    farm_close(fx->f);   /* as if killed: nothing finished in between */
    fx->f = open_farm(fx->dir);
    struct job *job = farm_job(fx->f, j);
    assert_non_null(job);
    assert_int_equal(job->state, JOB_RUNNING);
    u = farm_unit(fx->f, unit_id);
    assert_int_equal(u->state, UNIT_LEASED);
    assert_int_equal(u->epoch, epoch);
    a = farm_agent(fx->f, agent_id);
    assert_int_equal(a->state, AGENT_LOST);   /* until it is heard from */
    assert_non_null(farm_agent_seen(fx->f, agent_id));
    assert_int_equal(report(fx->f, a, u, epoch, 0), 200);   /* its result still counts */
    struct unit *other = pick_one(fx->f, a);
    assert_non_null(other);
    assert_int_equal(report(fx->f, a, other, other->epoch, 0), 200);
    assert_int_equal(job->state, JOB_DONE);
}

/* "pin_toolchain": each unit waits for an agent offering its own toolchain, which pins it
 * to that agent's build (its requirement and its cache key); units of a toolchain the agent
 * lacks keep waiting and never run unpinned. */
static void units_are_pinned_to_the_build_of_the_first_agent_that_takes_them(void **state)
{
    struct fixture *fx = *state;
    int64_t id = submit(fx->f, "{\"type\":\"EXEC\",\"units\":["
                        "{\"argv\":[\"clang\",\"-v\"],\"requirements\":{\"toolchains\":[\"clang\"]},"
                        "\"pin_toolchain\":\"clang\"},"
                        "{\"argv\":[\"gcc\",\"-v\"],\"requirements\":{\"toolchains\":[\"gcc\"]},"
                        "\"pin_toolchain\":\"gcc\"}]}");
    struct job *j = farm_job(fx->f, id);
    assert_true(j->pin_pending);
    struct agent *a = add_agent_with(fx->f, "gcc-only", "{\"architecture\":\"x86_64\","
                                     "\"os\":\"linux\",\"cpu_cores\":4,\"ram_gb\":8,\"gpus\":[],"
                                     "\"toolchains\":[{\"name\":\"gcc\",\"fingerprint\":"
                                     "\"0123456789abcdef0123456789abcdef\"}]}");
    struct unit *u = pick_one(fx->f, a);
    assert_non_null(u);
    assert_int_equal(u->index, 1);   /* the gcc unit; the clang one waits */
    assert_non_null(strstr(u->spec, "gcc@0123456789abcdef0123456789abcdef"));
    assert_non_null(strstr(u->action_json, "UDCS_PINNED_TOOLCHAIN"));
    assert_null(pick_one(fx->f, a));
    assert_true(j->pin_pending);   /* the clang unit still is */
    assert_non_null(strstr(j->units[0]->spec, "\"pin_toolchain\""));
    char *why = farm_unit_why(fx->f, j->units[0]);
    assert_non_null(strstr(why, "toolchain clang"));
    free(why);
}

/* Retry delays double from --backoff-ms and stop at --backoff-max-ms, however many
 * attempts a job allows (a shift by the attempt count once overflowed past 64). */
static void retry_delays_double_up_to_their_cap_without_overflowing(void **state)
{
    (void)state;
    struct farm_options o = { .backoff_ms = 1000, .backoff_max_ms = 60000 };
    assert_int_equal(farm_retry_delay_ms(&o, 1), 1000);
    assert_int_equal(farm_retry_delay_ms(&o, 2), 2000);
    assert_int_equal(farm_retry_delay_ms(&o, 6), 32000);
    assert_int_equal(farm_retry_delay_ms(&o, 7), 60000);
    assert_int_equal(farm_retry_delay_ms(&o, 65), 60000);
    assert_int_equal(farm_retry_delay_ms(&o, 100), 60000);
    o.backoff_ms = UINT64_MAX / 3;
    o.backoff_max_ms = UINT64_MAX;
    assert_true(farm_retry_delay_ms(&o, 3) >= UINT64_MAX / 3);   /* no wrap to a small delay */
    o.backoff_ms = 90000;
    o.backoff_max_ms = 60000;
    assert_int_equal(farm_retry_delay_ms(&o, 1), 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fair_share_alternates_between_jobs_of_equal_priority,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(an_agent_never_holds_more_units_than_its_slots, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(higher_priority_goes_first, setup, teardown),
        cmocka_unit_test_setup_teardown(unmet_requirements_wait_and_say_why, setup, teardown),
        cmocka_unit_test_setup_teardown(the_requirement_toolchain_is_an_alias_of_toolchains,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(hardware_requirements_match_only_machines_that_have_them,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_unit_waits_for_the_units_it_takes_outputs_from, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_late_result_from_a_superseded_lease_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_agent_that_keeps_failing_a_job_is_kept_off_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_same_job_again_completes_from_the_action_cache, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(leases_and_jobs_survive_a_reopen, setup, teardown),
        cmocka_unit_test(retry_delays_double_up_to_their_cap_without_overflowing),
        cmocka_unit_test_setup_teardown(
            units_are_pinned_to_the_build_of_the_first_agent_that_takes_them, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
