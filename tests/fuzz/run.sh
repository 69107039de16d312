#!/usr/bin/env bash
# tests/fuzz/run.sh - run libFuzzer targets for a while each and say how it went.
#
#   tests/fuzz/run.sh FUZZ_BIN_DIR SECONDS TARGET...
#
# FUZZ_BIN_DIR holds the built targets (build/fuzz/fuzz); the scratch space is its parent
# (build/fuzz). For each target named fuzz_X (a path or a bare name):
#   1. replay tests/fuzz/regressions/fuzz_X/* (known bugs; each must now pass),
#   2. copy the seeds tests/fuzz/corpus/fuzz_X/ into build/fuzz/corpus/fuzz_X/ (which keeps
#      what earlier runs found; the source tree is never written),
#   3. fuzz for SECONDS with -rss_limit_mb=2048 -timeout=10, crash files going to
#      build/fuzz/crashes/fuzz_X/ and the full output to build/fuzz/logs/fuzz_X.log.
# It prints one line per target (name, runs, coverage, result) and exits 1 if any target
# crashed, failed a regression or could not run; 2 on bad usage.
#
# Environment: FUZZ_EXTRA_ARGS (more libFuzzer flags, e.g. "-jobs=2"), ASAN_OPTIONS and
# UBSAN_OPTIONS (defaults below make every sanitizer report fatal).
set -u
set -o pipefail

usage() {
    echo "usage: $0 FUZZ_BIN_DIR SECONDS TARGET..." >&2
    echo "  e.g. $0 build/fuzz/fuzz 60 build/fuzz/fuzz/fuzz_json_parse" >&2
    exit 2
}

[ $# -ge 3 ] || usage
bin_dir=$1
seconds=$2
shift 2
case $seconds in
'' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$seconds'" >&2; usage ;;
esac
seconds=$((10#$seconds))   # "060" is sixty, not octal
[ "$seconds" -gt 0 ] || { echo "run.sh: SECONDS must be at least 1" >&2; usage; }
if [ ! -d "$bin_dir" ]; then
    echo "run.sh: no directory $bin_dir; build the targets first with 'make fuzz'" >&2
    exit 2
fi

src_dir=$(cd "$(dirname "$0")" && pwd)          # tests/fuzz in the source tree
work_dir=$(cd "$bin_dir/.." && pwd)             # build/fuzz
bin_dir=$(cd "$bin_dir" && pwd)
case $work_dir/ in
"$src_dir"/*)
    echo "run.sh: scratch space $work_dir is inside tests/fuzz; refusing to write there" >&2
    exit 2 ;;
esac

# UndefinedBehaviorSanitizer only prints and goes on unless told to stop; a report must
# count as a crash. Callers' own settings come after ours, so they win.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
extra_args=()
if [ -n "${FUZZ_EXTRA_ARGS:-}" ]; then
    read -r -a extra_args <<<"$FUZZ_EXTRA_ARGS"
fi

mkdir -p "$work_dir/corpus" "$work_dir/crashes" "$work_dir/logs" || exit 1

failed=0
printf '%-24s %12s %10s  %s\n' target runs coverage result

for target in "$@"; do
    name=$(basename "$target")
    exe=$bin_dir/$name
    if [ -f "$target" ] && [ -x "$target" ]; then
        exe=$target
    fi
    log=$work_dir/logs/$name.log
    corpus=$work_dir/corpus/$name
    crashes=$work_dir/crashes/$name
    seeds=$src_dir/corpus/$name
    regressions=$src_dir/regressions/$name

    if [ ! -x "$exe" ]; then
        printf '%-24s %12s %10s  %s\n' "$name" - - "NOT BUILT: no executable $exe"
        failed=$((failed + 1))
        continue
    fi
    mkdir -p "$corpus" "$crashes" || exit 1
    : >"$log"

    # 1. Known reproducers: each file is run once; any failure is reported by name.
    regress_failed=()
    if [ -d "$regressions" ]; then
        for f in "$regressions"/*; do
            [ -f "$f" ] || continue
            case $(basename "$f") in README*) continue ;; esac   # notes on the bugs
            echo "== regression $f" >>"$log"
            if ! "$exe" -rss_limit_mb=2048 -timeout=10 -runs=1 "$f" >>"$log" 2>&1; then
                regress_failed+=("$(basename "$f")")
            fi
        done
    fi

    # 2. Seeds into the scratch corpus.
    if [ -d "$seeds" ]; then
        # Writable copies: libFuzzer replaces corpus files with smaller ones as it goes.
        if ! { cp -R "$seeds"/. "$corpus"/ && chmod -R u+w "$corpus"; }; then
            printf '%-24s %12s %10s  %s\n' "$name" - - "ERROR: cannot copy seeds from $seeds"
            failed=$((failed + 1))
            continue
        fi
    else
        echo "run.sh: warning: $name has no seed corpus at $seeds; starting from nothing" >&2
    fi

    # 3. Fuzz. A deadline a little past max_total_time ends a target that hangs outside
    # libFuzzer's own timer (a stuck exit handler, for instance).
    echo "== fuzzing for ${seconds}s" >>"$log"
    # Crash files are named by content, so a crash found again rewrites an old file: look
    # for files written since this marker rather than counting them.
    marker=$work_dir/logs/.$name.started
    touch "$marker" || exit 1
    timeout --kill-after=10 $((seconds + 60)) "$exe" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$crashes/" ${extra_args[@]+"${extra_args[@]}"} "$corpus" >>"$log" 2>&1
    rc=$?

    # Read only what the fuzzing printed, not the regression replays before it.
    fuzz_out=$(sed -n '/^== fuzzing for/,$p' "$log")
    runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' <<<"$fuzz_out" | tail -n 1 |
           grep -oE '[0-9]+$')
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' <<<"$fuzz_out" | tail -n 1 | tr -d '#')
    cov=$(grep -oE 'cov: [0-9]+' <<<"$fuzz_out" | tail -n 1 | grep -oE '[0-9]+$')
    # slow-unit-* files are notes on slow inputs, not failures
    newest=$(find "$crashes" -type f -newer "$marker" ! -name 'slow-unit-*' -printf '%T@ %p\n' |
             sort -n | tail -n 1 | cut -d' ' -f2-)

    result=ok
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            result="HUNG: killed after $((seconds + 60))s, see $log"
        elif [ -n "$newest" ]; then
            pattern='invariant broken at [^ ]+|ERROR: [A-Za-z]+Sanitizer: [a-z-]+'
            pattern+='|runtime error|ERROR: libFuzzer: [a-z -]+'
            why=$(grep -m 1 -oE "$pattern" <<<"$fuzz_out" | head -n 1)
            result="CRASH (${why:-exit $rc}): $newest"
        else
            result="FAILED: exit $rc without a crash file, see $log"
        fi
    fi
    if [ "${#regress_failed[@]}" -gt 0 ]; then
        reg="REGRESSION FAILS: ${regress_failed[*]} (in $regressions)"
        if [ "$result" = ok ]; then result=$reg; else result="$result; $reg"; fi
    fi
    [ "$result" = ok ] || failed=$((failed + 1))
    printf '%-24s %12s %10s  %s\n' "$name" "${runs:-?}" "${cov:-?}" "$result"
done

echo "fuzz: $# target(s), $failed failed; logs in $work_dir/logs"
[ "$failed" -eq 0 ]
