#!/usr/bin/env bash
# tests/bench/run_farm.sh - the farm on loopback, against running the same trivial unit
# (`true`) here:
#   (a) round trip of one unit through master and one agent, submit to job end (p50, p99),
#       beside starting `true` locally;
#   (b) units per second through the whole system with 4 agents, beside `xargs -P`;
#   (c) master capacity: 1,000 simulated agents (tests/bench/bench_farm.c speaks the
#       agent protocol) take 100,000 queued units: scheduling rate, request latency, and
#       the master's memory with every agent connected.
# Results go to stdout and to build/bench/results-farm.md.
set -euo pipefail
: "${UDCS_BIN:?}" "${UDCS_TESTBIN:?}"
B=${BENCH_DIR:-$(pwd)/build/bench}/farm
RTT_COUNT=${BENCH_RTT_COUNT:-500}
TP_UNITS=${BENCH_TP_UNITS:-2000}
LOAD_AGENTS=${BENCH_LOAD_AGENTS:-1000}
LOAD_UNITS=${BENCH_LOAD_UNITS:-100000}
BENCH="$UDCS_TESTBIN/bench_farm"
rm -rf "$B"
mkdir -p "$B"
head -c 24 /dev/urandom | base64 >"$B/token"
TOKEN=$(cat "$B/token")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

start_farm() {   # start_farm NAME [ARGS...]: sets URL, FARM
    local name=$1; shift
    "$UDCS_BIN/udcs-farm" --state "$B/$name" --token-file "$B/token" --port 0 --no-web \
        --port-file "$B/$name.ports" --log-file "$B/$name.log" --log-level warn "$@" &
    FARM=$!
    pids+=("$FARM")
    for _ in $(seq 1 500); do [ -s "$B/$name.ports" ] && break; sleep 0.02; done
    URL="http://127.0.0.1:$(sed -n 1p "$B/$name.ports")"
}
start_agents() {   # start_agents COUNT SLOTS
    for i in $(seq 1 "$1"); do
        "$UDCS_BIN/udcs-agent" --farm "$URL" --token-file "$B/token" --name "bench-$i" \
            --slots "$2" --work-dir "$B/agent-$i" --log-file "$B/agent-$i.log" --log-level warn &
        pids+=($!)
    done
    for _ in $(seq 1 200); do
        [ "$(curl -sf "$URL/api/devices" | grep -o '"status":"idle"' | wc -l)" -ge "$1" ] && return 0
        sleep 0.05
    done
    echo "bench: the agents did not register"; exit 1
}

echo "bench: (a) round trip, $RTT_COUNT jobs of one unit"
start_farm rtt
start_agents 1 1
"$BENCH" rtt "$URL" "$TOKEN" "$RTT_COUNT" >"$B/rtt.out"
"$BENCH" local "$RTT_COUNT" >"$B/local.out"
cleanup; pids=()

echo "bench: (b) throughput, one job of $TP_UNITS units on 4 agents"
start_farm tp
start_agents 4 1
"$BENCH" throughput "$URL" "$TOKEN" "$TP_UNITS" >"$B/tp.out"
t0=$(date +%s%N)
seq "$TP_UNITS" | xargs -P "$(nproc)" -n 1 true
xargs_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
cleanup; pids=()

echo "bench: (c) master capacity, $LOAD_AGENTS simulated agents, $LOAD_UNITS units"
# Simulated agents send no heartbeats: a long lease keeps their units theirs meanwhile.
start_farm load --lease-ttl-ms 600000 --heartbeat-ms 60000
"$BENCH" load "$URL" "$TOKEN" "$LOAD_AGENTS" "$LOAD_UNITS" 100 >"$B/load.out" &
bench=$!
rss="" threads=""
for _ in $(seq 1 600); do
    if grep -q '^result_p99_ms' "$B/load.out"; then
        sleep 2   # every agent is in its long poll now
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$FARM/status")
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$FARM/status")
        threads=$(awk '/^Threads/ {print $2}' "/proc/$FARM/status")
        break
    fi
    sleep 0.5
done
wait "$bench"
cleanup; pids=()

{
    echo "# UDCS farm benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
    echo
    echo "## (a) one trivial unit (\`true\`), submit to job end, $RTT_COUNT times"
    echo
    echo "| | p50 | p99 |"
    echo "| --- | --- | --- |"
    echo "| through master and agent (loopback) | $(field rtt_p50_ms "$B/rtt.out") ms | $(field rtt_p99_ms "$B/rtt.out") ms |"
    echo "| \`true\` started here (udcs_proc) | $(field local_p50_ms "$B/local.out") ms | $(field local_p99_ms "$B/local.out") ms |"
    echo
    echo "## (b) one job of $TP_UNITS trivial units, 4 agents of 1 slot"
    echo
    echo "| | time | units/s |"
    echo "| --- | --- | --- |"
    echo "| farm | $(field throughput_s "$B/tp.out") s | $(field throughput_units_per_s "$B/tp.out") |"
    echo "| \`xargs -P $(nproc) true\` here | $xargs_s s | $(awk -v n="$TP_UNITS" -v t="$xargs_s" 'BEGIN { printf "%.0f", n / t }') |"
    echo
    echo "## (c) master capacity: $LOAD_AGENTS simulated agents, $LOAD_UNITS queued units"
    echo
    echo "| measure | value |"
    echo "| --- | --- |"
    echo "| submit of the $LOAD_UNITS-unit job | $(field submit_s "$B/load.out") s |"
    echo "| units scheduled (leased) per second | $(field scheduled_units_per_s "$B/load.out") |"
    echo "| results accepted per second | $(field reported_units_per_s "$B/load.out") |"
    echo "| lease request latency p50 / p99 (all $LOAD_AGENTS agents asking at once) | $(field lease_p50_ms "$B/load.out") / $(field lease_p99_ms "$B/load.out") ms |"
    echo "| result request latency p50 / p99 | $(field result_p50_ms "$B/load.out") / $(field result_p99_ms "$B/load.out") ms |"
    echo "| master RSS with $(field idle_agents_connected "$B/load.out") agents connected (long polling), after $LOAD_UNITS units | $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB), $threads threads |"
} | tee "$(dirname "$B")/results-farm.md"
