#!/usr/bin/env bash
# tests/bench/run_kernel.sh - GPU kernels through the farm against the same kernels
# launched directly in one process, in one run on this machine (master and agents on
# loopback, tests/integration/lib.sh), for each API this machine has (OpenCL: PoCL on the
# CPU where there is no GPU; CUDA where a GPU and its driver are):
#   (a) a trivial kernel (the library's vector_add over 3 elements): launched directly
#       (bench_kernel trivial: program loaded, buffers in, launch, buffers back) against
#       `udcs kernel` jobs one after the other, each with new data so that the kernel
#       runs (its compile unit is a cache hit after the first job): p50 of each;
#   (b) a SIZE^3 float32 matrix multiply (the library's matmul): on the device directly,
#       with the CPU reference (single-threaded C), and through the farm on one agent
#       and split in 2 ranges over 2 agents (wall time of `udcs kernel`, inputs sent
#       included, the program already compiled by an earlier job with other matrices;
#       the split result is compared with the unsplit one);
#   (c) the built-in renderer's frame on the CPU path and on the device (udcs-trace
#       --device), same frame, after one warm-up each: best of BENCH_KERNEL_REPEAT.
# Every farm row runs on a new master, new agents and a new client store. Results go to
# stdout and build/bench/results-kernel.md; the script exits 1, saying why, when a result
# is wrong or a run fails.
set -euo pipefail
: "${UDCS_BIN:?}" "${UDCS_TESTBIN:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTDIR=${BENCH_DIR:-$(pwd)/build/bench}
B=$OUTDIR/kernel
JOBS=${BENCH_KERNEL_JOBS:-15}
LAUNCHES=${BENCH_KERNEL_LAUNCHES:-200}
SIZE=${BENCH_KERNEL_MATMUL:-512}
REPEAT=${BENCH_KERNEL_REPEAT:-2}
SCENE=${BENCH_KERNEL_SCENE:-$ROOT/scenes/cornell.scn}
SCENE_SIZE=${BENCH_KERNEL_SCENE_SIZE:-320x240}
SCENE_SAMPLES=${BENCH_KERNEL_SCENE_SAMPLES:-32}
LIB=$ROOT/kernels/library
BENCH="$UDCS_TESTBIN/bench_kernel"
UDCS="$UDCS_BIN/udcs"
TRACE="$UDCS_BIN/udcs-trace"

# shellcheck source=tests/bench/farm_lib.sh
. "$ROOT/tests/bench/farm_lib.sh"   # environment, T, fail, log, now, secs, farm_up
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
p50() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
key() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
mkdir -p "$OUTDIR"
for tool in "$BENCH" "$UDCS" "$TRACE"; do
    [ -x "$tool" ] || { log "no $tool (make all tests)"; exit 1; }
done

declare -A R
APIS=()
for api in opencl cuda; do
    if "$UDCS_BIN/udcs-kernel" --$api-device >"$T/$api.class" 2>"$T/$api.err"; then
        APIS+=("$api")
    else
        log "$api: $(cat "$T/$api.err")"
        R[$api.missing]=$(sed 's/^udcs-kernel: //' "$T/$api.err")
    fi
done
[ ${#APIS[@]} -gt 0 ] || { log "no OpenCL or CUDA device here"; exit 1; }

# matrices for (b), as .npy files
python3 - "$T" "$SIZE" <<'EOF'
import struct, sys
d, n = sys.argv[1], int(sys.argv[2])
for name, mul in (("A", 7919), ("B", 104729), ("A2", 6007), ("B2", 7717)):
    path = "%s/%s.npy" % (d, name)
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, n)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    vals = [((i * mul) % 1000) / 500.0 - 1.0 for i in range(n * n)]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
        f.write(struct.pack("<%df" % (n * n), *vals))
EOF

# the matmul through the farm: ROW OUT [udcs kernel args...]. A first job with the
# matrices A, B compiles the program (for this device class, and for ranges with --split)
# and is not timed; the second, with A2, B2, finds the program in the cache and runs the
# kernel: its wall seconds go to R[ROW.wall].
farm_matmul() {
    local row=$1 out=$2; shift 2
    local s e m
    for m in "" 2; do
        s=$(now)
        if ! "$UDCS" kernel "$LIB/matmul.$EXT" --global "$GLOBAL,$GLOBAL" --local 16,16 \
            --arg A="$T/A$m.npy" --arg B="$T/B$m.npy" --arg M="$SIZE" --arg N="$SIZE" \
            --arg K="$SIZE" --out C="$out" "$@" >"$T/$row.log" 2>&1; then
            fail "$row: udcs kernel failed: $(tail -c 400 "$T/$row.log")"; return 0
        fi
        e=$(now)
    done
    R[$row.wall]=$(secs "$s" "$e")
}

GLOBAL=$(( (SIZE + 15) / 16 * 16 ))
for api in "${APIS[@]}"; do
    EXT=cl; [ "$api" = cuda ] && EXT=cu
    R[$api.class]=$(cat "$T/$api.class")
    # (a) direct
    if "$BENCH" trivial "$api" "$LIB" "$LAUNCHES" >"$T/$api.trivial" 2>"$T/$api.trivial.err"; then
        R[$api.direct_p50]=$(key trivial_launch_p50_ms "$T/$api.trivial")
    else
        fail "$api: bench_kernel trivial: $(cat "$T/$api.trivial.err")"
    fi
    # (a) through the farm, one agent
    farm_up 1 || continue
    : >"$T/$api.jobs"
    # inputs: a[i] = (i, i+1, i+2), b = (10, 20, 30); c must be their sum
    python3 -c '
import struct, sys
d, n = sys.argv[1], int(sys.argv[2])
open(d + "/b.bin", "wb").write(struct.pack("<3i", 10, 20, 30))
for i in range(n + 1):
    open(d + "/a%d.bin" % i, "wb").write(struct.pack("<3i", i, i + 1, i + 2))
' "$T" "$JOBS"
    for i in $(seq 0 "$JOBS"); do
        s=$(now)
        if ! "$UDCS" kernel "$LIB/vector_add.$EXT" --global 3 --arg a="$T/a$i.bin" \
            --arg b="$T/b.bin" --out c="$T/c$i.bin" >"$T/job.log" 2>&1; then
            fail "$api: trivial job $i: $(tail -c 400 "$T/job.log")"; break
        fi
        e=$(now)
        got=$(od -An -v -td4 "$T/c$i.bin" | xargs)
        [ "$got" = "$((i + 10)) $((i + 21)) $((i + 32))" ] ||
            fail "$api: trivial job $i gave '$got'"
        if [ "$i" -eq 0 ]; then R[$api.farm_first]=$(secs "$s" "$e"); continue; fi
        awk -v a="$s" -v b="$e" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }' >>"$T/$api.jobs"
    done
    R[$api.farm_p50]=$(p50 <"$T/$api.jobs")
    # (b) matmul: direct, CPU reference, farm on 1 agent
    if "$BENCH" matmul "$api" "$LIB" "$SIZE" >"$T/$api.matmul" 2>"$T/$api.matmul.err"; then
        R[$api.mm_dev]=$(key matmul_device_s "$T/$api.matmul")
        R[$api.mm_cpu]=$(key matmul_cpu_reference_s "$T/$api.matmul")
        R[$api.mm_dev_gf]=$(key matmul_device_gflops "$T/$api.matmul")
        R[$api.mm_cpu_gf]=$(key matmul_cpu_reference_gflops "$T/$api.matmul")
    else
        fail "$api: bench_kernel matmul: $(cat "$T/$api.matmul.err")"
    fi
    farm_matmul "$api.mm_farm1" "$T/$api.C1.npy"
    stop_farm
    # (b) split in 2 over 2 agents, on a new farm (nothing cached)
    farm_up 2 || continue
    farm_matmul "$api.mm_farm2" "$T/$api.C2.npy" --split 2
    stop_farm
    if [ -s "$T/$api.C1.npy" ] && [ -s "$T/$api.C2.npy" ] && ! cmp -s "$T/$api.C1.npy" "$T/$api.C2.npy"; then
        fail "$api: the split matmul differs from the unsplit one"
    fi
    # (c) the renderer's frame, CPU path and device path
    for dev in cpu "$api"; do
        best=""
        for r in $(seq 0 "$REPEAT"); do
            s=$(now)
            "$TRACE" "$SCENE" --frame 1 --size "$SCENE_SIZE" --samples "$SCENE_SAMPLES" \
                --device "$dev" -o "$T/frame_$dev.png" >"$T/trace.log" 2>&1 ||
                { fail "$api: udcs-trace --device $dev: $(tail -c 300 "$T/trace.log")"; break; }
            e=$(now)
            [ "$r" -eq 0 ] && continue   # warm-up: the device compiles the renderer once
            t=$(secs "$s" "$e")
            best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (a == "" || b < a) ? b : a }')
        done
        R[$api.trace_$dev]=$best
    done
    "$UDCS_BIN/udcs-image" compare "$T/frame_cpu.png" "$T/frame_$api.png" >"$T/cmp.log" 2>&1 ||
        fail "$api: the renderer's frame on $api differs from the CPU's: $(cat "$T/cmp.log")"
done

v() { echo "${R[$1]:-}"; }
{
    echo "## GPU kernels"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);"
    echo "$(date -u +%Y-%m-%d)."
    for api in opencl cuda; do
        if [ -z "$(v "$api.class")" ]; then
            echo
            echo "- $api: not measured here ($(v "$api.missing"))"
            continue
        fi
        echo
        echo "### $api: $(v "$api.class")"
        echo
        echo "| measure | direct | through the farm | ratio |"
        echo "| --- | --- | --- | --- |"
        echo "| trivial kernel (vector_add, 3 elements), p50 of $JOBS jobs / $LAUNCHES launches | $(v "$api.direct_p50") ms | $(v "$api.farm_p50") ms | $(ratio "$(v "$api.farm_p50")" "$(v "$api.direct_p50")")x |"
        echo "| the first such job (its compile unit runs too) | | $(v "$api.farm_first") s | |"
        echo "| matmul ${SIZE}^3 float32 on the device | $(v "$api.mm_dev") s ($(v "$api.mm_dev_gf") GFLOP/s) | 1 agent: $(v "$api.mm_farm1.wall") s; 2 agents, split 2: $(v "$api.mm_farm2.wall") s | farm 1 agent / direct: $(ratio "$(v "$api.mm_farm1.wall")" "$(v "$api.mm_dev")")x |"
        echo "| matmul ${SIZE}^3 with the CPU reference (one thread, C) | $(v "$api.mm_cpu") s ($(v "$api.mm_cpu_gf") GFLOP/s) | | reference / device: $(ratio "$(v "$api.mm_cpu")" "$(v "$api.mm_dev")")x |"
        echo "| renderer: $(basename "$SCENE") ${SCENE_SIZE}, $SCENE_SAMPLES samples, CPU path | $(v "$api.trace_cpu") s | | |"
        echo "| the same frame with udcs-trace --device $api | $(v "$api.trace_$api") s | | CPU / device: $(ratio "$(v "$api.trace_cpu")" "$(v "$api.trace_$api")")x |"
    done
    echo
    echo "Direct: bench_kernel (tests/bench/bench_kernel.c) in one process, the program built"
    echo "once; a launch loads it, copies the buffers in, runs and copies back. Farm: the wall"
    echo "time of \`udcs kernel\` (client start, inputs stored, submit, the units, the output"
    echo "fetched) on a new master and agents of one slot; trivial jobs have new data each, so"
    echo "the kernel runs while its compile unit comes from the cache after the first job."
    echo "Every farm result is checked: vector_add's sums, the split matmul equal byte for"
    echo "byte to the unsplit one, the device frame equal to the CPU frame (udcs-image compare)."
    echo
    echo "Reproduce: \`make bench BENCH_ONLY=kernel\`"
    if [ "$STATUS" -ne 0 ]; then
        echo
        echo "## FAILED"
        echo
        for f in "${FAILURES[@]}"; do echo "- $f"; done
    fi
} | tee "$OUTDIR/results-kernel.md"
exit "$STATUS"
