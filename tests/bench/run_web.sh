#!/usr/bin/env bash
# tests/bench/run_web.sh - the web dashboard's benchmark (tests/e2e/bench_dashboard.mjs in
# headless Chromium) against a master and two agents on loopback: time to first render of
# the dashboard and of job pages of 10,000 and 100,000 units, the latency from a unit
# finishing to the page showing it, and the master's CPU with 20 open dashboards over 30 s.
# Results: build/bench/results-web.md. Skips, saying why, without node, Chromium or the
# built page.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${UDCS_BIN:?}"
B=${BENCH_DIR:-$ROOT/build/bench}/web
RESULTS=${BENCH_DIR:-$ROOT/build/bench}/results-web.md
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
. "$ROOT/tests/e2e/requirements.sh"
if why=$(dashboard_missing); then echo "bench: web skipped: $why"; exit 0; fi
. "$ROOT/tests/bench/farm_lib.sh"   # B emptied; T, start_farm, start_agent, fail

start_farm "$B/farm" --log-level warn || { fail "the master did not start"; exit 1; }
start_agent web1 --slots 2 --log-level warn
start_agent web2 --slots 2 --log-level warn
wait_until 30 agents_idle 2 || { fail "the agents did not register"; exit 1; }

# Chromium's settings go under the benchmark's folder, not the user's (farm_lib.sh's
# XDG_CONFIG_HOME is /nonexistent, which it would create).
XDG_CONFIG_HOME=$B/xdg-config XDG_CACHE_HOME=$B/xdg-cache \
WEB_URL=$FARM_WEB_URL TOKEN=$(cat "$FARM_TOKEN_FILE") FARM_PID=$FARM_PID CLK_TCK=$(getconf CLK_TCK) \
RESULTS=$RESULTS CHROMIUM=$CHROMIUM DASHBOARDS=${BENCH_DASHBOARDS:-20} MEASURE_S=${BENCH_MEASURE_S:-30} RUNS=${BENCH_RUNS:-5} \
    node "$ROOT/tests/e2e/bench_dashboard.mjs" || fail "the browser benchmark failed"
[ "$STATUS" -eq 0 ] && echo "bench: results in $RESULTS"
exit "$STATUS"
