#!/usr/bin/env bash
# tests/integration/test_dashboard.sh - the web dashboard in Debian's Chromium, driven by
# tests/e2e/dashboard.mjs (playwright-core from web/node_modules): a master with a token and
# two agents on loopback; devices with their hardware, a job's progress live, a render's
# thumbnails (also under --auth-reads), a 3,000-unit job's grid, queue filters in the
# address, cancel with
# and without the token, an agent killed and shown lost, the page's numbers against the
# API, and screenshots of every view in light and dark (the folder is printed).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WEB_DIR=${UDCS_WEB_DIR:-$UDCS_BIN/../web}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
. "$ROOT/tests/e2e/requirements.sh"
if why=$(dashboard_missing); then echo "1..0 # SKIP $why"; exit 0; fi

# Screenshots outlive the test's temporary folder: they go beside the build.
OUT=${UDCS_DASHBOARD_SHOTS:-$UDCS_BIN/../test-output/dashboard}
rm -rf "$OUT"
mkdir -p "$OUT"
echo "# screenshots: $(cd "$OUT" && pwd)"

start_farm "$T/farm" --web-dir "$WEB_DIR" --lease-ttl-ms 2000 --heartbeat-ms 300 \
    || { not_ok "master starts"; done_testing; exit 1; }
ok "master starts"
# Agents find udcs-trace (the render units' program) on PATH.
export PATH="$UDCS_BIN:$PATH"
start_agent gpu1 --slots 2 --gpu-cuda --gpu-memory 8GB
start_agent cpu1 --slots 2
check "two agents register" wait_until 20 agents_idle 2
check "GET / serves the dashboard" sh -c "curl -sf '$FARM_WEB_URL/' | grep -q '/assets/app.js'"
check "GET /assets/app.js is JavaScript" sh -c \
    "curl -sf -o /dev/null -w '%{content_type}' '$FARM_WEB_URL/assets/app.js' | grep -q javascript"

# A second master that wants the token for reads too (--auth-reads): the page must ask.
first_farm=("$FARM_URL" "$FARM_WEB_URL" "$FARM_TOKEN_FILE")
unset FARM_PORT
start_farm "$T/farm-auth" --web-dir "$WEB_DIR" --auth-reads \
    || { not_ok "a master with --auth-reads starts"; done_testing; exit 1; }
AUTH_WEB_URL=$FARM_WEB_URL AUTH_TOKEN=$(cat "$FARM_TOKEN_FILE")
AUTH_URL=$FARM_URL AUTH_TOKEN_FILE=$FARM_TOKEN_FILE
# One agent there, for a render job whose thumbnails need the token too.
start_agent auth1 --slots 2
check "an agent registers with the --auth-reads master" wait_until 20 sh -c \
    "curl -sf -H 'Authorization: Bearer $AUTH_TOKEN' '$AUTH_URL/api/devices' | jq -e '.devices | length == 1'"
FARM_URL=${first_farm[0]} FARM_WEB_URL=${first_farm[1]} FARM_TOKEN_FILE=${first_farm[2]}
export UDCS_FARM=$FARM_URL UDCS_TOKEN_FILE=$FARM_TOKEN_FILE   # udcs-render's, in the browser test

# Chromium writes its crash-report settings under XDG_CONFIG_HOME (tests/run.sh points it at
# /nonexistent, which it would then create): give it the test's own folder.
XDG_CONFIG_HOME=$T/xdg-config XDG_CACHE_HOME=$T/xdg-cache \
UDCS_BIN=$UDCS_BIN SCENE=$ROOT/scenes/cornell.scn \
WEB_URL=$FARM_WEB_URL TOKEN=$(cat "$FARM_TOKEN_FILE") AUTH_WEB_URL=$AUTH_WEB_URL AUTH_TOKEN=$AUTH_TOKEN \
AUTH_URL=$AUTH_URL AUTH_TOKEN_FILE=$AUTH_TOKEN_FILE OUT=$OUT CHROMIUM=$CHROMIUM \
AGENT_GPU_NAME=gpu1 AGENT_KILL_NAME=cpu1 AGENT_KILL_PID=${AGENT_PIDS[cpu1]} \
    timeout 240 node "$ROOT/tests/e2e/dashboard.mjs" >"$T/e2e.out" 2>&1
rc=$?
# Number the browser's TAP lines into this script's plan.
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        "#"*) echo "$line" ;;
        *) echo "# $line" ;;
    esac
done <"$T/e2e.out"
[ "$rc" -eq 0 ] || [ "$_failed" -gt 0 ] || not_ok "the browser test ended with status $rc"
check "screenshots of every view, light and dark" test "$(ls "$OUT"/*-dark.png 2>/dev/null | wc -l)" -eq 7
done_testing
