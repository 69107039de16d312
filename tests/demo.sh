#!/usr/bin/env bash
# tests/demo.sh - what `make demo` runs: a farm master and two agents on loopback, a real
# job through them (a small C program compiled file by file on the agents, then linked),
# what happened (devices, units, where they ran), the same job again served entirely from
# the action cache, a command run remotely with `udcs run`, the same files built by make
# with udcs-compile as CC (misses on the agents, then a second machine served from the
# farm's cache), a render of tiles and frames with udcs-render, encoded into a video in
# the same job, that video re-encoded in segments with udcs-encode (then again, all from the
# cache), the seed's GPU kernel example on the agents' OpenCL device, and everything stopped.
set -euo pipefail
: "${UDCS_BIN:?set UDCS_BIN to the directory holding the UDCS binaries}"
W=${DEMO_DIR:-$(pwd)/build/demo}
UDCS="$UDCS_BIN/udcs"
N=${DEMO_FILES:-24}
SCENES=$(cd "$(dirname "$0")/../scenes" && pwd)
export PATH="$UDCS_BIN:$PATH"   # agents find udcs-trace, udcs-image, udcs-video there

say() { printf '\n== %s\n' "$*"; }
took() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf 'took %d.%03d s\n' $((ms / 1000)) $((ms % 1000)); }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W/src"

say "Starting a farm master (udcs-farm) and two agents (udcs-agent) on 127.0.0.1"
head -c 24 /dev/urandom | base64 >"$W/farm.token"
chmod 600 "$W/farm.token"
"$UDCS_BIN/udcs-farm" --state "$W/state" --token-file "$W/farm.token" --port 0 --web-port 0 \
    --port-file "$W/ports" --log-file "$W/farm.log" &
pids+=($!)
for _ in $(seq 1 500); do [ -s "$W/ports" ] && break; sleep 0.02; done
[ -s "$W/ports" ] || { echo "the master did not start:"; cat "$W/farm.log"; exit 1; }
export UDCS_FARM="http://127.0.0.1:$(sed -n 1p "$W/ports")" UDCS_TOKEN_FILE="$W/farm.token"
export UDCS_CACHE_DIR="$W/client-cache"
echo "master: API $UDCS_FARM, status page http://127.0.0.1:$(sed -n 2p "$W/ports")/"
for a in agent-1 agent-2; do
    "$UDCS_BIN/udcs-agent" --farm "$UDCS_FARM" --token-file "$W/farm.token" --name "$a" \
        --slots 2 --work-dir "$W/$a" --log-file "$W/$a.log" &
    pids+=($!)
done
for _ in $(seq 1 200); do
    [ "$("$UDCS" devices --json | jq '.devices | length')" = 2 ] && break
    sleep 0.05
done
"$UDCS" devices

say "A job: $N C files compiled on the agents (one unit each), then linked (a unit that waits for them)"
for i in $(seq 0 $((N - 1))); do
    printf 'int part_%d(int x) { int s = 0; for (int k = 0; k < x; k++) s += k * %d; return s; }\n' \
        "$i" "$((i + 1))" >"$W/src/part_$i.c"
done
{
    for i in $(seq 0 $((N - 1))); do printf 'int part_%d(int);\n' "$i"; done
    printf '#include <stdio.h>\nint main(void) {\n    long total = 0;\n'
    for i in $(seq 0 $((N - 1))); do printf '    total += part_%d(100);\n' "$i"; done
    printf '    printf("total = %%ld\\n", total);\n    return 0;\n}\n'
} >"$W/src/main.c"
# Send the sources to the master's store, then describe the job by their digests.
for f in "$W"/src/*.c; do
    "$UDCS_BIN/udcs-cas" --cache-dir "$UDCS_CACHE_DIR" --remote "$UDCS_FARM" --token-file "$W/farm.token" \
        put "$f" | awk -v n="$(basename "$f")" '{print n, $1 "/" $2}'
done >"$W/digests.txt"
jq -Rn --argjson n "$N" '
    [inputs | split(" ") | {(.[0]): .[1]}] | add as $d |
    {type: "EXEC", priority: 5, units: (
        [range($n) as $i | {argv: ["gcc", "-O2", "-c", "part_\($i).c", "-o", "part_\($i).o"],
                            inputs: {"part_\($i).c": $d["part_\($i).c"]}, outputs: ["part_\($i).o"]}]
        + [{argv: ["gcc", "-O2", "-c", "main.c", "-o", "main.o"], inputs: {"main.c": $d["main.c"]},
            outputs: ["main.o"]}]
        + [{argv: (["gcc", "-o", "demo", "main.o"] + [range($n) | "part_\(.).o"]),
            inputs: ({"main.o": {unit: $n, output: "main.o"}} +
                     ([range($n) as $i | {"part_\($i).o": {unit: $i, output: "part_\($i).o"}}] | add)),
            outputs: ["demo"]}])}' <"$W/digests.txt" >"$W/job.json"
start=$(date +%s%N)
JOB=$("$UDCS" submit "$W/job.json")
"$UDCS" wait "$JOB"
took "$start"
"$UDCS" job "$JOB" --json >"$W/job-$JOB.json"
echo "units per agent:"
jq -r '.unit_list | group_by(.agent_name) | .[] | "  \(.[0].agent_name): \(length) units"' "$W/job-$JOB.json"
LINK=$(jq -r ".unit_list[-1].result.outputs[0].digest" "$W/job-$JOB.json")
"$UDCS_BIN/udcs-cas" --cache-dir "$UDCS_CACHE_DIR" --remote "$UDCS_FARM" get "$LINK" -o "$W/demo"
chmod +x "$W/demo"
printf 'the linked program, fetched from the store and run here: '
"$W/demo"

say "The same job again: every unit is answered from the action cache"
start=$(date +%s%N)
JOB2=$("$UDCS" submit "$W/job.json")
"$UDCS" wait "$JOB2"
took "$start"
"$UDCS" job "$JOB2" | head -2

say "A single command on an agent (udcs run): the file goes, the output and exit status come back"
cp "$W/src/part_0.c" "$W/run.c"
(cd "$W" && "$UDCS" run --output run.o -- gcc -O2 -c run.c -o run.o && ls -l run.o)

say "udcs-compile as CC: make -j8 of the same files, misses compiled on the agents"
cat >"$W/src/Makefile" <<'MK'
OBJS := $(patsubst %.c,obj/%.o,$(wildcard *.c))
prog: $(OBJS)
	$(CC) $(OBJS) -o $@
obj/%.o: %.c
	@mkdir -p obj
	$(CC) -O2 -MMD -MP -c $< -o $@
MK
export UDCS_CACHE_DIR="$W/compile-cache-1"
start=$(date +%s%N)
make -s -C "$W/src" -j8 CC="$UDCS_BIN/udcs-compile gcc" UDCS_REMOTE_ONLY=1
took "$start"
"$W/src/prog"
"$UDCS_BIN/udcs-compile" -s | grep -E "Calls|Misses|agents|Uncacheable|linking"
say "Another machine (an empty local cache) builds the same: every object comes from the farm's cache"
export UDCS_CACHE_DIR="$W/compile-cache-2"
rm -rf "$W/src/obj" "$W/src/prog"
start=$(date +%s%N)
make -s -C "$W/src" -j8 CC="$UDCS_BIN/udcs-compile gcc"
took "$start"
"$UDCS_BIN/udcs-compile" -s | grep -E "Calls|Hits|farm's cache|Misses"

say "udcs-render: the Cornell box as 2x2 tiles (merged on an agent), and 48 frames of an animation encoded into a video in the same job"
mkdir -p "$W/render"
start=$(date +%s%N)
"$UDCS_BIN/udcs-render" "$SCENES/cornell.scn" --frames 1 --tiles 2x2 --size 320x240 \
    --samples 32 -o "$W/render/cornell.png"
"$UDCS_BIN/udcs-render" "$SCENES/orbit.scn" --frames 1-48 --size 160x90 --samples 8 \
    -o "$W/render/orbit_####.png" --encode "$W/orbit.mp4" --fps 24 --segment-frames 12
took "$start"
"$UDCS_BIN/udcs-trace" "$SCENES/cornell.scn" --frame 1 --size 320x240 --samples 32 \
    -o "$W/render/cornell-one-machine.png"
cmp "$W/render/cornell.png" "$W/render/cornell-one-machine.png" &&
    echo "the tiled frame is byte for byte the frame rendered on one machine"
say "The same frames again: nothing is rendered, every frame comes from the action cache"
"$UDCS_BIN/udcs-render" "$SCENES/orbit.scn" --frames 1-48 --size 160x90 --samples 8 \
    -o "$W/render/orbit_####.png" --encode "$W/orbit.mp4" --fps 24 --segment-frames 12
ls "$W/render" | head -4; echo "... ($(ls "$W/render" | wc -l) images in $W/render)"

say "udcs-encode: that video again as H.265, cut at its keyframes into 4 segments encoded on the agents"
start=$(date +%s%N)
"$UDCS_BIN/udcs-encode" "$W/orbit.mp4" -o "$W/orbit-x265.mkv" --codec libx265 --crf 26 \
    --preset fast --segment-seconds 0.5
took "$start"
"$UDCS_BIN/udcs-video" info "$W/orbit-x265.mkv" |
    jq -r '.video | "\(.codec) \(.width)x\(.height), \(.frames) frames at \(.fps) fps, \(.duration) s, decode errors: \(.decode_errors)"'
echo "PSNR against the H.264 source: $("$UDCS_BIN/udcs-video" psnr "$W/orbit.mp4" \
    "$W/orbit-x265.mkv" | jq -r .psnr) dB"
say "The same encode again: every segment and the join come from the action cache"
"$UDCS_BIN/udcs-encode" "$W/orbit.mp4" -o "$W/orbit-x265-again.mkv" --codec libx265 --crf 26 \
    --preset fast --segment-seconds 0.5
cmp "$W/orbit-x265.mkv" "$W/orbit-x265-again.mkv" && echo "the same file, byte for byte"

say "A GPU kernel: the seed's vector_add example (its OpenCL twin) sent to POST /api/submit"
if class=$("$UDCS_BIN/udcs-kernel" --opencl-device 2>"$W/opencl.err"); then
    echo "the agents' OpenCL device: ${class#opencl }"
    jq -n '{type: "OPENCL_KERNEL",
        kernel_code: "__kernel void vector_add(__global float *a, __global float *b, __global float *c, int n) { int i = get_global_id(0); if (i < n) c[i] = a[i] + b[i]; }",
        data: {a: [1.0, 2.0, 3.0], b: [4.0, 5.0, 6.0]}, grid_size: [1, 1, 1], block_size: [256, 1, 1]}' |
        curl -sf -H "Authorization: Bearer $(cat "$W/farm.token")" --data-binary @- \
            "$UDCS_FARM/api/submit" >"$W/kernel.json"
    kid=$(jq -r .id "$W/kernel.json")
    "$UDCS" wait "$kid" >/dev/null
    echo "c = $(curl -sf "$UDCS_FARM/api/jobs/$kid" | jq -c .result.c)"
else
    echo "skipped: $(cat "$W/opencl.err")"
fi

say "The farm's metrics"
curl -sf "$UDCS_FARM/metrics" | grep -E '^udcs_(units|agents|cache_hits_total|leases_granted_total)' |
    grep -v ' 0$' || true

say "Stopping the agents and the master"
cleanup
pids=()
echo "done; logs and state are under $W"
