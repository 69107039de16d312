#!/usr/bin/env bash
# tests/device/gpu_checks.sh - the checks that need a GPU, in one short run on a machine
# that has one (the `device` machine of a session: built here, run there from the
# repository root, with the binaries and test programs carried in build/).
#
#   tests/device/gpu_checks.sh [OUTDIR]
#
# What runs (each step's output goes to OUTDIR/NAME.log, a summary to stdout):
#   detect     udcs-detect's GPUs (CUDA driver, NVML) and udcs-kernel devices
#   library    tests/unit/test_kernel_library: every library kernel on CUDA (and OpenCL)
#              against its CPU reference
#   trace      tests/unit/test_trace_gpu: the renderer's device path against the CPU's
#   farm       tests/integration/test_kernel.sh: the seed's CUDA_KERNEL example as it
#              stands (c = [5, 7, 9]), a CUDA kernel split over agents, and the rest
#   gpu        tests/integration/test_farm_gpu.sh: GPU requirements on the farm
#   bench      tests/bench/run_kernel.sh: the kernel benchmark (CUDA and OpenCL rows)
# Libraries the machine lacks (libmicrohttpd, libinih, libcmocka, ...): pack them here with
# tests/device/pack_libs.sh and carry build/gpulibs.tar.xz; this script unpacks into
# build/gpulibs only those the machine's own ldconfig does not know (shadowing its libcurl
# would break its curl), and puts build/gpulibs last on PATH (jq) and first in
# LD_LIBRARY_PATH. See tests/device/README.md. The CUDA driver
# does not start under AddressSanitizer without protect_shadow_gap=0; this script runs the
# normal build. Exit status: 0 when every step passed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-${OUT:-$ROOT/build/gpu-checks}}
mkdir -p "$OUT"
export UDCS_BIN="$ROOT/build/bin" UDCS_TESTBIN="$ROOT/build/tests"
cd "$ROOT" || exit 2
if [ -f build/gpulibs.tar.xz ]; then
    rm -rf build/gpulibs build/gpulibs.all && mkdir -p build/gpulibs build/gpulibs.all
    tar -C build/gpulibs.all -xJf build/gpulibs.tar.xz
    known=$(ldconfig -p | awk '{ print $1 }')
    for f in build/gpulibs.all/gpulibs/*; do
        n=$(basename "$f")
        case $n in
        jq|libjq*|libonig*) command -v jq >/dev/null || cp "$f" build/gpulibs/ ;;
        *) grep -qxF "$n" <<<"$known" || cp "$f" build/gpulibs/ ;;
        esac
    done
    echo "carried libraries used: $(ls build/gpulibs | tr '\n' ' ')"
fi
# NVRTC is often outside the loader's path (CUDA's own lib directory).
nvrtc=$(find /usr/local /usr/lib /opt -name 'libnvrtc.so*' 2>/dev/null | head -n 1)
export PATH="$PATH:$ROOT/build/gpulibs"
export LD_LIBRARY_PATH="$ROOT/build/gpulibs${nvrtc:+:$(dirname "$nvrtc")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0

step() {   # step NAME TIMEOUT COMMAND...
    local name=$1 limit=$2 start=$SECONDS rc
    shift 2
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || status=1
    printf '%-8s exit %3d  %4ds  %d failed, %d skipped\n' "$name" "$rc" $((SECONDS - start)) \
        "$(grep -E '^not ok|\[  FAILED  \]' "$OUT/$name.log" | grep -vc '# SKIP')" \
        "$(grep -cE '# SKIP|\[  SKIPPED \]' "$OUT/$name.log")"
}

missing=$(ldd "$UDCS_BIN"/* "$UDCS_TESTBIN"/test_kernel_library 2>/dev/null | grep "not found" |
          sort -u)
[ -z "$missing" ] || { echo "libraries missing (put them in build/gpulibs):"; echo "$missing"; }

step detect 60 sh -c '"$UDCS_BIN/udcs-detect" | jq "{gpus, opencl_devices}" && "$UDCS_BIN/udcs-kernel" devices'
step library 300 "$UDCS_TESTBIN/test_kernel_library"
step trace 300 "$UDCS_TESTBIN/test_trace_gpu"
step farm 400 bash tests/integration/test_kernel.sh
step gpu 200 bash tests/integration/test_farm_gpu.sh
step bench 400 env BENCH_DIR="$OUT/bench" bash tests/bench/run_kernel.sh
cat "$OUT/detect.log"
grep -hE '^not ok|\[  FAILED  \]' "$OUT"/*.log | grep -v '# SKIP' | head -40
[ -f "$OUT/bench/results-kernel.md" ] && cat "$OUT/bench/results-kernel.md"
exit $status
