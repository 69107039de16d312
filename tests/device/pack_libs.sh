#!/usr/bin/env bash
# tests/device/pack_libs.sh - pack the shared libraries that the GPU checks' programs use
# into build/gpulibs.tar.xz, for a GPU machine whose system lacks some of them (a lent
# machine runs another distribution and cannot install packages). gpu_checks.sh unpacks
# there only the libraries that machine does not have, so its own tools keep their own.
#
#   tests/device/pack_libs.sh      (after `make` and `make tests`)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
programs="build/bin/udcs build/bin/udcs-farm build/bin/udcs-agent build/bin/udcs-kernel
          build/bin/udcs-detect build/bin/udcs-trace build/bin/udcs-cas
          build/tests/test_kernel_library build/tests/test_trace_gpu build/tests/bench_kernel"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/gpulibs"
# glibc and the C++ runtime stay the machine's own; jq comes along for the scripts.
{ ldd $programs /usr/bin/jq | awk '/=>/ { print $3 }'
  echo /lib/x86_64-linux-gnu/libOpenCL.so.1; } | sort -u |
    grep -vE '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so' |
    xargs -I{} cp -L {} "$stage/gpulibs/"
cp /usr/bin/jq "$stage/gpulibs/"
tar -C "$stage" -cJf build/gpulibs.tar.xz gpulibs
echo "build/gpulibs.tar.xz: $(ls "$stage/gpulibs" | wc -l) files, $(du -h build/gpulibs.tar.xz | cut -f1)"
