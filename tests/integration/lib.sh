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
    local i
    for i in $(seq 1 500); do
        [ -s "$dir/port" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.02
    done
    if [ ! -s "$dir/port" ]; then
        echo "# udcs-cas serve did not start:"; sed 's/^/# /' "$dir/server.log"
        return 1
    fi
    SERVER_URL="http://127.0.0.1:$(cat "$dir/port")"
}

done_testing() {
    echo "1..$_n"
    [ "$_failed" -eq 0 ]
}
