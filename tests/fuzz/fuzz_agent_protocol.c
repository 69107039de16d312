/* tests/fuzz/fuzz_agent_protocol.c - bodies of the four agent requests (register,
 * heartbeat, lease, result) through their parsers, and lease answers through the
 * agent's side (an offer's action). What a parser accepts must be within the protocol's
 * bounds; nothing crashes or leaks whatever the bytes. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body;
    char why[1024] = "";
    if (udcs_json_parse(data, size, &body, why, sizeof(why)) < 0)
        return 0;

    struct farm_register_req reg;
    if (farm_parse_register(body, &reg, why, sizeof(why)) == 0)
        FUZZ_CHECK(reg.slots >= 1 && reg.slots <= FARM_AGENT_SLOTS_MAX && reg.key && *reg.key &&
                       strlen(reg.key) <= FARM_AGENT_KEY_MAX && json_is_object(reg.info),
                   "register accepted out of bounds");
    struct farm_heartbeat_req hb;
    if (farm_parse_heartbeat(body, &hb, why, sizeof(why)) == 0)
        FUZZ_CHECK(hb.agent_id >= 1 && (!hb.leases || json_is_array(hb.leases)) &&
                       (!hb.load || json_is_null(json_object_get(hb.load, "cpu")) ||
                        !json_object_get(hb.load, "cpu") ||
                        (json_number_value(json_object_get(hb.load, "cpu")) >= 0 &&
                         json_number_value(json_object_get(hb.load, "cpu")) <= 1)),
                   "heartbeat accepted out of bounds");
    struct farm_lease_req lease;
    if (farm_parse_lease(body, &lease, why, sizeof(why)) == 0)
        FUZZ_CHECK(lease.slots >= 1 && lease.slots <= FARM_LEASE_BATCH_MAX &&
                       lease.wait_ms <= FARM_LEASE_WAIT_MAX_MS,
                   "lease accepted out of bounds");
    struct farm_result_req res;
    if (farm_parse_result(body, &res, why, sizeof(why)) == 0) {
        FUZZ_CHECK(!res.ok || res.result_json, "an ok result without its record");
        farm_result_req_release(&res);
    } else {
        FUZZ_CHECK(why[0], "a result refused without a reason");
    }

    /* the agent's side: each offered unit's action */
    size_t i;
    json_t *offer;
    json_array_foreach(json_object_get(body, "units"), i, offer) {
        char *text = json_dumps(json_object_get(offer, "action"), JSON_COMPACT | JSON_ENCODE_ANY);
        struct cas_action a;
        if (text && cas_action_from_json(text, strlen(text), &a, why, sizeof(why)) == 0) {
            FUZZ_CHECK(a.argc > 0 && a.argv[0], "an action without a program");
            for (size_t k = 0; k < a.n_outputs; k++)
                FUZZ_CHECK(udcs_path_is_contained(a.outputs[k]), "unsafe output accepted");
            cas_action_release(&a);
        }
        free(text);
    }
    json_decref(body);
    return 0;
}
