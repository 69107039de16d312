#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: every benchmark script (tests/bench/run_*.sh), one
# after the other; BENCH_ONLY=cas (or compile, encode, farm, kernel, render) runs one. Results:
# build/bench/*.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
for script in "$here"/run_*.sh; do
    name=$(basename "$script" .sh)
    name=${name#run_}
    [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$name" ] && continue
    echo "==== benchmark: $name"
    bash "$script" || status=1
done
exit $status
