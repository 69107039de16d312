#!/usr/bin/env bash
# tests/bench/run_render.sh - udcs-render against the renderer run directly, for the
# built-in path tracer (udcs-trace) and for POV-Ray (Debian's biscuit.pov example), in one
# run on this machine, master and agents on loopback (tests/integration/lib.sh):
#   (a) one frame rendered directly with one thread, beside the same frame through the
#       farm as one unit (farm overhead) and as 4x4 tiles merged on the farm (split and
#       merge overhead); one agent of one slot, so every unit runs one after the other;
#   (b) a range of 24 frames on one agent and on two agents of one slot each (scaling),
#       beside the same frames rendered directly one after the other (POV-Ray: one
#       process rendering the whole animation, +KFI1 +KFF24).
# Every farm row runs on a new master (new state directory), new agents (new work
# directories) and a new client store, so every unit is a miss that renders; the script
# checks that no unit came from the cache, that no unit failed or was retried, and that
# every frame from the farm equals the direct render (udcs-image compare): it exits 1,
# saying why, when one does not. Single-frame rows are the best of BENCH_RENDER_REPEAT
# (default 2) runs. About 6 minutes on 2 cores. Results go to stdout and to
# build/bench/results-render.md; logs of a failed run stay under build/bench/render/.
set -euo pipefail
: "${UDCS_BIN:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTDIR=${BENCH_DIR:-$(pwd)/build/bench}
B=$OUTDIR/render
REPEAT=${BENCH_RENDER_REPEAT:-2}
NFRAMES=${BENCH_RENDER_FRAMES:-24}
# built-in renderer: one frame of the Cornell box, a range of frames of the orbit scene
TRACE_SCENE=${BENCH_TRACE_SCENE:-$ROOT/scenes/cornell.scn}
TRACE_SIZE=${BENCH_TRACE_SIZE:-640x480}
TRACE_SAMPLES=${BENCH_TRACE_SAMPLES:-96}
ANIM_SCENE=${BENCH_ANIM_SCENE:-$ROOT/scenes/orbit.scn}
ANIM_SIZE=${BENCH_ANIM_SIZE:-320x180}
ANIM_SAMPLES=${BENCH_ANIM_SAMPLES:-48}
# POV-Ray: biscuit.pov, anti-aliasing depth 3 (udcs-render --samples 3)
POV_SRC=${BENCH_POV_SCENE:-/usr/share/doc/povray/examples/advanced/biscuit.pov}
POV_SIZE=${BENCH_POV_SIZE:-480x360}
POV_ANIM_SIZE=${BENCH_POV_ANIM_SIZE:-240x180}
POV_SAMPLES=3

RENDER="$UDCS_BIN/udcs-render"
TRACE="$UDCS_BIN/udcs-trace"
IMAGE="$UDCS_BIN/udcs-image"

# shellcheck source=tests/bench/farm_lib.sh
. "$ROOT/tests/bench/farm_lib.sh"   # environment, T, fail, log, now, secs, farm_up
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
pct() {   # pct A B: how much longer A is than B, in percent
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%+.1f%%", (a / b - 1) * 100 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.2f", a / b }'; }

# ---- farms: a new master and new agents for every measured run -------------------------

# farm_up (farm_lib.sh)

# farm_render LABEL AGENTS UDCS-RENDER-ARGS...: time udcs-render on a new farm, frames to
# $FDIR/out/f_####.png; sets WALL (seconds, or empty when it failed) and FDIR.
farm_render() {
    local label=$1 agents=$2 t0 t1 rc=0
    shift 2
    WALL=""
    farm_up "$agents" || { stop_farm; return 0; }
    t0=$(now)
    timeout 900 "$RENDER" "$@" -o "$FDIR/out/f_####.png" --json >"$FDIR/render.json" \
        2>"$FDIR/render.err" || rc=$?
    t1=$(now)
    stop_farm
    local finished
    finished=$(grep '"event":"job_finished"' "$FDIR/render.json" || true)
    if [ "$rc" -ne 0 ]; then
        fail "$label: udcs-render exited with status $rc (see $FDIR/render.err)"
        sed 's/^/    /' "$FDIR/render.err" | tail -20 >&2
        return 0
    fi
    case $finished in
        *'"state":"done"'*'"cached":0}'*) ;;
        *) fail "$label: the job did not end done with no unit from the cache (nothing" \
               "measured): ${finished:-no job_finished event}"; return 0 ;;
    esac
    if grep -qE '"event":"unit_(failed|retry)"' "$FDIR/render.json"; then
        fail "$label: units failed or were retried on the farm:"
        grep -E '"event":"unit_(failed|retry)"' "$FDIR/render.json" | head -5 >&2
        return 0
    fi
    WALL=$(secs "$t0" "$t1")
    log "$label: $WALL s"
}

# same LABEL REFERENCE FARM-FRAME: the farm's frame has the direct render's pixels
same() {
    if [ ! -s "$3" ]; then
        fail "$1: the farm wrote no $3"
    elif ! "$IMAGE" compare "$2" "$3" >"$T/compare.out" 2>&1; then
        fail "$1: $3 differs from the direct render $2: $(head -c 300 "$T/compare.out")"
    fi
}

# same_range LABEL REFERENCE-PRINTF-PATTERN: frames 1-NFRAMES of $FDIR/out equal the
# direct renders; one failure for the whole range, naming the first frame that differs
same_range() {
    local f bad=0 first="" ref got
    for f in $(seq 1 "$NFRAMES"); do
        # shellcheck disable=SC2059
        ref=$(printf "$2" "$f")
        got=$(printf '%s/out/f_%04d.png' "$FDIR" "$f")
        if [ ! -s "$got" ] || ! "$IMAGE" compare "$ref" "$got" >"$T/compare.out" 2>&1; then
            bad=$((bad + 1))
            [ -n "$first" ] || first="frame $f: $got against $ref: $(head -c 300 "$T/compare.out")"
        fi
    done
    [ "$bad" -eq 0 ] || fail "$1: $bad of $NFRAMES frames differ from the direct render; $first"
}

# timed_direct LABEL COMMAND...: best of REPEAT wall times of a direct render; sets WALL
timed_direct() {
    local label=$1 t0 t1 best="" i
    shift
    WALL=""
    for i in $(seq 1 "$REPEAT"); do
        t0=$(now)
        if ! "$@" >"$T/direct.log" 2>&1; then
            fail "$label: the direct render failed"; sed 's/^/    /' "$T/direct.log" | tail -20 >&2
            return 0
        fi
        t1=$(now)
        best=$(min "$(secs "$t0" "$t1")" "$best")
    done
    WALL=$best
    log "$label: $WALL s"
}

# best_farm LABEL COMPARE-WITH UDCS-RENDER-ARGS...: best of REPEAT farm runs of frame 1 on
# one agent, each on a new farm, each frame compared with COMPARE-WITH; sets WALL
best_farm() {
    local label=$1 ref=$2 best="" i
    shift 2
    for i in $(seq 1 "$REPEAT"); do
        farm_render "$label" 1 "$@"
        [ -n "$WALL" ] || { best=""; break; }
        same "$label" "$ref" "$FDIR/out/f_0001.png"
        best=$(min "$WALL" "$best")
    done
    WALL=$best
}

declare -A R   # R[renderer.measure] = seconds

# startup COMMAND...: mean wall time of COMMAND over 5 runs, in seconds
startup() {
    local t0 i
    t0=$(now)
    for i in 1 2 3 4 5; do "$@" >/dev/null 2>&1 || true; done
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", (b - a) / 5 }'
}
START_NOTE="Starting the programs a unit runs, the mean of 5 (no rendering):"
[ -x "$TRACE" ] && START_NOTE+=" \`udcs-trace --version\` $(startup "$TRACE" --version) s,"
START_NOTE+=" \`udcs-image --version\` $(startup "$IMAGE" --version) s"
if command -v povray >/dev/null 2>&1; then
    mkdir -p "$T/empty"
    echo 'camera { location -3*z look_at 0 } sphere { 0, 1 pigment { rgb 1 } }' >"$T/empty/s.pov"
    START_NOTE+=", povray rendering an 8x8 sphere $(cd "$T/empty" && HOME=/nonexistent startup \
        povray -D +Is.pov +Os.png +W8 +H8 +WT1) s"
fi
log "$START_NOTE"

# ---- the built-in renderer -------------------------------------------------------------

if [ ! -x "$TRACE" ] || [ ! -f "$TRACE_SCENE" ] || [ ! -f "$ANIM_SCENE" ]; then
    log "built-in renderer: skipped (needs $TRACE, $TRACE_SCENE and $ANIM_SCENE)"
    R[builtin.skipped]=1
else
    mkdir -p "$T/builtin"
    S1=(--size "$TRACE_SIZE" --samples "$TRACE_SAMPLES")
    SN=(--size "$ANIM_SIZE" --samples "$ANIM_SAMPLES")
    log "built-in: $(basename "$TRACE_SCENE") $TRACE_SIZE, $TRACE_SAMPLES samples, 1 thread"
    timed_direct "built-in, direct" "$TRACE" "$TRACE_SCENE" --frame 1 "${S1[@]}" --threads 1 \
        -o "$T/builtin/direct.png"
    R[builtin.direct]=$WALL
    best_farm "built-in, farm, 1 unit" "$T/builtin/direct.png" "$TRACE_SCENE" --frames 1 "${S1[@]}"
    R[builtin.unit]=$WALL
    best_farm "built-in, farm, 4x4 tiles" "$T/builtin/direct.png" "$TRACE_SCENE" --frames 1 \
        --tiles 4x4 "${S1[@]}"
    R[builtin.tiles]=$WALL

    log "built-in: $(basename "$ANIM_SCENE") frames 1-$NFRAMES, $ANIM_SIZE, $ANIM_SAMPLES samples"
    t0=$(now)
    for f in $(seq 1 "$NFRAMES"); do
        "$TRACE" "$ANIM_SCENE" --frame "$f" "${SN[@]}" --threads 1 \
            -o "$T/builtin/anim_$f.png" >>"$T/builtin/anim.log" 2>&1 ||
            { fail "built-in: direct render of frame $f"; break; }
    done
    R[builtin.range_direct]=$(secs "$t0" "$(now)")
    log "built-in, $NFRAMES frames direct: ${R[builtin.range_direct]} s"
    for n in 1 2; do
        farm_render "built-in, $NFRAMES frames, $n agent(s)" "$n" "$ANIM_SCENE" \
            --frames "1-$NFRAMES" "${SN[@]}"
        R[builtin.range_$n]=$WALL
        [ -z "$WALL" ] || same_range "built-in, $NFRAMES frames on $n agent(s)" "$T/builtin/anim_%d.png"
    done
fi

# ---- POV-Ray ---------------------------------------------------------------------------

if ! command -v povray >/dev/null 2>&1 || [ ! -f "$POV_SRC" ]; then
    log "POV-Ray: skipped (needs povray and $POV_SRC)"
    R[povray.skipped]=1
else
    mkdir -p "$T/pov"
    cp "$POV_SRC" "$T/pov/scene.pov"
    # exactly what a unit runs (toolchains/render_split.c), HOME as on the agents
    povray_direct() {   # povray_direct WxH OUT [MORE OPTIONS]
        local size=$1 out=$2
        shift 2
        (cd "$T/pov" && HOME=/nonexistent povray -D +Iscene.pov "+O$out" "+W${size%x*}" \
            "+H${size#*x}" +FN +BS32 +WT1 +A +AM2 "+R$POV_SAMPLES" "$@")
    }
    P1=(--renderer povray --size "$POV_SIZE" --samples "$POV_SAMPLES")
    PN=(--renderer povray --size "$POV_ANIM_SIZE" --samples "$POV_SAMPLES")
    log "POV-Ray: $(basename "$POV_SRC") $POV_SIZE, +A +AM2 +R$POV_SAMPLES, 1 thread"
    timed_direct "POV-Ray, direct" povray_direct "$POV_SIZE" direct.png
    R[povray.direct]=$WALL
    # one process per tile, as the farm runs them, without the farm: POV-Ray's own cost
    # of starting once per tile
    t0=$(now)
    w=${POV_SIZE%x*} h=${POV_SIZE#*x}
    for ((r = 0; r < 4; r++)); do
        for ((c = 0; c < 4; c++)); do
            povray_direct "$POV_SIZE" "tile_${c}_$r.png" "+SC$((c * w / 4 + 1))" \
                "+EC$(((c + 1) * w / 4))" "+SR$((r * h / 4 + 1))" "+ER$(((r + 1) * h / 4))" \
                >>"$T/pov/tiles.log" 2>&1 || { fail "POV-Ray: a direct tile render"; break 2; }
        done
    done
    R[povray.tiles_direct]=$(secs "$t0" "$(now)")
    log "POV-Ray, 16 tile processes direct (no merge): ${R[povray.tiles_direct]} s"
    best_farm "POV-Ray, farm, 1 unit" "$T/pov/direct.png" "$T/pov/scene.pov" --frames 1 "${P1[@]}"
    R[povray.unit]=$WALL
    best_farm "POV-Ray, farm, 4x4 tiles" "$T/pov/direct.png" "$T/pov/scene.pov" --frames 1 \
        --tiles 4x4 "${P1[@]}"
    R[povray.tiles]=$WALL

    log "POV-Ray: frames 1-$NFRAMES at $POV_ANIM_SIZE (+KFI1 +KFF$NFRAMES)"
    t0=$(now)
    povray_direct "$POV_ANIM_SIZE" anim.png +KFI1 "+KFF$NFRAMES" >"$T/pov/anim.log" 2>&1 ||
        fail "POV-Ray: the direct animation render"
    R[povray.range_direct]=$(secs "$t0" "$(now)")
    log "POV-Ray, $NFRAMES frames direct: ${R[povray.range_direct]} s"
    digits=${#NFRAMES}
    for n in 1 2; do
        farm_render "POV-Ray, $NFRAMES frames, $n agent(s)" "$n" "$T/pov/scene.pov" \
            --frames "1-$NFRAMES" "${PN[@]}"
        R[povray.range_$n]=$WALL
        [ -z "$WALL" ] || same_range "POV-Ray, $NFRAMES frames on $n agent(s)" "$T/pov/anim%0${digits}d.png"
    done
fi

# ---- results ---------------------------------------------------------------------------

v() { echo "${R[$1]:-}"; }
cell() { if [ -n "$(v "$1")" ]; then echo "$(v "$1") s"; else echo "failed"; fi; }
met() {   # met OK-EXPRESSION: "met" / "**not met**" / "-"
    awk -v ok="$1" 'BEGIN { print ok == "" ? "-" : (ok + 0 ? "met" : "**not met**") }'
}
TARGETS=()
{
    echo "# udcs-render benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
    echo
    echo "Best of $REPEAT for single frames (each run on a new farm), one run for the"
    echo "$NFRAMES-frame ranges. Every farm unit renders with one thread on an agent of one slot."
    echo
    echo "$START_NOTE."
    for r in builtin povray; do
        if [ -n "$(v "$r.skipped")" ]; then
            echo; echo "## $r: skipped (not installed or built)"; continue
        fi
        if [ "$r" = builtin ]; then
            echo
            echo "## built-in renderer (udcs-trace)"
            echo
            echo "One frame: $(basename "$TRACE_SCENE") at $TRACE_SIZE, $TRACE_SAMPLES samples per pixel;"
            echo "range: $(basename "$ANIM_SCENE") frames 1-$NFRAMES at $ANIM_SIZE, $ANIM_SAMPLES samples."
        else
            echo
            echo "## POV-Ray ($(povray --version 2>&1 | grep -m1 -o 'POV-Ray [0-9.a-z]*'))"
            echo
            echo "One frame: $(basename "$POV_SRC") at $POV_SIZE, +A +AM2 +R$POV_SAMPLES;"
            echo "range: frames 1-$NFRAMES at $POV_ANIM_SIZE (+KFI1 +KFF$NFRAMES)."
        fi
        d=$(v "$r.direct") u=$(v "$r.unit") t=$(v "$r.tiles")
        rd=$(v "$r.range_direct") r1=$(v "$r.range_1") r2=$(v "$r.range_2")
        echo
        echo "| run | wall | against direct |"
        echo "| --- | --- | --- |"
        echo "| one frame, direct, 1 thread | $(cell "$r.direct") | |"
        echo "| one frame, farm, 1 unit, 1 agent | $(cell "$r.unit") | $(pct "$u" "$d") |"
        echo "| one frame, farm, 4x4 tiles + merge, 1 agent | $(cell "$r.tiles") | $(pct "$t" "$d") ($(pct "$t" "$u") against 1 unit) |"
        if [ -n "$(v "$r.tiles_direct")" ]; then
            echo "| one frame, 16 tile processes run directly one after another (no farm, no merge) | $(cell "$r.tiles_direct") | $(pct "$(v "$r.tiles_direct")" "$d") |"
        fi
        echo "| $NFRAMES frames, direct, 1 thread | $(cell "$r.range_direct") | |"
        echo "| $NFRAMES frames, farm, 1 agent | $(cell "$r.range_1") | $(ratio "$r1" "$rd")x |"
        echo "| $NFRAMES frames, farm, 2 agents | $(cell "$r.range_2") | $(ratio "$r2" "$rd")x; **$(ratio "$r1" "$r2")x faster** than 1 agent |"
        split_cost=$(awk -v t="$t" -v u="$u" -v d="$d" 'BEGIN { if (t != "" && u != "" && d != "") printf "%.1f", (t - u) / d * 100 }')
        speedup=$(ratio "$r1" "$r2")
        TARGETS+=("$r|tiling and merging under 3% of render time|${split_cost:+$split_cost% }((4x4 tiles - 1 unit) / direct)|$(met "$([ -n "$split_cost" ] && awk -v s="$split_cost" 'BEGIN { print (s + 0 < 3) }')")")
        TARGETS+=("$r|2 agents at least 1.8x one|${speedup}x|$(met "$([ "$speedup" != - ] && awk -v s="$speedup" 'BEGIN { print (s + 0 >= 1.8) }')")")
    done
    echo
    echo "## Against the targets"
    echo
    echo "| renderer | target | measured | |"
    echo "| --- | --- | --- | --- |"
    for line in "${TARGETS[@]}"; do echo "| ${line//|/ | } |"; done
    if [ "$STATUS" -ne 0 ]; then
        echo
        echo "## FAILED"
        echo
        for f in "${FAILURES[@]}"; do echo "- $f"; done
    fi
} | tee "$OUTDIR/results-render.md"
exit "$STATUS"
