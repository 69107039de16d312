#!/usr/bin/env bash
# tests/integration/test_render.sh - udcs-render on a real master and agents: tiles equal
# the whole frame byte for byte (built-in renderer) and pixel for pixel (POV-Ray on one
# of Debian's example scenes, Blender when installed); frames from the farm equal frames
# rendered directly; the cache renders nothing twice, extends ranges with new frames only,
# re-renders everything after a material changes; an agent killed mid-job, an interrupted
# client, and bad input of every kind.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RENDER="$UDCS_BIN/udcs-render"
TRACE="$UDCS_BIN/udcs-trace"
IMAGE="$UDCS_BIN/udcs-image"
export UDCS_CACHE_DIR="$T/client-cache"

# same_pixels A B: udcs-image compare, which says where they differ.
same_pixels() { "$IMAGE" compare "$1" "$2"; }

# ---- the built-in renderer alone: regions are exact pieces of the frame ------------------

mkdir -p "$T/direct"
SCN="$ROOT/scenes/cornell.scn"
check "udcs-trace renders the Cornell box" \
    "$TRACE" "$SCN" --frame 1 --size 90x70 --samples 6 --threads 2 -o "$T/direct/full.png"
tiles=()
for r in "0,0,37,30" "37,0,53,30" "0,30,37,40" "37,30,53,40"; do
    n=${r//,/_}
    "$TRACE" "$SCN" --frame 1 --size 90x70 --samples 6 --threads 1 --region "$r" \
        -o "$T/direct/t_$n.exr" || not_ok "region $r renders"
    tiles+=("$T/direct/t_$n.exr@$r")
done
check "udcs-image merges four uneven tiles" \
    "$IMAGE" merge --size 90x70 -o "$T/direct/merged.png" "${tiles[@]}"
check "tiles merged == the whole frame, byte for byte (PNG)" \
    cmp "$T/direct/full.png" "$T/direct/merged.png"
"$TRACE" "$SCN" --frame 1 --size 90x70 --samples 6 --linear -o "$T/direct/full.exr"
for r in "0,0,90,33" "0,33,90,37"; do
    "$TRACE" "$SCN" --frame 1 --size 90x70 --samples 6 --linear --region "$r" \
        -o "$T/direct/h_${r//,/_}.exr"
done
"$IMAGE" merge --size 90x70 -o "$T/direct/merged.exr" "$T/direct/h_0_0_90_33.exr@0,0,90,33" \
    "$T/direct/h_0_33_90_37.exr@0,33,90,37"
check "tiles merged == the whole frame, byte for byte (linear EXR)" \
    cmp "$T/direct/full.exr" "$T/direct/merged.exr"
expect_status 2 "a merge with a gap is refused" \
    "$IMAGE" merge --size 90x70 -o "$T/direct/gap.png" "$T/direct/h_0_0_90_33.exr@0,0,90,33"
expect_output_contains "no tile covers pixel 0,33"
[ ! -e "$T/direct/gap.png" ] && ok "nothing written for a refused merge" ||
    not_ok "nothing written for a refused merge"

# ---- a farm: one master, two agents of one slot each --------------------------------------

start_farm "$T/farm" --lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 \
    || { not_ok "master starts"; done_testing; exit 1; }
# The agents see UDCS's programs and a shell, not POV-Ray or Blender (until a third agent
# joins below): a renderer no agent has must be refused clearly.
mkdir -p "$T/agent-path"
for p in udcs-trace udcs-image; do ln -s "$UDCS_BIN/$p" "$T/agent-path/$p"; done
for p in sh cat env mkdir; do ln -s "$(command -v $p)" "$T/agent-path/$p"; done
PATH="$T/agent-path" start_agent a1 --slots 1
PATH="$T/agent-path" start_agent a2 --slots 1
check "two agents register" wait_until 20 agents_idle 2
cd "$T" || exit 1

ORBIT="$ROOT/scenes/orbit.scn"
OPTS=(--size 64x48 --samples 4)
for f in 1 2 3 4 5 6; do
    "$TRACE" "$ORBIT" --frame "$f" "${OPTS[@]}" -o "$T/direct/orbit_$f.png" ||
        not_ok "direct render of orbit frame $f"
done
check "udcs-render renders frames 1-6 on the farm" \
    timeout 300 "$RENDER" "$ORBIT" --frames 1-6 "${OPTS[@]}" -o out/f_####.png
all_same() {   # all_same DIR: frames 1-6 of DIR equal the direct renders, byte for byte
    for f in 1 2 3 4 5 6; do cmp "$T/direct/orbit_$f.png" "$1/f_000$f.png" || return 1; done
}
check "every farm frame == the frame rendered on one machine" all_same out
check "3x2 tiles on the farm give the same frames, byte for byte" \
    timeout 300 "$RENDER" "$ORBIT" --frames 1-6 --tiles 3x2 "${OPTS[@]}" -o tiled/f_####.png
check "tiled frames == direct frames" all_same tiled

"$TRACE" "$ORBIT" --frame 2 "${OPTS[@]}" --linear -o "$T/direct/orbit_2.exr"
check "EXR frames as 2x2 tiles on the farm" \
    timeout 300 "$RENDER" "$ORBIT" --frames 2 --tiles 2x2 "${OPTS[@]}" -o exr/f_#.exr
check "== the linear EXR rendered on one machine, byte for byte" cmp "$T/direct/orbit_2.exr" exr/f_2.exr

# json_field FILE KEY: KEY of the job_finished line of udcs-render --json
job_field() { grep '"event":"job_finished"' "$1" | sed -n "s/.*\"$2\":\([0-9a-z\"]*\).*/\1/p"; }
timeout 120 "$RENDER" "$ORBIT" --frames 1-6 "${OPTS[@]}" -o out/f_####.png --json >again.json
check "the same command again renders nothing: 6 of 6 frames from the cache" \
    test "$(job_field again.json cached)" = 6
timeout 120 "$RENDER" "$ORBIT" --frames 1-8 "${OPTS[@]}" -o out/f_####.png --json >more.json
check "frames 1-8 after 1-6: 6 from the cache, 2 rendered" \
    test "$(job_field more.json cached)" = 6 -a "$(job_field more.json frames_written)" = 8
grep -q '"event":"frame","frame":7' more.json && ok "--json reports each frame" ||
    not_ok "--json reports each frame"

# one material changed (in the file the scene includes): every frame is rendered again
mkdir -p edited && cp -r "$ROOT/scenes/." edited/
sed -i 's/color <0.7, 0.08, 0.06>/color <0.1, 0.7, 0.1>/' edited/orbit_materials.scn
check "the red material is now green" grep -q "red .*<0.1, 0.7, 0.1>" edited/orbit_materials.scn
timeout 300 "$RENDER" edited/orbit.scn --frames 1-3 "${OPTS[@]}" -o edited/out/f_####.png \
    --json >edited.json
check "after a material changes, no frame comes from the cache" \
    test "$(job_field edited.json cached)" = 0 -a "$(job_field edited.json frames_written)" = 3
"$TRACE" edited/orbit.scn --frame 2 "${OPTS[@]}" -o "$T/direct/edited_2.png"
check "and the new frame is the edited scene's" cmp "$T/direct/edited_2.png" edited/out/f_0002.png

# ---- an agent killed with a unit in hand --------------------------------------------------

BIG=(--size 96x72 --samples 24)
timeout 300 "$RENDER" "$ORBIT" --frames 20-27 "${BIG[@]}" -o killed/f_####.png >killed.log 2>&1 &
RENDER_PID=$!
leased_on_a1() {
    curl -sf "$FARM_URL/api/devices" | jq -e '.devices[] | select(.name == "a1") | .running > 0'
}
if wait_until 60 leased_on_a1; then
    kill -9 "${AGENT_PIDS[a1]}"
    ok "agent a1 killed while rendering"
else
    not_ok "agent a1 got a unit to be killed with"
fi
wait "$RENDER_PID"
check "udcs-render still finishes every frame" test $? -eq 0
frames_match() {
    for f in 20 21 22 23 24 25 26 27; do
        "$TRACE" "$ORBIT" --frame "$f" "${BIG[@]}" -o "$T/direct/k_$f.png" &&
            cmp "$T/direct/k_$f.png" "killed/f_00$f.png" || return 1
    done
}
check "and every frame is correct" frames_match
PATH="$T/agent-path" start_agent a1 --slots 1

# ---- an interrupted client resumes from what was finished ---------------------------------

timeout 300 "$RENDER" "$ORBIT" --frames 40-47 "${BIG[@]}" -o resumed/f_####.png >int.log 2>&1 &
RENDER_PID=$!
wait_until 120 test -e resumed/f_0040.png -o -e resumed/f_0041.png
kill -INT "$RENDER_PID"
wait "$RENDER_PID"
check "^C stops udcs-render with status 130" test $? -eq 130
cp int.log "$T/.out"
expect_output_contains "the same command renders only the rest"
timeout 300 "$RENDER" "$ORBIT" --frames 40-47 "${BIG[@]}" -o resumed/f_####.png --json \
    >resume.json 2>&1
check "run again, it finishes all 8 frames" test "$(job_field resume.json frames_written)" = 8
check "taking the frames finished before ^C from the cache" \
    test "$(job_field resume.json cached)" -ge 1

# ---- bad input -----------------------------------------------------------------------------

mkdir -p bad
printf 'camera {\n  position <0, 1, 5>\n  fov ]\n}\n' >bad/syntax.scn
expect_status 1 "a scene that does not parse is refused" \
    "$RENDER" bad/syntax.scn --frames 1 -o bad/x.png
expect_output_contains "syntax.scn:3:"
printf 'include "nowhere.scn"\n' >bad/include.scn
expect_status 1 "a scene whose include is missing is refused" \
    "$RENDER" bad/include.scn --frames 1 -o bad/x.png
expect_output_contains "nowhere.scn"
expect_status 2 "a frame range that ends before it starts is refused" \
    "$RENDER" "$ORBIT" --frames 5-1 -o bad/f_####.png
expect_output_contains "frame range '5-1' ends before it starts"
expect_status 2 "frames that are not numbers are refused" \
    "$RENDER" "$ORBIT" --frames 1-x -o bad/f_####.png
expect_status 2 "several frames into one file name are refused" \
    "$RENDER" "$ORBIT" --frames 1-3 -o bad/one.png
expect_output_contains "need #### in the name"
expect_status 2 "an unknown option is refused" "$RENDER" "$ORBIT" --frames 1 --tile 2x2 -o x.png
expect_output_contains "unknown option '--tile'"
expect_status 2 "a size without pixels is refused before anything is sent" \
    "$RENDER" "$ORBIT" --frames 1 --size 0x10 -o bad/s.png
expect_output_contains "--size 0x10: give WIDTHxHEIGHT in pixels"
expect_status 2 "a tile grid without columns is refused before anything is sent" \
    "$RENDER" "$ORBIT" --frames 1 --tiles 0x2 -o bad/t.png
expect_output_contains "--tiles 0x2: give COLUMNSxROWS"
expect_status 1 "tiles more than pixels are refused" \
    "$RENDER" "$ORBIT" --frames 1 --size 8x8 --tiles 16x1 -o bad/t.png
expect_output_contains "do not fit"
POV_SCENE="$T/pov/biscuit.pov"
mkdir -p pov && cp /usr/share/doc/povray/examples/advanced/biscuit.pov pov/
expect_status 1 "a renderer no agent has is refused" \
    "$RENDER" pov/biscuit.pov --frames 1 --size 64x48 -o bad/p.png
expect_output_contains "no connected agent offers the renderer povray"
expect_status 1 "several POV-Ray frames without --animation (refused here: no agent has it)" \
    "$RENDER" pov/biscuit.pov --frames 1-2 --size 64x48 -o bad/p_#.png
expect_output_contains "POV-Ray's clock spans the frames asked for, 1-2 (+KFI1 +KFF2)"
expect_output_contains "name the whole with --animation FIRST-LAST"
printf '#include "colors.inc"\n#include "my_textures.inc"\nsphere { 0, 1 }\n' >pov/missing.pov
expect_status 1 "a POV-Ray scene with a missing include is refused" \
    "$RENDER" pov/missing.pov --frames 1 -o bad/m.png
expect_output_contains 'missing.pov:2: #include "my_textures.inc" is not next to the scene'
printf 'plane { y, 0 pigment { image_map { png "wood.png" } } }\n' >pov/texture.pov
expect_status 1 "a POV-Ray scene with a missing texture is refused" \
    "$RENDER" pov/texture.pov --frames 1 -o bad/m.png
expect_output_contains 'texture.pov:1: file "wood.png" is not next to the scene'

# ---- POV-Ray: an agent that has it ---------------------------------------------------------

PATH="$UDCS_BIN:$PATH" start_agent a3 --slots 1
check "an agent with POV-Ray joins" wait_until 20 agents_idle 3
POV=(--size 160x120 --samples 3)
(cd pov && povray -D +Ibiscuit.pov +O../pov_direct.png +W160 +H120 +FN +A +AM2 +R3 \
    >/dev/null 2>&1)
check "udcs-render renders a POV-Ray frame" \
    timeout 300 "$RENDER" pov/biscuit.pov --frames 1 "${POV[@]}" -o pov_out/whole.png
check "== povray run directly, pixel for pixel" same_pixels pov_direct.png pov_out/whole.png
check "udcs-render renders it as 3x3 tiles" \
    timeout 300 "$RENDER" pov/biscuit.pov --frames 1 --tiles 3x3 "${POV[@]}" -o pov_out/tiled.png
check "tiled == povray run directly, pixel for pixel (tiles on POV-Ray's 32-pixel blocks)" \
    same_pixels pov_direct.png pov_out/tiled.png
"$IMAGE" convert pov_direct.png pov_direct_rewritten.png
check "and byte for byte, once both are written by the same PNG writer" \
    cmp pov_direct_rewritten.png pov_out/tiled.png
check "a POV-Ray frame as a 16-bit TIFF (rendered +FN16, converted by a merge unit)" \
    timeout 300 "$RENDER" pov/biscuit.pov --frames 1 "${POV[@]}" -o pov_out/whole.tif
check "the same picture as the 8-bit PNG, within 8-bit rounding" \
    "$IMAGE" compare --tolerance 0.0025 pov_direct.png pov_out/whole.tif
# An animation from Debian's examples whose camera moves with the clock, so that a frame
# rendered at the wrong clock would differ.
cp /usr/share/doc/povray/examples/animations/camera2/camera2.pov pov/
check "a POV-Ray animation: frames 1-3 of 5 (+KFI1 +KFF5)" \
    timeout 300 "$RENDER" pov/camera2.pov --frames 1-3 --animation 1-5 --size 64x48 \
    -o pov_out/a_#.png
grep -q "clock spans" "$T/.out" && not_ok "no warning about the clock with --animation" ||
    ok "no warning about the clock with --animation"
check "each frame written" test -s pov_out/a_1.png -a -s pov_out/a_3.png
(cd pov && povray -D +Icamera2.pov +O../pov_anim_.png +W64 +H48 +FN +KFI1 +KFF5 +SF2 +EF2 \
    >/dev/null 2>&1)
check "frame 2 == povray run directly for frame 2 of 1-5 (+SF2 +EF2), pixel for pixel" \
    same_pixels pov_anim_2.png pov_out/a_2.png
expect_status 1 "and the clock moves the camera: frames 1 and 2 differ" \
    "$IMAGE" compare pov_out/a_1.png pov_out/a_2.png
printf '#include "stripes.inc"\nsphere { 0, 1 pigment { Stripes } }\ncamera { location <0,0,-4> look_at 0 }\nlight_source { <2,4,-3> rgb 1 }\n' >pov/with_include.pov
printf '#declare Stripes = pigment { gradient x color_map { [0 rgb <1,0,0>] [1 rgb <0,0,1>] } }\n' >pov/stripes.inc
check "a scene's own include is shipped with it" \
    timeout 300 "$RENDER" pov/with_include.pov --frames 1 --size 64x48 -o pov_out/inc.png

# ---- Blender -------------------------------------------------------------------------------

if ! command -v blender >/dev/null 2>&1; then
    ok "# SKIP Blender tests: blender is not installed (Debian's blender; .ci/run installs it)"
else
    cat >mkblend.py <<'EOF'
import os, bpy
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.samples = 4
s.cycles.use_denoising = False
s.cycles.use_adaptive_sampling = False
s.frame_start, s.frame_end = 1, 3
cube = bpy.data.objects['Cube']
for f, x in ((1, -1.0), (3, 1.0)):
    cube.location.x = x
    cube.keyframe_insert(data_path='location', frame=f)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(os.getcwd(), 'blend', 'cube.blend'))
EOF
    mkdir -p blend
    check "Blender makes a test scene" blender -b --factory-startup --python mkblend.py
    check "udcs-render renders Blender frames 1-2" \
        timeout 300 "$RENDER" blend/cube.blend --frames 1-2 --size 64x48 -o blend_out/w_#.png
    check "and as 2x2 tiles" \
        timeout 300 "$RENDER" blend/cube.blend --frames 1-2 --size 64x48 --tiles 2x2 \
        -o blend_out/t_#.png
    check "Blender tiles == Blender whole frames, pixel for pixel" \
        same_pixels blend_out/w_2.png blend_out/t_2.png
    expect_status 1 "the two frames differ (the cube moves)" \
        "$IMAGE" compare blend_out/w_1.png blend_out/w_2.png
fi

done_testing
