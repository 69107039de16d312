#!/usr/bin/env bash
# tests/integration/test_kernel.sh - GPU kernel jobs through a real master and agents on
# loopback, run on PoCL (Debian's CPU OpenCL device) where there is no GPU: the seed's
# vector_add example (as it stands for CUDA, and its OpenCL twin), `udcs kernel` with
# .npy and raw files, a split job over two agents against the unsplit one, re-runs from
# the cache, and bad kernels and jobs. Without an OpenCL device the OpenCL part is
# skipped with the reason; the CUDA example runs only where an agent offers CUDA, and
# otherwise must wait saying "no agent offers CUDA".
. "$(dirname "$0")/lib.sh"

KERNEL="$UDCS_BIN/udcs-kernel"
if ! opencl_class=$("$KERNEL" --opencl-device 2>"$T/opencl.err"); then
    echo "1..0 # SKIP no OpenCL device: $(cat "$T/opencl.err")"
    exit 0
fi
echo "# OpenCL device: $opencl_class"
cuda_class=$("$KERNEL" --cuda-device 2>"$T/cuda.err") || cuda_class=

start_farm "$T/farm" || { not_ok "master starts"; done_testing; exit 1; }
submit_json() { curl -sf -X POST -H "Authorization: Bearer $(cat "$FARM_TOKEN_FILE")" \
    --data-binary @"$1" "$FARM_URL/api/submit"; }

# A job sent before any agent offers OpenCL waits, then the first agent pins it.
jq -n '{type: "OPENCL_KERNEL", kernel_code: "__kernel void twice(__global const int *x, __global int *y, int n) { int i = get_global_id(0); if (i < n) y[i] = 2 * x[i]; }",
        data: {x: [1, 2, 3, 4]}, global_size: [4]}' >"$T/early.json"
JE=$(submit_json "$T/early.json" | jq -r .id)
check "a kernel job is accepted before any agent is connected" test -n "$JE"
"$UDCS" job "$JE" >"$T/.out" 2>&1
expect_output_contains "no agent offers OpenCL"
PATH="$UDCS_BIN:$PATH" start_agent a1 --slots 2
check "the agent registers" wait_until 30 agents_idle 1
check "the waiting job then runs" uwait "$JE"
job_json "$JE" >"$T/early.out"
check "pinned to the agent's device class, with y = 2x" \
    jq -e '(.device_fingerprint | test("^[0-9a-f]{32}$")) and .result.y == [2, 4, 6, 8]' "$T/early.out"
curl -sf "$FARM_URL/api/devices" >"$T/devices.json"
check "the agent offers OpenCL, with its device class as the version" \
    jq -e --arg c "${opencl_class#opencl }" \
    '.devices[0].toolchains | map(select(.name == "opencl"))[0].version == $c' "$T/devices.json"
check "and udcs-kernel itself" \
    jq -e '.devices[0].toolchains | any(.name == "udcs-kernel")' "$T/devices.json"

# ---- the seed's example ------------------------------------------------------------------
SEED_CU='
    __global__ void vector_add(float *a, float *b, float *c, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) c[i] = a[i] + b[i];
    }
    '
SEED_CL='
    __kernel void vector_add(__global float *a, __global float *b, __global float *c, int n) {
        int i = get_global_id(0);
        if (i < n) c[i] = a[i] + b[i];
    }
    '
seed_job() {   # TYPE SOURCE: the seed's task, as it is written there
    jq -n --arg t "$1" --arg code "$2" '{type: $t, kernel_code: $code,
        data: {a: [1.0, 2.0, 3.0], b: [4.0, 5.0, 6.0]},
        grid_size: [1, 1, 1], block_size: [256, 1, 1]}'
}
seed_job OPENCL_KERNEL "$SEED_CL" >"$T/seed_cl.json"
J=$(submit_json "$T/seed_cl.json" | jq -r .id)
check "the seed's example as OPENCL_KERNEL is accepted" test -n "$J"
check "and completes" uwait "$J"
job_json "$J" >"$T/seed_cl.out"
check "c = [5, 7, 9]" jq -e '.result.c == [5, 7, 9]' "$T/seed_cl.out"
check "c is described: 3 float32 in a blob" \
    jq -e '.outputs.c.type == "float32" and .outputs.c.count == 3 and
           (.outputs.c.digest | test("^[0-9a-f]{32}/12$"))' "$T/seed_cl.out"
J2=$(submit_json "$T/seed_cl.json" | jq -r .id)
uwait "$J2" >/dev/null 2>&1
check "sent again, every unit comes from the cache" \
    jq -e '.cache_hits == .units_total and .result.c == [5, 7, 9]' <(job_json "$J2")

seed_job CUDA_KERNEL "$SEED_CU" >"$T/seed_cu.json"
JC=$(submit_json "$T/seed_cu.json" | jq -r .id)
check "the seed's CUDA_KERNEL as it stands is accepted" test -n "$JC"
if [ -n "$cuda_class" ]; then
    check "on CUDA it completes" uwait "$JC"
    check "with c = [5, 7, 9]" jq -e '.result.c == [5, 7, 9]' <(job_json "$JC")
else
    ok "# SKIP running CUDA kernels: $(sed 's/^udcs-kernel: //' "$T/cuda.err")"
    sleep 1
    "$UDCS" job "$JC" >"$T/.out" 2>&1
    expect_output_contains "no agent offers CUDA"
    check "and it stays queued" \
        test "$(job_json "$JC" | jq -r '.unit_list[0].state')" = queued
    check "it can be cancelled" "$UDCS" cancel "$JC"
fi

code=$(curl -s -o "$T/metal.out" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $(cat "$FARM_TOKEN_FILE")" \
    --data '{"type": "METAL_KERNEL", "kernel_code": "kernel void f() {}"}' "$FARM_URL/api/submit")
check "METAL_KERNEL is refused with 400" test "$code" = 400
cp "$T/metal.out" "$T/.out"
expect_output_contains "Metal exists only on Apple's systems"

# a unit pinned to another device class than the one udcs-kernel opens refuses to run
printf '__kernel void f(__global float *a) { a[0] = 1; }\n' >"$T/f.cl"
expect_status 1 "udcs-kernel refuses a unit pinned to another device class" \
    env UDCS_PINNED_TOOLCHAIN=opencl@00000000000000000000000000000000 \
    "$KERNEL" compile "$T/f.cl" --api opencl --entry f -o "$T/f.bin"
expect_output_contains "the agent advertised another device or build than its units open"
fp=$(jq -r '.devices[0].toolchains | map(select(.name == "opencl"))[0].fingerprint' "$T/devices.json")
check "and runs one pinned to its own (the agent's fingerprint)" \
    env UDCS_PINNED_TOOLCHAIN="opencl@$fp" "$KERNEL" compile "$T/f.cl" --api opencl --entry f \
    -o "$T/f.bin"

# ---- bad kernels and jobs ------------------------------------------------------------------
jq -n '{type: "OPENCL_KERNEL", kernel_code: "__kernel void broken(__global float *a) { a[0] = undeclared_thing; }",
        data: {a: [1.0]}, global_size: [1]}' >"$T/broken.json"
JB=$(submit_json "$T/broken.json" | jq -r .id)
uwait "$JB" >/dev/null 2>&1
job_json "$JB" >"$T/broken.out"
check "a kernel that does not compile fails its job" jq -e '.state == "failed"' "$T/broken.out"
check "with the compiler's log in the error" \
    jq -e '.error | test("undeclared_thing")' "$T/broken.out"

code=$(curl -s -o "$T/bogus.out" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $(cat "$FARM_TOKEN_FILE")" \
    --data "$(jq -n --arg code "$SEED_CL" '{type: "OPENCL_KERNEL", kernel_code: $code,
        data: {a: [1, 2, 3], b: [4, 5, 6], bogus: 1}, global_size: [4]}')" \
    "$FARM_URL/api/submit")
check "a data name the kernel does not have is refused (400)" test "$code" = 400
cp "$T/bogus.out" "$T/.out"
expect_output_contains "data 'bogus' matches no parameter of kernel vector_add"

# ---- udcs kernel, files, split over two agents ---------------------------------------------
cat >"$T/scale.cl" <<'EOF'
__kernel void scale_rows(__global const float *m, __global float *out, const float k,
                         const int width, const int height)
{
    int x = get_global_id(0), y = get_global_id(1);
    if (x < width && y < height)
        out[y * width + x] = m[y * width + x] * k + (float)y;
}
EOF
W=100 H=37
python3 - "$T/m.npy" "$W" "$H" <<'EOF'
import struct, sys
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
vals = [((i * 7919) % 1000) / 7.0 for i in range(w * h)]
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (h, w)
pad = 64 - (10 + len(header) + 1) % 64
header += " " * (pad % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%df" % (w * h), *vals))
EOF
run_scale() {   # OUT [ARGS...]
    local out=$1; shift
    "$UDCS" kernel "$T/scale.cl" --global 112,40 --local 16,4 --arg m="$T/m.npy" --arg k=2.5 \
        --arg width=$W --arg height=$H --out out="$out" "$@"
}
check "udcs kernel runs a 2-D kernel with a .npy input" run_scale "$T/whole.npy"
check "its .npy output has the input's size and the right values" python3 - "$T/m.npy" "$T/whole.npy" "$W" "$H" <<'EOF'
import struct, sys
def load(p):
    b = open(p, "rb").read()
    hl = struct.unpack("<H", b[8:10])[0]
    return b[10 + hl:]
m, o, w, h = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert len(o) == len(m) == w * h * 4, (len(o), len(m))
mv = struct.unpack("<%df" % (w * h), m)
ov = struct.unpack("<%df" % (w * h), o)
f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
for i in range(w * h):
    # m * k + y rounded twice, or once where the compiler fuses it (OpenCL C allows that)
    twice = f32(f32(mv[i] * 2.5) + (i // w))
    fused = f32(mv[i] * 2.5 + (i // w))
    assert ov[i] in (twice, fused), (i, ov[i], twice, fused)
EOF
PATH="$UDCS_BIN:$PATH" start_agent a2 --slots 2
check "a second agent registers" wait_until 30 agents_idle 2
check "split in 4 ranges over two agents" run_scale "$T/split.npy" --split 4 --json
check "the split result equals the unsplit one, byte for byte" cmp "$T/whole.npy" "$T/split.npy"
last_job=$(curl -sf "$FARM_URL/api/jobs" | jq -r '.jobs | max_by(.id) | .id')
job_json "$last_job" >"$T/split.json"
check "the split job ran 4 ranges and a merge" \
    jq -e '[.unit_list[].name] == ["compile", "range 0", "range 1", "range 2", "range 3", "merge"]' "$T/split.json"
check "on both agents" \
    jq -e '[.unit_list[] | select(.name | startswith("range")) | .agent_name] | unique | length == 2' "$T/split.json"
check "run again, the split job is all cache hits" run_scale "$T/again.npy" --split 4 --json
job_json "$(curl -sf "$FARM_URL/api/jobs" | jq -r '.jobs | max_by(.id) | .id')" >"$T/again.json"
check "(every unit from the cache)" jq -e '.cache_hits == .units_total' "$T/again.json"
check "and the same bytes" cmp "$T/whole.npy" "$T/again.npy"

if [ -n "$cuda_class" ]; then
    cat >"$T/scale.cu" <<'EOF'
extern "C" __global__ void scale_rows(const float *m, float *out, const float k,
                                      const int width, const int height)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < height)
        out[y * width + x] = m[y * width + x] * k + (float)y;
}
EOF
    run_scale_cu() {
        "$UDCS" kernel "$T/scale.cu" --global 112,40 --local 16,4 --arg m="$T/m.npy" \
            --arg k=2.5 --arg width=$W --arg height=$H --out out="$1" "${@:2}"
    }
    check "CUDA: udcs kernel runs the same kernel written for CUDA" run_scale_cu "$T/cu_whole.npy"
    check "CUDA: split in 4 ranges" run_scale_cu "$T/cu_split.npy" --split 4
    check "CUDA: the split result equals the unsplit one" cmp "$T/cu_whole.npy" "$T/cu_split.npy"
fi
# a kernel that counts across work-groups cannot be split: the merge says so
jq -n '{type: "OPENCL_KERNEL", kernel_code: "__kernel void count(__global int *n) { atomic_inc(n); }",
        data: {n: [0]}, global_size: [8], local_size: [2], split: 4}' >"$T/count.json"
JN=$(submit_json "$T/count.json" | jq -r .id)
uwait "$JN" >/dev/null 2>&1
job_json "$JN" >"$T/count.out"
check "a split kernel combining work-groups' results fails, not a wrong answer" \
    jq -e '.state == "failed" and (.error | test("ranges overlap on byte 0 of n"))' "$T/count.out"
run_scale "$T/raw.bin" >/dev/null 2>&1
check "a raw output is the array's bytes alone" \
    test "$(stat -c %s "$T/raw.bin")" -eq $((W * H * 4))
python3 -c '
import struct, sys
h = "{\x27descr\x27: \x27<i4\x27, \x27fortran_order\x27: False, \x27shape\x27: (4,), }"
h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<4i", 1, 2, 3, 4))
' "$T/ints.npy"
expect_status 1 "an .npy input of another dtype is refused" \
    "$UDCS" kernel "$T/scale.cl" --global 112,40 --local 16,4 --arg m="$T/ints.npy" \
    --arg k=2.5 --arg width=$W --arg height=$H --out out="$T/x.bin"
expect_output_contains "data 'm' is int32, but the kernel's parameter is const __global float *"
printf 'not numpy' >"$T/bad.npy"
expect_status 1 "a file that is not .npy is refused" \
    "$UDCS" kernel "$T/scale.cl" --global 112,40 --arg m="$T/bad.npy" --arg k=1 \
    --arg width=1 --arg height=1
expect_output_contains "not a .npy file"
expect_status 2 "a kernel file of another kind is refused" \
    "$UDCS" kernel "$T/m.npy" --global 1
# ---- the renderer's GPU path on the farm -------------------------------------------------
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
( cd "$T" && "$UDCS_BIN/udcs-render" "$ROOT/scenes/cornell.scn" --frames 1 --size 64x48 \
    --samples 4 --tiles 2x2 --device gpu -o "$T/gpu/f_#.png" ) >"$T/.out" 2>&1
check "udcs-render --device gpu renders tiles on the agents' OpenCL devices" test -s "$T/gpu/f_1.png"
last_job=$(curl -sf "$FARM_URL/api/jobs" | jq -r '.jobs | max_by(.id) | .id')
check "its units ran udcs-trace --device opencl" \
    jq -e '[.unit_list[] | select(.argv[0] == "udcs-trace") | (.argv | index("--device")) != null] | all and length == 4' \
    <(job_json "$last_job")
"$UDCS_BIN/udcs-trace" "$ROOT/scenes/cornell.scn" --frame 1 --size 64x48 --samples 4 \
    -o "$T/cpu.png" >/dev/null 2>&1
check "the frame equals the CPU renderer's, pixel for pixel" \
    "$UDCS_BIN/udcs-image" compare "$T/cpu.png" "$T/gpu/f_1.png"
done_testing
