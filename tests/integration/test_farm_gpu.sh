#!/usr/bin/env bash
# tests/integration/test_farm_gpu.sh - on a machine with an NVIDIA GPU: the agent reports
# it (CUDA driver API and NVML), a unit that needs a GPU runs there and sees it, and a
# unit that needs more GPU memory than any agent has waits and says why. Without a GPU
# (or without nvidia-smi to look at it from a unit) the script plans no test.
. "$(dirname "$0")/lib.sh"

"$UDCS_BIN/udcs-detect" >"$T/detect.json" 2>"$T/detect.err" || {
    not_ok "udcs-detect runs"; sed 's/^/# /' "$T/detect.err"; done_testing; exit 1; }
GPU_NAME=$(jq -r '[.gpus[] | select(.api == "cuda")][0].name // empty' "$T/detect.json")
if [ -z "$GPU_NAME" ] || ! command -v nvidia-smi >/dev/null; then
    echo "1..0 # SKIP no CUDA GPU (or no nvidia-smi) on this machine"
    exit 0
fi
GPU_GB=$(jq '[.gpus[] | select(.api == "cuda")][0].memory_gb' "$T/detect.json")

start_farm "$T/farm" || { not_ok "master starts"; done_testing; exit 1; }
start_agent g1 --slots 1
check "the agent registers" wait_until 20 agents_idle 1
curl -sf "$FARM_URL/api/devices" >"$T/devices.json"
check "the master lists the agent's GPU: $GPU_NAME" \
    test "$(jq -r '.devices[0].gpus[0].name' "$T/devices.json")" = "$GPU_NAME"
check "with its memory" \
    jq -e --argjson gb "$GPU_GB" '.devices[0].gpus[0].memory_gb == $gb and $gb > 0' "$T/devices.json"

half=$(jq -n --argjson gb "$GPU_GB" '$gb / 2 | floor')
jq -n --argjson gb "$half" '{type: "EXEC", requirements: {gpu_required: true, gpu_memory_gb: $gb},
    units: [{argv: ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]}]}' >"$T/gpu.json"
J=$("$UDCS" submit "$T/gpu.json")
check "a unit that needs a GPU with ${half} GB completes" uwait "$J"
stdout=$(job_json "$J" | jq -r '.unit_list[0].result.stdout | split("/")[0]')
UDCS_CACHE_DIR="$T/client-cache" UDCS_REMOTE="$FARM_URL" "$CAS" cat "$stdout" >"$T/.out" 2>&1
expect_output_contains "$GPU_NAME"

too_much=$(jq -n --argjson gb "$GPU_GB" '$gb * 4 | floor')
jq -n --argjson gb "$too_much" '{type: "EXEC", requirements: {gpu_required: true, gpu_memory_gb: $gb},
    units: [{argv: ["true"]}]}' >"$T/huge.json"
J2=$("$UDCS" submit "$T/huge.json")
sleep 1
"$UDCS" job "$J2" >"$T/.out" 2>&1
expect_output_contains "no agent with a GPU with ${too_much}.0 GB is connected"
check "it is still queued" test "$(job_json "$J2" | jq -r '.unit_list[0].state')" = queued
check "and can be cancelled" "$UDCS" cancel "$J2"

done_testing
