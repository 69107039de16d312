#!/usr/bin/env bash
# tests/run.sh - run every test program and integration script, count TAP results, and
# end with one line: "N passed, N failed". Each program gets a time limit; a program
# that crashes or ends badly without reporting a failure counts as one failed test.
#
# Environment: UDCS_BIN (the binaries), UDCS_TESTBIN (the unit test programs),
# TEST_FILTER (optional substring: run only matching programs), UDCS_SANITIZER_LOGS (set
# by `make asan`: every process a test starts, daemons included, writes its sanitizer
# reports under this directory; each report counts as a failure of the test that ran).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${UDCS_BIN:?set UDCS_BIN to the directory holding udcs-cas}"
: "${UDCS_TESTBIN:?set UDCS_TESTBIN to the directory holding the test programs}"
export UDCS_BIN UDCS_TESTBIN
export CMOCKA_MESSAGE_OUTPUT=TAP
# Tests must not read the user's configuration or write to the user's cache.
export XDG_CONFIG_HOME=/nonexistent UDCS_SYSTEM_CONFIG= HOME=${TMPDIR:-/tmp}/udcs-test-home.$$
unset UDCS_CONFIG UDCS_FARM UDCS_TOKEN UDCS_CACHE_DIR UDCS_REMOTE UDCS_TOKEN_FILE UDCS_MAXSIZE UDCS_LOG_LEVEL
mkdir -p "$HOME"
trap 'rm -rf "$HOME"' EXIT

PROGRAM_TIMEOUT=${PROGRAM_TIMEOUT:-300}
passed=0
failed=0
failures=()

run_one() {
    local name=$1; shift
    local log
    log=$(mktemp)
    local start=$SECONDS
    local san=
    if [ -n "${UDCS_SANITIZER_LOGS:-}" ]; then
        san="$UDCS_SANITIZER_LOGS/$name"
        rm -rf "$san"
        mkdir -p "$san"
    fi
    ASAN_OPTIONS="${ASAN_OPTIONS:-}${san:+:log_path=$san/asan}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${san:+:log_path=$san/ubsan}" \
        timeout --kill-after=10 "$PROGRAM_TIMEOUT" "$@" >"$log" 2>&1
    local rc=$?
    local p f k
    # TAP: "ok" passes, "not ok" fails, either with "# SKIP" is a skip (cmocka writes its
    # skipped tests as "not ok N - name # SKIP")
    p=$(grep -E '^ok ' "$log" | grep -cvE '# (SKIP|skip)')
    f=$(grep -E '^not ok ' "$log" | grep -cvE '# (SKIP|skip)')
    k=$(grep -E '^(not )?ok ' "$log" | grep -cE '# (SKIP|skip)')
    if [ -n "$san" ]; then
        local report
        for report in "$san"/*; do
            [ -s "$report" ] || continue
            f=$((f + 1))
            { echo "not ok - $name: sanitizer report $(basename "$report"):"; head -n 40 "$report"; } >>"$log"
        done
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "not ok - $name: timed out after ${PROGRAM_TIMEOUT}s" >>"$log"
        else
            echo "not ok - $name: exited with status $rc" >>"$log"
        fi
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-40s %4d passed %4d failed  (%ds)%s\n' "$name" "$p" "$f" $((SECONDS - start)) \
        "$([ "$k" -gt 0 ] && echo "  $k skipped: $(grep -E '^(not )?ok ' "$log" | grep -E '# (SKIP|skip)' | head -n 1 | sed 's/.*# [Ss][Kk][Ii][Pp] *//')")"
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        sed 's/^/    | /' "$log" | grep -vE '^    \| ok ' | tail -n 60
    fi
    rm -f "$log"
}

for t in "$UDCS_TESTBIN"/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    [ -n "${TEST_FILTER:-}" ] && [[ $name != *"$TEST_FILTER"* ]] && continue
    run_one "$name" "$t"
done
for t in "$here"/integration/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t")
    [ -n "${TEST_FILTER:-}" ] && [[ $name != *"$TEST_FILTER"* ]] && continue
    run_one "$name" bash "$t"
done

if [ ${#failures[@]} -ne 0 ]; then
    echo "failing programs: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
