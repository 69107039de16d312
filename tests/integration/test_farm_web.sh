#!/usr/bin/env bash
# tests/integration/test_farm_web.sh - the master's side of the dashboard, over real HTTP:
# static files from --web-dir (and the status page without them), agent load in
# /api/devices and its series, the metrics series, the unit grid, raw blobs, the
# actions (priority, retry, drain, enable) with their tokens, drain across a restart,
# and the farm-wide event stream with Last-Event-ID resume.
. "$(dirname "$0")/lib.sh"

# A dashboard of our own (the real one is web/'s, built by make web).
WEB="$T/webdir"
mkdir -p "$WEB"
printf '<!doctype html><title>test dashboard</title><script src="/assets/app.js"></script>\n' >"$WEB/index.html"
printf 'console.log("app");\n' >"$WEB/app.js"
printf 'body{color:red}\n' >"$WEB/app.css"
printf '{"version":3}\n' >"$WEB/app.js.map"
printf 'secret\n' >"$T/secret.txt"
printf 'hidden\n' >"$WEB/.hidden"

FARM_ARGS=(--lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 --max-attempts 1 --web-dir "$WEB")
start_farm "$T/farm" "${FARM_ARGS[@]}" || { not_ok "master starts"; done_testing; exit 1; }
ok "master starts with --web-dir"
start_agent a1 --slots 2
check "the agent registers" wait_until 20 agents_idle 1
TOKEN=$(cat "$FARM_TOKEN_FILE")
W=$FARM_WEB_URL
AUTH="Authorization: Bearer $TOKEN"

# ---- static files ---------------------------------------------------------------------------
ctype() { curl -s --max-time 5 -o /dev/null -w '%{content_type}' "$W$1"; }
code() { curl -s --max-time 10 -o "$T/body" -w '%{http_code}' "$@"; }
check "GET / is the dashboard's index.html" sh -c "curl -sf '$W/' | grep -q 'test dashboard'"
check "as text/html" sh -c "[ \"\$(curl -s -o /dev/null -w '%{content_type}' '$W/')\" = 'text/html; charset=utf-8' ]"
check "app.js is application/javascript" test "$(ctype /assets/app.js)" = application/javascript
check "app.css is text/css" test "$(ctype /assets/app.css)" = text/css
check "app.js.map is application/json" test "$(ctype /assets/app.js.map)" = application/json
check "the bytes are the file's" sh -c "curl -sf '$W/assets/app.css' | cmp - '$WEB/app.css'"
check "a path climbing out is refused" test "$(code --path-as-is "$W/assets/../secret.txt")" = 404
check "an encoded one too" test "$(code --path-as-is "$W/assets/..%2Fsecret.txt")" = 404
check "and an encoded dot-dot" test "$(code --path-as-is "$W/assets/%2e%2e%2fsecret.txt")" = 404
check "nothing of the secret came back" sh -c "! grep -q secret '$T/body'"
check "a hidden file is not served" test "$(code "$W/assets/.hidden")" = 404
check "a missing file is 404" test "$(code "$W/assets/nope.js")" = 404
check "other paths are not the page" test "$(code "$W/index.html")" = 404

# Without a built dashboard the status page stays, saying so. The default directory is
# found beside the binary: a copy of it in a directory of its own has none.
mkdir -p "$T/inst/bin"
cp "$FARM" "$T/inst/bin/udcs-farm"
head -c 24 /dev/urandom | base64 >"$T/tok2"
"$T/inst/bin/udcs-farm" --state "$T/f2" --token-file "$T/tok2" --port 0 --web-port 0 \
    --port-file "$T/f2.ports" --log-file "$T/f2.log" &
F2=$!
_pids+=("$F2")
wait_for_port_file "$T/f2.ports" "$F2" udcs-farm "$T/f2.log"
W2="http://127.0.0.1:$(sed -n 2p "$T/f2.ports")"
check "without a dashboard / is the status page" sh -c "curl -sf '$W2/' | grep -q 'A plain status page'"
check "saying the dashboard is not built" sh -c "curl -sf '$W2/' | grep -q 'make web'"
kill "$F2"; wait "$F2" 2>/dev/null
mkdir -p "$T/inst/web"
cp "$WEB/index.html" "$WEB/app.js" "$T/inst/web/"
rm -f "$T/f2.ports"
"$T/inst/bin/udcs-farm" --state "$T/f2" --token-file "$T/tok2" --port 0 --web-port 0 \
    --port-file "$T/f2.ports" --log-file "$T/f2.log" &
F2=$!
_pids+=("$F2")
wait_for_port_file "$T/f2.ports" "$F2" udcs-farm "$T/f2.log"
W2="http://127.0.0.1:$(sed -n 2p "$T/f2.ports")"
check "BIN/../web is found by default" sh -c "curl -sf '$W2/' | grep -q 'test dashboard'"
kill "$F2"; wait "$F2" 2>/dev/null
# Under --auth-reads the page still loads; the event stream takes ?token=, nothing else does.
rm -f "$T/f2.ports"
"$T/inst/bin/udcs-farm" --state "$T/f2" --token-file "$T/tok2" --port 0 --web-port 0 \
    --port-file "$T/f2.ports" --log-file "$T/f2.log" --auth-reads &
F2=$!
_pids+=("$F2")
wait_for_port_file "$T/f2.ports" "$F2" udcs-farm "$T/f2.log"
W2="http://127.0.0.1:$(sed -n 2p "$T/f2.ports")"
T2=$(jq -rn --arg t "$(cat "$T/tok2")" '$t | @uri')   # base64 has + and /
sse_code() { curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$@"; }
check "--auth-reads: the page loads without a token" test "$(code "$W2/")" = 200
check "and its assets" test "$(code "$W2/assets/app.js")" = 200
check "the API does not" test "$(code "$W2/api/jobs")" = 401
check "nor the event stream" test "$(sse_code "$W2/api/events")" = 401
check "which takes ?token=" test "$(sse_code "$W2/api/events?token=$T2")" = 200
check "but not a wrong one" test "$(sse_code "$W2/api/events?token=nope")" = 403
check "no other route takes ?token=" test "$(code "$W2/api/jobs?token=$T2")" = 401
kill "$F2"; wait "$F2" 2>/dev/null
expect_status 2 "a --web-dir without index.html is refused" "$FARM" --no-auth --port 0 \
    --web-port 0 --state "$T/f3" --web-dir "$T/inst/bin"

# ---- the event stream, listening from here on ------------------------------------------------
curl -sN --max-time 12 "$W/api/events" >"$T/events.txt" 2>/dev/null &
EV=$!

# ---- devices and their load ----------------------------------------------------------------
dev() { curl -sf --max-time 5 "$W/api/devices" | jq -c ".devices[] | select(.name == \"a1\") | $1"; }
check "an agent reports its CPU load" wait_until 10 sh -c "curl -sf '$W/api/devices' | jq -e '.devices[0].load.cpu | type == \"number\" and . >= 0 and . <= 1'"
check "memory used and total" test "$(dev '.load.mem_total_gb > 0 and .load.mem_used_gb > 0 and .load.mem_used_gb <= .load.mem_total_gb')" = true
check "a GPU list" test "$(dev '.load.gpus | type')" = '"array"'
check "traffic counters" test "$(dev '.traffic | (.bytes_in | type) + (.bytes_out | type)')" = '"numbernumber"'
check "its state" test "$(dev '.state')" = '"idle"'
check "not drained" test "$(dev '.admin_drained')" = false
AID=$(dev '.id')
check "its series has samples" wait_until 10 sh -c "curl -sf '$W/api/devices/$AID/series' | jq -e '(.t | length) >= 2'"
curl -sf "$W/api/devices/$AID/series" >"$T/series.json"
check "one CPU value per time" test "$(jq '(.cpu | length) == (.t | length) and (.mem_used_gb | length) == (.t | length)' "$T/series.json")" = true
check "times in unix seconds, now" test "$(jq --argjson now "$(date +%s)" '.t[-1] > $now - 60 and .t[-1] <= $now + 1' "$T/series.json")" = true
check "load.t names the series' newest sample" sh -c "[ \"\$(curl -sf '$W/api/devices' | jq '.devices[0].load.t')\" = \"\$(curl -sf '$W/api/devices/$AID/series' | jq '.t[-1]')\" ]"
check "an unknown agent's series is 404" test "$(code "$W/api/devices/999/series")" = 404

# ---- a job: grid, blobs ------------------------------------------------------------------------
jq -n --arg flag "$T/flag" '{type: "EXEC", priority: 5, units: [range(8) | {argv: ["sh", "-c",
    "echo out-\(.); echo err-\(.) >&2; if [ \(.) = 5 ] && [ ! -f \($flag) ]; then exit 4; fi; echo \(.) > o.txt"],
    outputs: ["o.txt"]}]}' >"$T/job.json"
J=$("$UDCS" submit "$T/job.json")
expect_status 1 "a job with one failing unit fails" uwait "$J"
grid_matches() {   # the grid's letters are the units' states, in index order
    local id=$1
    curl -sf "$W/api/jobs/$id/grid" >"$T/grid.json" && job_json "$id" >"$T/jg.json" || return 1
    want=$(jq -r '[.unit_list | sort_by(.index)[] | {waiting: "w", queued: "q", running: "l",
        failed: "f", cancelled: "x"}[.state] // (if .cached then "c" else "d" end)] | join("")' "$T/jg.json")
    got=$(jq -r '.states' "$T/grid.json")
    echo "want $want got $got"
    [ -n "$got" ] && [ "$got" = "$want" ] && [ "$(jq '.n_units' "$T/grid.json")" = "${#got}" ]
}
check "the grid's letters match the units' states" grid_matches "$J"
check "the agent's traffic counts the outputs it sent" wait_until 10 sh -c "curl -sf '$W/api/devices' | jq -e '.devices[0].traffic.bytes_out > 0'"
check "unit 5 is the failed one" test "$(jq -r '.states[5:6]' "$T/grid.json")" = f
check "an unknown job's grid is 404" test "$(code "$W/api/jobs/99999/grid")" = 404

OUT_DIGEST=$(jq -r '.unit_list[] | select(.index == 2) | .result.stdout' "$T/jg.json")
check "a unit names its stdout" test -n "$OUT_DIGEST" -a "$OUT_DIGEST" != null
curl -sf -D "$T/blob.h" "$W/api/blobs/$OUT_DIGEST?type=text/plain" >"$T/blob.raw"
"$CAS" --cache-dir "$T/client" --remote "$FARM_URL" cat "$OUT_DIGEST" >"$T/blob.cas" 2>/dev/null
check "/api/blobs gives the raw bytes udcs-cas gets" cmp "$T/blob.raw" "$T/blob.cas"
check "which are the unit's stdout" test "$(cat "$T/blob.raw")" = out-2
check "as the type asked for" grep -qi '^content-type: text/plain' "$T/blob.h"
check "cached for good" grep -qi '^cache-control: max-age=31536000, immutable' "$T/blob.h"
curl -sf -D "$T/range.h" -H 'Range: bytes=-3' "$W/api/blobs/$OUT_DIGEST?type=text/plain" >"$T/range.raw"
check "Range: bytes=-3 gives the last three bytes" test "$(od -An -c "$T/range.raw" | tr -d ' ')" = '-2\n'
check "as 206 with Content-Range" sh -c "grep -q '^HTTP/1.1 206' '$T/range.h' && grep -qi '^content-range: bytes 3-5/6' '$T/range.h'"
check "bytes=1-2 the middle" test "$(curl -sf -H 'Range: bytes=1-2' "$W/api/blobs/$OUT_DIGEST")" = ut
check "a range past the end is 416" test "$(code -H 'Range: bytes=9-' "$W/api/blobs/$OUT_DIGEST")" = 416
check "octet-stream by default" test "$(ctype "/api/blobs/$OUT_DIGEST")" = application/octet-stream
check "a type outside the list is refused" test "$(code "$W/api/blobs/$OUT_DIGEST?type=text/html")" = 400
check "an unknown blob is 404" test "$(code "$W/api/blobs/0123456789abcdef0123456789abcdef")" = 404
check "a bad digest is 400" test "$(code "$W/api/blobs/..%2F..%2Fetc")" = 400

# ---- actions and their tokens ----------------------------------------------------------------------
post() { local path=$1; shift; code -X POST "$@" "$W$path"; }
check "priority without a token is 401" test "$(post "/api/jobs/$J/priority" --data '{"priority":8}')" = 401
check "with a wrong one 403" test "$(post "/api/jobs/$J/priority" -H 'Authorization: Bearer nope' --data '{"priority":8}')" = 403
check "with the token 200" test "$(post "/api/jobs/$J/priority" -H "$AUTH" --data '{"priority":8}')" = 200
check "answering the job with its new priority" test "$(jq '.priority' "$T/body")" = 8
check "shown in /api/jobs" test "$(job_json "$J" | jq '.priority')" = 8
check "priority 11 is 400" test "$(post "/api/jobs/$J/priority" -H "$AUTH" --data '{"priority":11}')" = 400
check "with a message" grep -q "from 1 to 10" "$T/body"
check "a body that is not JSON is 400" test "$(post "/api/jobs/$J/priority" -H "$AUTH" --data '{"prio')" = 400
check "an unknown job is 404" test "$(post "/api/jobs/99999/priority" -H "$AUTH" --data '{"priority":3}')" = 404
check "the API port takes it too" test "$(code -X POST -H "$AUTH" --data '{"priority":7}' "$FARM_URL/api/jobs/$J/priority")" = 200

check "retry without a token is 401" test "$(post "/api/jobs/$J/retry")" = 401
check "with a wrong one 403" test "$(post "/api/jobs/$J/retry" -H 'Authorization: Bearer nope')" = 403
# A job page's stream: this job's unit events, and no other job's.
curl -sN --max-time 30 "$W/api/events?units=$J" >"$T/units.txt" 2>/dev/null &
UEV=$!
check "?units= opens a stream" wait_until 5 grep -q '^retry: ' "$T/units.txt"
check "?units= must be a job id" test "$(sse_code "$W/api/events?units=abc")" = 400
touch "$T/flag"
check "retry requeues the failed unit" test "$(post "/api/jobs/$J/retry" -H "$AUTH")" = 200
check "saying how many" test "$(jq -c . "$T/body")" = "{\"job\":$J,\"retried\":1}"
check "and the job completes" wait_until 30 sh -c "[ \"\$(curl -sf '$W/api/jobs/$J' | jq -r .state)\" = done ]"
check "udcs wait agrees (not the first run's end)" uwait "$J"
check "all 8 done" test "$(job_json "$J" | jq '.units.done')" = 8
check "the grid says so" test "$(curl -sf "$W/api/jobs/$J/grid" | jq -r .states)" = dddddddd
check "the ?units= stream carried the retried unit" \
    wait_until 5 grep -q "^data: {\"job\":$J,\"unit\":5,\"state\":\"d\"" "$T/units.txt"
kill "$UEV"; wait "$UEV" 2>/dev/null
check "and only its job's unit events" test "$(grep '^data: {"job":' "$T/units.txt" | grep -vc "^data: {\"job\":$J,")" = 0
check "the grid names the first event it does not show" \
    test "$(curl -sf "$W/api/jobs/$J/grid" | jq '.seq | type == "number" and . > 0')" = true
check "retrying a job with no failed unit is 409" test "$(post "/api/jobs/$J/retry" -H "$AUTH")" = 409
expect_status 1 "udcs retry says so too" "$UDCS" retry "$J"
expect_output_contains "has no failed unit to retry"

# ---- drain and enable, across a restart --------------------------------------------------------------
check "drain without a token is 401" test "$(post "/api/agents/$AID/drain")" = 401
check "with a wrong one 403" test "$(post "/api/agents/$AID/drain" -H 'Authorization: Bearer nope')" = 403
check "an unknown agent is 404" test "$(post "/api/agents/999/drain" -H "$AUTH")" = 404
check "drain takes the token" test "$(post "/api/agents/$AID/drain" -H "$AUTH")" = 200
check "the agent shows draining" test "$(jq -c '[.state, .admin_drained]' "$T/body")" = '["draining",true]'
jq -n '{type: "EXEC", units: [range(3) | {argv: ["sh", "-c", "echo after-drain-\(.) > o.txt"], outputs: ["o.txt"]}]}' >"$T/job2.json"
J2=$("$UDCS" submit "$T/job2.json")
sleep 2
check "?type= keeps the jobs of that kind" test "$(curl -sf "$W/api/jobs?type=EXEC" | jq '[.total, (.jobs | map(.type) | unique)]' -c)" = '[2,["EXEC"]]'
check "and pages them" test "$(curl -sf "$W/api/jobs?type=EXEC&limit=1&offset=1" | jq -c '[.total, (.jobs | map(.id))]')" = "[2,[$J]]"
check "with the state filter" test "$(curl -sf "$W/api/jobs?type=EXEC&state=done" | jq -c '[.jobs[].id]')" = "[$J]"
check "a kind with no job: none" test "$(curl -sf "$W/api/jobs?type=RENDER" | jq -c '[.total, .jobs]')" = '[0,[]]'
check "a drained agent gets no lease" test "$(job_json "$J2" | jq '.units.queued')" = 3
check "why says so" sh -c "'$UDCS' job $J2 | grep -q 'drained by an operator'"
kill "$FARM_PID"; wait "$FARM_PID" 2>/dev/null
start_farm "$T/farm" "${FARM_ARGS[@]}" && ok "the master restarts" || not_ok "the master restarts"
W=$FARM_WEB_URL
check "the drain survived the restart" wait_until 10 sh -c "[ \"\$(curl -sf '$W/api/devices' | jq -c '.devices[0] | [.state, .admin_drained]')\" = '[\"draining\",true]' ]"
check "and so did the priority" test "$(job_json "$J" | jq '.priority')" = 7
sleep 1.5
check "still no lease" test "$(job_json "$J2" | jq '.units.queued')" = 3
check "enable takes the token" test "$(post "/api/agents/$AID/enable" -H "$AUTH")" = 200
check "the agent is back to work" test "$(jq -c '.admin_drained' "$T/body")" = false
check "udcs drain" sh -c "'$UDCS' drain $AID | grep -q 'agent $AID (a1) draining'"
check "udcs enable" sh -c "'$UDCS' enable $AID | grep -q 'agent $AID (a1) idle'"
check "udcs priority" sh -c "'$UDCS' priority $J 3 | grep -q 'job $J priority 3'"
expect_status 2 "udcs priority refuses 0" "$UDCS" priority "$J" 0
expect_status 3 "udcs drain of an unknown agent is not found" "$UDCS" drain 999
check "and the job completes" uwait "$J2"

# ---- events --------------------------------------------------------------------------------------
wait "$EV" 2>/dev/null
check "the stream carried agent events" grep -q '^event: agent$' "$T/events.txt"
check "job events" grep -q '^event: job$' "$T/events.txt"
check "no unit events without ?units=" test "$(grep -c '^event: unit$' "$T/events.txt")" = 0
check "metrics events" grep -q '^event: metrics$' "$T/events.txt"
check "every event has an id" test "$(grep -c '^event: ' "$T/events.txt")" = "$(grep -c '^id: ' "$T/events.txt")"
# Resume: after an event of this master's ring, the next comes first.
curl -sN --max-time 3 "$W/api/events" >"$T/ev2.txt" 2>/dev/null
MID=$(grep '^id: ' "$T/ev2.txt" | sed -n 1p | cut -d' ' -f2)
check "a fresh stream carries events" test -n "$MID"
curl -sN --max-time 2 -H "Last-Event-ID: $((MID - 1))" "$W/api/events" >"$T/ev3.txt" 2>/dev/null
check "Last-Event-ID resumes right after it" test "$(grep '^id: ' "$T/ev3.txt" | sed -n 1p | cut -d' ' -f2)" = "$MID"
check "without repeating" test "$(grep -c "^id: $MID\$" "$T/ev3.txt")" = 1
# 70 dashboards at once, beside the agent: every stream is served, the API still answers.
for i in $(seq 1 70); do
    curl -sN --max-time 4 -o /dev/null -w '%{http_code}\n' "$W/api/events" >"$T/many.$i" 2>/dev/null &
done
sleep 2
check "with 70 event streams open the API answers" sh -c "curl -sf --max-time 2 '$W/api/devices' | jq -e '.devices | length == 1'"
wait_streams() { for i in $(seq 1 70); do wait_until 10 test -s "$T/many.$i" || return 1; done; }
wait_streams
check "and all 70 streams were served" test "$(cat "$T"/many.* | grep -c '^200$')" = 70
check "metrics series has samples" wait_until 12 sh -c "curl -sf '$W/api/metrics/series' | jq -e '.interval_s == 5 and (.t | length) >= 1 and (.units_done | length) == (.t | length)'"
check "counting the units done" test "$(curl -sf "$W/api/metrics/series" | jq '.units_done[-1] >= 3')" = true

done_testing
