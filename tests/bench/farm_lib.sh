# tests/bench/farm_lib.sh - what the benchmarks that run a farm share (run_render.sh,
# run_encode.sh): a clean environment under $B, tests/integration/lib.sh's servers, the
# failure list, small arithmetic, and a new master with new agents per run. Source it
# with B set (the benchmark's directory, emptied here) and ROOT (the checkout).
: "${B:?}" "${ROOT:?}"
rm -rf "$B"
mkdir -p "$B/home"
# Nothing from the user's configuration, store or farm; agents find UDCS's programs on PATH.
export XDG_CONFIG_HOME=/nonexistent UDCS_SYSTEM_CONFIG="" HOME="$B/home" TMPDIR="$B"
unset UDCS_CONFIG UDCS_FARM UDCS_TOKEN UDCS_CACHE_DIR UDCS_REMOTE UDCS_TOKEN_FILE UDCS_LOG_LEVEL
export PATH="$UDCS_BIN:$PATH"
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"   # T (under $B), start_farm, start_agent, agents_idle
set -euo pipefail
STATUS=0
FAILURES=()
trap 'stop_farm; if [ "$STATUS" -eq 0 ]; then rm -rf "$T"; else echo "bench: logs kept in $T" >&2; fi' EXIT

log() { echo "bench: $*" >&2; }
fail() { log "FAILED: $*"; FAILURES+=("$*"); STATUS=1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

stop_farm() {
    local i
    for ((i = ${#_pids[@]} - 1; i >= 0; i--)); do kill "${_pids[i]}" 2>/dev/null || true; done
    for ((i = ${#_pids[@]} - 1; i >= 0; i--)); do wait "${_pids[i]}" 2>/dev/null || true; done
    _pids=()   # agents first, then the master
}
# farm_up AGENTS: a master on a new state directory and AGENTS agents of one slot with
# new work directories; sets FDIR (this run's directory) and UDCS_CACHE_DIR (a new store).
RUN=0
farm_up() {
    RUN=$((RUN + 1))
    FDIR=$T/run$RUN
    unset FARM_PORT   # lib.sh reuses the last port on a restart; this is a new master
    start_farm "$FDIR" --log-level warn || { fail "run $RUN: the master did not start"; return 1; }
    local i
    for i in $(seq 1 "$1"); do
        start_agent "run$RUN-agent$i" --slots 1 --log-level warn
    done
    wait_until 30 agents_idle "$1" || { fail "run $RUN: $1 agents did not register"; return 1; }
    export UDCS_CACHE_DIR="$FDIR/client-store"
}
