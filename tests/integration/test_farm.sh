#!/usr/bin/env bash
# tests/integration/test_farm.sh - a master and agents on loopback, for real: a job of
# 200 exec units with correct outputs, the same job again from the action cache, an
# agent killed with units in hand, the master killed mid-job and restarted, requirements
# no agent meets (and then one does), and bad submissions.
. "$(dirname "$0")/lib.sh"

start_farm "$T/farm" --lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 \
    || { not_ok "master starts"; done_testing; exit 1; }
ok "master starts"
for a in a1 a2 a3; do start_agent "$a" --slots 2; done
check "three agents register" wait_until 20 agents_idle 3
TOKEN=$(cat "$FARM_TOKEN_FILE")

# ---- 200 units; each writes a file that depends on its index; output checked -----------------
make_job() {   # make_job N SLEEP TAG: a job of N units
    local n=$1 sleep=$2 tag=$3
    jq -n --argjson n "$n" --arg s "$sleep" --arg tag "$tag" '{type: "EXEC", priority: 5,
        units: [range($n) | {argv: ["sh", "-c", "sleep \($s); echo \($tag)-\(.) | sha256sum > out.txt"],
                             outputs: ["out.txt"]}]}'
}
make_job 200 0 run1 >"$T/job200.json"
J1=$("$UDCS" submit "$T/job200.json")
check "a job of 200 units is accepted" test -n "$J1"
check "it completes" uwait "$J1"
job_json "$J1" >"$T/j1.json"
check "all 200 units are done" test "$(jq '.units.done' "$T/j1.json")" = 200
outputs_ok() {   # every unit's out.txt holds sha256 of "TAG-INDEX"
    local file=$1 tag=$2 bad=0 i digest want got
    for i in $(seq 0 199); do
        digest=$(jq -r ".unit_list[$i].result.outputs[0].digest" "$file")
        want=$(echo "$tag-$i" | sha256sum)
        got=$("$UDCS_BIN/udcs-cas" --cache-dir "$T/client" --remote "$FARM_URL" cat "$digest")
        [ "$got" = "$want" ] || bad=$((bad + 1))
    done
    [ "$bad" -eq 0 ]
}
check "every output is right" outputs_ok "$T/j1.json" run1
check "the units ran on all three agents" test "$(jq '[.unit_list[].agent] | unique | length' "$T/j1.json")" = 3
leases_before=$(metric udcs_leases_granted_total)
J2=$("$UDCS" submit "$T/job200.json")
check "the same job again completes" uwait "$J2"
check "entirely from the action cache" test "$(job_json "$J2" | jq '.cache_hits')" = 200
check "with no unit run" test "$(metric udcs_leases_granted_total)" = "$leases_before"

# ---- kill -9 an agent holding units -----------------------------------------------------------
make_job 200 0.2 run2 >"$T/jobkill.json"
completed_before=$(metric udcs_units_completed_total)
expiries_before=$(metric udcs_lease_expiries_total)
refused_before=$(metric udcs_results_refused_total)
J3=$("$UDCS" submit "$T/jobkill.json")
check "an agent holds units" wait_until 20 sh -c "curl -sf '$FARM_URL/api/devices' | jq -e '.devices[] | select(.name == \"a1\") | .running > 0'"
kill -9 "${AGENT_PIDS[a1]}"
check "the job still completes after kill -9 of an agent" uwait "$J3"
job_json "$J3" >"$T/j3.json"
check "all 200 done" test "$(jq '.units.done' "$T/j3.json")" = 200
check "every output is right" outputs_ok "$T/j3.json" run2
expired=$(( $(metric udcs_lease_expiries_total) - expiries_before ))
check "the lost agent's leases expired" test "$expired" -ge 1
check "each unit was accepted once (fencing)" test $(( $(metric udcs_units_completed_total) - completed_before )) = 200
check "only units whose lease expired ran again" test "$(jq '[.unit_list[].epoch - 1] | add' "$T/j3.json")" = "$expired"
check "and any late result was refused, not taken" test $(( $(metric udcs_results_refused_total) - refused_before )) -le "$expired"
check "the killed agent shows as lost" wait_until 10 sh -c "curl -sf '$FARM_URL/api/devices' | jq -e '.devices[] | select(.name == \"a1\") | .status == \"lost\"'"

# ---- kill -9 the master mid-job ---------------------------------------------------------------
make_job 200 0.1 run3 >"$T/jobmaster.json"
J4=$("$UDCS" submit "$T/jobmaster.json")
check "some units finish" wait_until 20 sh -c "[ \$(curl -sf '$FARM_URL/api/jobs/$J4' | jq '.units.done') -ge 20 ]"
kill -9 "$FARM_PID"
wait "$FARM_PID" 2>/dev/null
start_farm "$T/farm" --lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 \
    && ok "the master restarts on the same state and port" || not_ok "the master restarts"
check "the job completes after the master was killed" uwait "$J4"
job_json "$J4" >"$T/j4.json"
check "all 200 done" test "$(jq '.units.done' "$T/j4.json")" = 200
check "every output is right" outputs_ok "$T/j4.json" run3
check "earlier jobs are still known" test "$(job_json "$J1" | jq -r '.state')" = done

# Units that finish while the master is down keep their results and upload them once it
# is back: with max_attempts 1 the job still completes, and nothing runs twice.
jq -n '{type: "EXEC", max_attempts: 1, units: [range(16) |
        {argv: ["sh", "-c", "sleep 1.5; echo down-\(.) > out.txt"], outputs: ["out.txt"]}]}' >"$T/jobdown.json"
J4B=$("$UDCS" submit "$T/jobdown.json")
check "units of a max_attempts:1 job run" wait_until 20 sh -c "[ \$(curl -sf '$FARM_URL/api/jobs/$J4B' | jq '.units.done') -ge 1 ]"
kill -9 "$FARM_PID"
wait "$FARM_PID" 2>/dev/null
sleep 2.5   # the running units finish while the master is down
start_farm "$T/farm" --lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 \
    && ok "the master restarts again" || not_ok "the master restarts again"
check "the job completes though its units finished while the master was down" uwait "$J4B"
job_json "$J4B" >"$T/j4b.json"
check "all 16 done" test "$(jq '.units.done' "$T/j4b.json")" = 16
check "each in its first lease (nothing ran again)" jq -e '[.unit_list[] | select(.state == "done" and .epoch == 1)] | length == 16' "$T/j4b.json"
check "and no agent was blocklisted for it" sh -c "curl -sf '$FARM_URL/api/devices' | jq -e '[.devices[].blocklisted_jobs[]?] | index($J4B) == null'"

# The action cache is written from memory, and kill -9 loses what was not written yet:
# lose J4B's records that way (removed while the master is down). The master writes them
# again from its state when it starts, so the same work again runs nothing.
kill -9 "$FARM_PID"
wait "$FARM_PID" 2>/dev/null
removed=0
for a in $(jq -r '.unit_list[].action' "$T/j4b.json"); do
    rm "$T/farm/state/cas/ac/${a:0:2}/${a:2}" && removed=$((removed + 1))
done
check "the job's action cache records are lost" test "$removed" = 16
start_farm "$T/farm" --lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 \
    && ok "the master restarts a third time" || not_ok "the master restarts a third time"
leases_before=$(metric udcs_leases_granted_total)
J4C=$("$UDCS" submit "$T/jobdown.json")
check "the same work again completes" uwait "$J4C"
check "from the action cache the master wrote again" test "$(job_json "$J4C" | jq '.cache_hits')" = 16
check "with no unit run" test "$(metric udcs_leases_granted_total)" = "$leases_before"

# ---- requirements no agent meets, then one does ------------------------------------------------
# A build of Blender no agent has (this machine may have Debian's): the fake below, named
# by its fingerprint (the XXH3-128 of the program).
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "Blender 3.4.1"\n# only for test_farm.sh\n' >"$T/fakebin/blender"
chmod +x "$T/fakebin/blender"
FAKE_BLENDER="blender@$(xxh128sum "$T/fakebin/blender" | cut -d' ' -f1)"
jq -n --arg tc "$FAKE_BLENDER" '{type: "EXEC", units: [{argv: ["sh", "-c", "blender --version > v.txt"], outputs: ["v.txt"],
        requirements: {toolchains: [$tc]}}]}' >"$T/jobreq.json"
J5=$("$UDCS" submit "$T/jobreq.json")
sleep 1
check "a unit needing a missing toolchain stays queued" test "$(job_json "$J5" | jq -r '.unit_list[0].state')" = queued
"$UDCS" job "$J5" >"$T/why.txt"
check "udcs job says why" grep -q "no agent with toolchain $FAKE_BLENDER is connected" "$T/why.txt"
jq -n '{type: "EXEC", units: [{argv: ["true"], requirements: {architecture: "riscv64"}}]}' >"$T/jobarch.json"
J6=$("$UDCS" submit "$T/jobarch.json")
check "an architecture no agent has is explained" sh -c "'$UDCS' job $J6 | grep -q 'no agent with architecture riscv64'"
"$UDCS" wait "$J6" >"$T/wait6.out" 2>&1 &
WAIT6=$!
_pids+=("$WAIT6")
PATH="$T/fakebin:$PATH" start_agent a4 --slots 1
check "it runs as soon as a matching agent joins" uwait "$J5"
check "on that agent" test "$(job_json "$J5" | jq -r '.unit_list[0].agent_name')" = a4
check "udcs wait says why a job makes no progress" wait_until 30 grep -q "udcs: no progress for 10 s; a unit waits: no agent with architecture riscv64" "$T/wait6.out"
"$UDCS" cancel "$J6" >/dev/null
expect_status 1 "and ends when the job is cancelled" wait "$WAIT6"

# ---- bad input ------------------------------------------------------------------------------------
post() { curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$@" "$FARM_URL/api/submit"; }
check "malformed JSON is refused with 400" test "$(post --data '{"type":')" = 400
check "saying where" grep -q "line 1" "$T/body"
check "an unknown job type is refused with 400" test "$(post --data '{"type":"TELEPORT"}')" = 400
check "listing the known types" grep -q "known types: EXEC, NATIVE_EXEC" "$T/body"
check "a job without units is refused" test "$(post --data '{"type":"EXEC"}')" = 400
check "a unit without argv is refused" test "$(post --data '{"type":"EXEC","units":[{"outputs":["x"]}]}')" = 400
check "naming the field" grep -q "argv" "$T/body"
check "an unknown digest is refused" test "$(post --data '{"type":"EXEC","units":[{"argv":["cat","a"],"inputs":{"a":"0123456789abcdef0123456789abcdef/5"}}]}')" = 400
check "saying to upload it first" grep -q "upload it first" "$T/body"
check "a path climbing out is refused" test "$(post --data '{"type":"EXEC","units":[{"argv":["true"],"outputs":["../x"]}]}')" = 400
check "a bad priority is refused" test "$(post --data '{"type":"EXEC","priority":11,"units":[{"argv":["true"]}]}')" = 400
check "a wrong token is refused with 403" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer nope' --data '{}' "$FARM_URL/api/submit")" = 403
check "no token is refused with 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{}' "$FARM_URL/api/submit")" = 401
head -c 300000000 /dev/zero | tr '\0' ' ' >"$T/big.json"
check "an oversized body is refused with 413" test "$(post --data-binary "@$T/big.json")" = 413
jq -n '{type: "EXEC", max_attempts: 2, units: [{argv: ["sh", "-c", "echo doomed >&2; exit 3"]}]}' >"$T/jobfail.json"
J7=$("$UDCS" submit "$T/jobfail.json")
expect_status 1 "a unit whose command fails ends the job failed" uwait "$J7"
check "after its retries" test "$(job_json "$J7" | jq '.unit_list[0].attempts')" = 2
check "with the command's stderr in the error" sh -c "'$UDCS' job $J7 | grep -q 'exit status 3; stderr: doomed'"
check "and the master keeps serving" sh -c "curl -sf '$FARM_URL/api/devices' >/dev/null"
expect_status 3 "an unknown job is not found" "$UDCS" job 999999
expect_status 2 "udcs-farm refuses an unknown option" "$FARM" --no-auth --frob
expect_output_contains "unknown option '--frob'; see 'udcs-farm --help'"
expect_status 2 "udcs-agent refuses a stray argument" "$AGENT" --farm "$FARM_URL" stray
expect_output_contains "unexpected argument 'stray'; see 'udcs-agent --help'"

# ---- udcs run: files in, outputs and exit status back ------------------------------------------
mkdir -p "$T/work"
(cd "$T/work" && printf 'int twice(int x) { return 2 * x; }\n' >t.c &&
    "$UDCS" --cache-dir "$T/client" run --output t.o -- gcc -O2 -c t.c -o t.o) >"$T/run.out" 2>&1
check "udcs run compiles on an agent" test -s "$T/work/t.o"
(cd "$T/work" && gcc -O2 -c t.c -o local.o)
check "giving the same object file as a local compile" cmp "$T/work/t.o" "$T/work/local.o"
expect_status 7 "udcs run replays the exit status" "$UDCS" --cache-dir "$T/client" run -- sh -c 'echo said; exit 7'
expect_output_contains "said"
before=$(curl -sf "$FARM_URL/api/jobs?limit=1" | jq '.jobs[0].id')
"$UDCS" --cache-dir "$T/client" run --arch riscv64 -- true >"$T/runint.out" 2>&1 &
RUNPID=$!
_pids+=("$RUNPID")
check "udcs run submits a job no agent can run" wait_until 20 sh -c "[ \$(curl -sf '$FARM_URL/api/jobs?limit=1' | jq '.jobs[0].id') -gt $before ]"
JR=$(curl -sf "$FARM_URL/api/jobs?limit=1" | jq '.jobs[0].id')
kill -TERM "$RUNPID"
expect_status 130 "udcs run ends on SIGTERM" wait "$RUNPID"
check "saying it cancelled its job" grep -q "udcs run: cancelled job $JR" "$T/runint.out"
check "which is cancelled, not orphaned" test "$(job_json "$JR" | jq -r '.state')" = cancelled
jq -n '{type: "EXEC", units: [{argv: ["sh", "-c", "sleep 1234 & sleep 1234"], timeout_ms: 500}], max_attempts: 1}' >"$T/jobto.json"
J8=$("$UDCS" submit "$T/jobto.json")
expect_status 1 "a unit past its timeout fails" uwait "$J8"
check "saying it timed out" sh -c "'$UDCS' job $J8 | grep -q 'timed out after 500 ms'"
check "and no sleep of it is left running" sh -c "! pgrep -f 'sleep 123[4]' >/dev/null"

# ---- an agent stopped while its master is down -------------------------------------------------
# SIGTERM drains: the unit finishes, and the agent keeps reporting it while the master is
# away; a second SIGTERM stops it at once, reporting or not.
start_agent stopper --cpu-cores 77   # only it matches the job below
STOPPER=$AGENT_PID
jq -n '{type: "EXEC", requirements: {min_cores: 77}, units: [{argv: ["sleep", "2"]}]}' >"$T/jobstop.json"
J9=$("$UDCS" submit "$T/jobstop.json")
check "a unit runs on it" wait_until 20 sh -c "curl -sf '$FARM_URL/api/jobs/$J9' | jq -e '.units.running == 1' >/dev/null"
kill -9 "$FARM_PID"
wait "$FARM_PID" 2>/dev/null
kill -TERM "$STOPPER"
sleep 3   # the unit has finished; the agent tries to report it to no master
kill -TERM "$STOPPER"
check "an agent whose master is down stops at the second SIGTERM" wait_until 15 sh -c "! kill -0 $STOPPER 2>/dev/null"
check "saying it stopped without reporting the unit" grep -q "stopping without reporting unit" "$T/agents/stopper.log"

done_testing
