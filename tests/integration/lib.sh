# tests/integration/lib.sh - TAP output, temporary directories and real servers for the
# integration tests. Source it; every test script runs under tests/run.sh.
set -u
: "${UDCS_BIN:?set UDCS_BIN to the directory holding the UDCS binaries}"
CAS="$UDCS_BIN/udcs-cas"

T=$(mktemp -d "${TMPDIR:-/tmp}/udcs-it.XXXXXX")
_n=0
_failed=0
_pids=()

cleanup() {
    for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what=$1; shift
    if "$@" >"$T/.out" 2>&1; then ok "$what"; else not_ok "$what"; sed 's/^/# /' "$T/.out"; fi
}

# expect_status N DESCRIPTION COMMAND...: passes when the command exits with status N.
expect_status() {
    local want=$1 what=$2; shift 2
    "$@" >"$T/.out" 2>&1
    local got=$?
    if [ "$got" -eq "$want" ]; then ok "$what"; else
        not_ok "$what (exit $got, wanted $want)"; sed 's/^/# /' "$T/.out"; fi
}

# expect_output_contains TEXT: the last command's output (in $T/.out) contains TEXT.
expect_output_contains() {
    if grep -qF -- "$1" "$T/.out"; then ok "message says: $1"; else
        not_ok "message should say: $1"; sed 's/^/# /' "$T/.out"; fi
}

# wait_for_port_file FILE PID NAME LOG: wait (10 s at most) until a server started in the
# background has written its port file; if it dies or never does, show its log and fail.
wait_for_port_file() {
    local file=$1 pid=$2 name=$3 log=$4 i
    for i in $(seq 1 500); do
        [ -s "$file" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    [ -s "$file" ] && return 0
    echo "# $name did not start:"; [ -f "$log" ] && sed 's/^/# /' "$log"
    return 1
}

# start_cas_server DIR [ARGS...]: run `udcs-cas serve` on an ephemeral port with a token;
# sets SERVER_URL, SERVER_TOKEN_FILE, SERVER_PID.
start_cas_server() {
    local dir=$1; shift
    mkdir -p "$dir"
    SERVER_TOKEN_FILE="$dir/token"
    head -c 24 /dev/urandom | base64 >"$SERVER_TOKEN_FILE"
    rm -f "$dir/port"
    "$CAS" serve --cache-dir "$dir/store" --listen 127.0.0.1:0 --port-file "$dir/port" \
        --token-file "$SERVER_TOKEN_FILE" "$@" 2>"$dir/server.log" &
    SERVER_PID=$!
    _pids+=("$SERVER_PID")
    wait_for_port_file "$dir/port" "$SERVER_PID" "udcs-cas serve" "$dir/server.log" || return 1
    SERVER_URL="http://127.0.0.1:$(cat "$dir/port")"
}

done_testing() {
    echo "1..$_n"
    [ "$_failed" -eq 0 ]
}

FARM="$UDCS_BIN/udcs-farm"
AGENT="$UDCS_BIN/udcs-agent"
UDCS="$UDCS_BIN/udcs"

# start_farm DIR [ARGS...]: a master on ephemeral ports with a token; sets FARM_URL,
# FARM_PORT, FARM_WEB_URL, FARM_TOKEN_FILE, FARM_PID. Restartable on the same DIR.
start_farm() {
    local dir=$1; shift
    mkdir -p "$dir"
    FARM_TOKEN_FILE="$dir/token"
    [ -s "$FARM_TOKEN_FILE" ] || head -c 24 /dev/urandom | base64 >"$FARM_TOKEN_FILE"
    rm -f "$dir/ports"
    "$FARM" --state "$dir/state" --token-file "$FARM_TOKEN_FILE" --port "${FARM_PORT:-0}" \
        --web-port 0 --port-file "$dir/ports" --log-file "$dir/farm.log" "$@" &
    FARM_PID=$!
    _pids+=("$FARM_PID")
    wait_for_port_file "$dir/ports" "$FARM_PID" udcs-farm "$dir/farm.log" || return 1
    FARM_PORT=$(sed -n 1p "$dir/ports")
    FARM_URL="http://127.0.0.1:$FARM_PORT"
    FARM_WEB_URL="http://127.0.0.1:$(sed -n 2p "$dir/ports")"
    export UDCS_FARM="$FARM_URL" UDCS_TOKEN_FILE="$FARM_TOKEN_FILE"
}

# start_agent NAME [ARGS...]: an agent of the farm started by start_farm; sets
# AGENT_PID (also kept in AGENT_PIDS[NAME]).
declare -A AGENT_PIDS
start_agent() {
    local name=$1; shift
    mkdir -p "$T/agents"
    "$AGENT" --farm "$FARM_URL" --token-file "$FARM_TOKEN_FILE" --name "$name" \
        --work-dir "$T/agents/$name" --log-file "$T/agents/$name.log" --lease-wait-ms 2000 "$@" &
    AGENT_PID=$!
    AGENT_PIDS[$name]=$AGENT_PID
    _pids+=("$AGENT_PID")
}

# wait_until SECONDS COMMAND...: poll until the command succeeds; fails after SECONDS.
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    while [ "$SECONDS" -lt "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# job_field ID EXPR: a field of GET /api/jobs/ID, through a tiny JSON path ("state",
# "units.done", "cache_hits").
job_json() { curl -sf --max-time 20 "$FARM_URL/api/jobs/$1?limit=100000"; }
agents_idle() { [ "$(curl -sf --max-time 5 "$FARM_URL/metrics" | awk '$1 == "udcs_agents{state=\"idle\"}" {print $2}')" = "$1" ]; }
metric() { curl -sf --max-time 5 "$FARM_URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# uwait ID: udcs wait, bounded so a broken farm fails the test instead of hanging it.
uwait() { timeout "${WAIT_LIMIT:-120}" "$UDCS" wait "$@"; }
