#!/usr/bin/env bash
# tests/integration/test_encode.sh - udcs-encode on a real master and agents, on inputs
# made here with libav (make-test-video): constant and variable frame rates, with and
# without audio, keyframes far apart. Each output decodes cleanly with the input's frame
# count and duration, rising timestamps, audio in sync, and a PSNR within 0.2 dB of the
# same encode made whole on this machine. Re-runs are cache hits; an agent killed mid-job
# changes nothing; bad input of every kind is refused with nothing left behind; and
# udcs-render --encode makes the video in the render's own job.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ENCODE="$UDCS_BIN/udcs-encode"
VIDEO="$UDCS_BIN/udcs-video"
MAKE_VIDEO="$UDCS_TESTBIN/make-test-video"
export UDCS_CACHE_DIR="$T/client-cache"
SETTINGS=(--preset veryfast --crf 23)

mkdir -p "$T/in" "$T/out" "$T/ref"
cd "$T" || exit 1

# ---- inputs --------------------------------------------------------------------------------

check "a CFR input with audio (mp4, AAC)" \
    "$MAKE_VIDEO" -o in/cfr.mp4 --size 320x240 --frames 150 --fps 25 --gop 25 --audio
check "an input without audio (mkv)" \
    "$MAKE_VIDEO" -o in/silent.mkv --size 320x240 --frames 100 --fps 30 --gop 15
check "a VFR input with audio (mkv, FLAC)" \
    "$MAKE_VIDEO" -o in/vfr.mkv --size 320x240 --frames 120 --fps 25 --gop 20 --vfr --audio
check "an input whose keyframes are far apart (one every 100 frames)" \
    "$MAKE_VIDEO" -o in/farkeys.mp4 --size 320x240 --frames 160 --fps 25 --gop 100 --audio
check "an input with open GOPs (pictures after a keyframe shown before it)" \
    "$MAKE_VIDEO" -o in/opengop.mp4 --size 320x240 --frames 200 --fps 25 --gop 25 \
    --bframes 3 --open-gop --audio
check "a trimmed mp4: an edit list starts it inside a GOP (ffmpeg -ss, stream copy)" \
    ffmpeg -v error -ss 2.5 -i in/cfr.mp4 -c copy in/trimmed.mp4
check "an input whose audio an mp4 cannot hold as it is (PCM in NUT)" \
    "$MAKE_VIDEO" -o in/pcm.nut --size 320x240 --frames 100 --fps 25 --gop 25 --audio

info() { "$VIDEO" info "$1"; }
# field FILE JQ: one value of udcs-video info's answer
field() { info "$1" | jq -r "$2"; }

# ---- a farm: one master, two agents of one slot each ---------------------------------------

start_farm "$T/farm" --lease-ttl-ms 2000 --heartbeat-ms 300 --backoff-ms 100 \
    || { not_ok "master starts"; done_testing; exit 1; }
PATH="$UDCS_BIN:$PATH" start_agent a1 --slots 1
PATH="$UDCS_BIN:$PATH" start_agent a2 --slots 1
wait_until 30 agents_idle 2 || not_ok "two agents are idle"

# single IN OUT: the same encode made whole on this machine, no farm: one segment.
single() {
    local dir="ref/$(basename "$1").split"
    mkdir -p "$dir"
    "$VIDEO" split "$1" -d "$dir" --segment-seconds 86400 >"$dir/plan.json" &&
        "$VIDEO" encode "$dir/seg_00000.nut" -o "$dir/enc.nut" "${SETTINGS[@]}" >/dev/null &&
        "$VIDEO" join -o "$2" --shift "$(jq -r .shift "$dir/plan.json")" \
            --time-base "$(jq -r .time_base "$dir/plan.json")" \
            $([ -e "$dir/audio.nut" ] && echo --audio "$dir/audio.nut") "$dir/enc.nut"
}

# ffprobe_pts FILE: the video frames' times in display order, in seconds
ffprobe_pts() {
    ffprobe -v error -select_streams v -show_entries frame=pts_time -of json "$1" |
        jq -r '.frames[].pts_time'

}

# within A B LIMIT: |A - B| <= LIMIT
within() { awk -v a="$1" -v b="$2" -v l="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= l) }'; }

# ---- each input: split on the farm == one machine, within the limits -----------------------

for pair in cfr.mp4:mp4 silent.mkv:mkv vfr.mkv:mkv farkeys.mp4:mp4 opengop.mp4:mp4 \
    trimmed.mp4:mp4 pcm.nut:mp4; do
    input=${pair%:*} ext=${pair#*:}
    out="out/${input%.*}.$ext"
    "$ENCODE" "in/$input" -o "$out" "${SETTINGS[@]}" --segment-seconds 1 --json >"$out.events"
    check "$input: udcs-encode succeeds" test $? -eq 0
    segs=$(jq -r 'select(.event == "job_submitted") | .segments' "$out.events")
    info "in/$input" >"$out.in.json"
    info "$out" >"$out.out.json"
    # a frame: the input's mean frame duration (VFR inputs have no one rate)
    frame=$(jq -r '.video.duration / .video.frames' "$out.in.json")
    check "$input: the output decodes without an error" \
        jq -e '.video.decode_errors == 0' "$out.out.json"
    check "$input: exactly the input's $(jq -r .video.frames "$out.in.json") frames" \
        test "$(jq -r .video.frames "$out.in.json")" = "$(jq -r .video.frames "$out.out.json")"
    check "$input: the same duration, within one frame" \
        within "$(jq -r .video.duration "$out.in.json")" \
        "$(jq -r .video.duration "$out.out.json")" "$frame"
    check "$input: presentation times rise in display order, decode times in decode order" \
        jq -e '.video.pts_monotonic and .video.dts_monotonic' "$out.out.json"
    check "$input: the size and time base kept" \
        test "$(jq -r '[.video.time_base, .video.width, .video.height] | @csv' "$out.in.json")" = \
        "$(jq -r '[.video.time_base, .video.width, .video.height] | @csv' "$out.out.json")"
    if [ "$input" != vfr.mkv ]; then
        check "$input: the frame rate kept" \
            test "$(jq -r .video.fps "$out.in.json")" = "$(jq -r .video.fps "$out.out.json")"
    else
        check "$input: every frame's time kept (VFR)" \
            cmp <(ffprobe_pts "in/$input") <(ffprobe_pts "$out")
    fi
    if jq -e '.audio' "$out.in.json" >/dev/null; then
        # sync: where the audio starts against the video, as in the input, within a frame
        in_off=$(jq -r '.audio.start - .video.start' "$out.in.json")
        out_off=$(jq -r '.audio.start - .video.start' "$out.out.json")
        check "$input: audio in sync within one frame ($in_off s in, $out_off s out)" \
            within "$in_off" "$out_off" "$frame"
        check "$input: all the audio, copied once" \
            within "$(jq -r .audio.duration "$out.in.json")" \
            "$(jq -r .audio.duration "$out.out.json")" "$frame"
    else
        check "$input: no audio in, none out" jq -e '.audio == null' "$out.out.json"
    fi
    single "in/$input" "ref/${input%.*}.$ext"
    check "$input: the single-machine encode succeeds" test $? -eq 0
    p_farm=$("$VIDEO" psnr "in/$input" "$out" | jq -r .psnr)
    p_single=$("$VIDEO" psnr "in/$input" "ref/${input%.*}.$ext" | jq -r .psnr)
    check "$input: PSNR $p_farm dB in $segs segments, $p_single dB whole: within 0.2 dB" \
        within "$p_farm" "$p_single" 0.2
    case $input in
    cfr.mp4 | vfr.mkv | silent.mkv | pcm.nut | trimmed.mp4)
        check "$input: cut into several segments ($segs)" test "$segs" -gt 2 ;;
    opengop.mp4)
        check "$input: cut into several segments ($segs), at keyframes with leading pictures" \
            test "$segs" -gt 2 -a "$("$VIDEO" plan "in/$input" --segment-seconds 1 |
            jq '[.segments[] | .first_packet + .packets] as $e | [.segments[1:][] |
                .first_packet] | to_entries | map(select(.value < $e[.key])) | length')" -gt 0
        ;;

    farkeys.mp4)
        check "$input: cut only at its keyframes (2 segments)" test "$segs" -eq 2 ;;
    esac
    if [ "$input" = pcm.nut ]; then
        check "$input: its audio encoded once, as AAC for the mp4" \
            jq -e '.audio.codec == "aac"' "$out.out.json"
    fi
done

# ---- an input cut at an open GOP's keyframe: its leading pictures cannot be decoded -------------

"$VIDEO" split in/opengop.mp4 -d in/og-split --segment-seconds 1 >in/og-plan.json
# a segment whose keyframe has leading pictures: the one before it reaches past its start
cut=$(jq -r '.segments as $s | [range(1; $s | length) |
             select($s[. - 1].first_packet + $s[. - 1].packets > $s[.].first_packet)] |
             first as $k | $s[$k].file' in/og-plan.json)
check "a stream that begins at an open GOP's keyframe (segment $cut of opengop.mp4)" \
    test -n "$cut" -a "$cut" != null
# remuxed (the join, with no audio) into Matroska, which keeps no decode times
check "... remuxed into Matroska" "$VIDEO" join -o in/og-cut.mkv "in/og-split/$cut"
decodable=$(field in/og-cut.mkv .video.frames)
check "... has packets a decoder cannot make frames of ($decodable frames)" \
    test "$decodable" -lt "$(field in/og-cut.mkv .video.packets)"
"$ENCODE" in/og-cut.mkv -o out/og-cut.mkv "${SETTINGS[@]}" --segment-seconds 1 \
    >/dev/null 2>out/og-cut.err
check "... encodes" test $? -eq 0
check "... to the $decodable frames a decoder gets from it, cleanly" \
    jq -e --argjson n "$decodable" '.video.frames == $n and .video.decode_errors == 0' \
    <(info out/og-cut.mkv)

# ---- every container: the same segments (from the cache), joined into each -------------------

for ext in ts mov nut mkv; do
    "$ENCODE" in/cfr.mp4 -o "out/cfr-as.$ext" "${SETTINGS[@]}" --segment-seconds 1 \
        >/dev/null 2>"out/cfr-as.$ext.err"
    check "into .$ext: all 150 frames and the audio, decoding cleanly" \
        jq -e '.video.frames == 150 and .video.decode_errors == 0 and .video.pts_monotonic and
               .audio != null' <(info "out/cfr-as.$ext")
done

# ---- another codec and container, scaled ------------------------------------------------------

"$ENCODE" in/cfr.mp4 -o out/av1.mp4 --codec libsvtav1 --preset 12 --crf 40 --scale 160x120 \
    --segment-seconds 2 >/dev/null 2>out/av1.err
check "AV1 (SVT-AV1) into mp4, scaled to 160x120" test $? -eq 0
check "... all 150 frames, 160x120 AV1, decoding cleanly" \
    jq -e '.video | .codec == "av1" and .frames == 150 and .width == 160 and
           .height == 120 and .decode_errors == 0' <(info out/av1.mp4)
p_av1=$("$VIDEO" psnr in/cfr.mp4 out/av1.mp4 | jq -r .psnr)
check "... looking like the input, scaled back ($p_av1 dB)" \
    awk -v p="$p_av1" 'BEGIN { exit !(p > 25) }'

# ---- the cache ------------------------------------------------------------------------------

"$ENCODE" in/cfr.mp4 -o out/again.mp4 "${SETTINGS[@]}" --segment-seconds 1 --json \
    >out/again.events
check "the same encode again succeeds" test $? -eq 0
check "... every segment from the cache" \
    jq -se 'map(select(.event == "job_finished"))[0] | .cached == .segments' out/again.events
check "... the join from the cache too" \
    jq -se 'map(select(.event == "output"))[0].cached' out/again.events
check "... and the same file, byte for byte" cmp out/cfr.mp4 out/again.mp4
"$ENCODE" in/cfr.mp4 -o out/crf30.mp4 --preset veryfast --crf 30 --segment-seconds 1 --json \
    >out/crf30.events
check "other settings encode every segment anew" \
    jq -se 'map(select(.event == "job_finished"))[0] | .cached == 0 and .written' \
    out/crf30.events
check "... to a smaller file at crf 30" \
    test "$(stat -c %s out/crf30.mp4)" -lt "$(stat -c %s out/cfr.mp4)"

# ---- an agent killed mid-job ----------------------------------------------------------------

check "a larger input for the kill" \
    "$MAKE_VIDEO" -o in/big.mp4 --size 640x360 --frames 250 --fps 25 --gop 25 --audio
"$ENCODE" in/big.mp4 -o out/killed.mp4 --preset slower --crf 23 --segment-seconds 1 \
    >out/killed.log 2>&1 &
ENCODE_PID=$!
leased_on_a1() {
    curl -sf "$FARM_URL/api/devices" | jq -e '.devices[] | select(.name == "a1") | .running > 0'
}
if wait_until 60 leased_on_a1; then
    kill -9 "${AGENT_PIDS[a1]}"
    ok "agent a1 killed while encoding"
else
    not_ok "agent a1 got a unit to be killed with"
fi
wait "$ENCODE_PID"
check "udcs-encode still finishes" test $? -eq 0
check "... with every frame" \
    test "$(field in/big.mp4 .video.frames)" = "$(field out/killed.mp4 .video.frames)"
check "... decoding cleanly" jq -e '.video.decode_errors == 0' <(info out/killed.mp4)
p_killed=$("$VIDEO" psnr in/big.mp4 out/killed.mp4 | jq -r .psnr)
check "... at a sane quality ($p_killed dB)" awk -v p="$p_killed" 'BEGIN { exit !(p > 30) }'
PATH="$UDCS_BIN:$PATH" start_agent a3 --slots 1
wait_until 30 agents_idle 2 || not_ok "a new agent joins"

# ---- bad input: a clear error, nothing left as if complete -----------------------------------

echo "this is not a video" >in/notes.txt
expect_status 1 "a file that is not video is refused" \
    "$ENCODE" in/notes.txt -o out/notes.mp4
expect_output_contains "not a media file"
head -c 200000 in/cfr.mp4 >in/cut.mp4
expect_status 1 "a truncated mp4 is refused" "$ENCODE" in/cut.mp4 -o out/cut.mp4
expect_output_contains "cut short"
size=$(stat -c %s in/silent.mkv)
head -c $((size * 2 / 3)) in/silent.mkv >in/cut.mkv
expect_status 1 "a truncated mkv is refused" "$ENCODE" in/cut.mkv -o out/cut.mkv
expect_output_contains "in/cut.mkv"
expect_status 1 "an unknown codec is refused" \
    "$ENCODE" in/cfr.mp4 -o out/codec.mp4 --codec nosuchcodec
expect_output_contains "not a video encoder"
expect_output_contains "libx264"
expect_status 1 "a size the codec refuses (odd, for 4:2:0)" \
    "$ENCODE" in/cfr.mp4 -o out/size.mp4 --scale 321x241
expect_output_contains "refuses these settings (321x241 yuv420p"
expect_status 1 "a pixel format the codec does not take" \
    "$ENCODE" in/cfr.mp4 -o out/pixfmt.mp4 --pix-fmt yuv410p
expect_output_contains "--pix-fmt yuv410p: the libx264 encoder does not take it"
expect_status 1 "a preset the codec refuses" \
    "$ENCODE" in/cfr.mp4 -o out/preset.mp4 --preset warpspeed
expect_output_contains "refuses these settings"
expect_status 2 "an unknown flag" "$ENCODE" in/cfr.mp4 -o out/flag.mp4 --frobnicate
expect_output_contains "unknown option '--frobnicate'"
expect_status 2 "an output container that is not known" "$ENCODE" in/cfr.mp4 -o out/x.avi
expect_output_contains "one of mp4"
expect_status 2 "a container that cannot hold the codec" "$ENCODE" in/cfr.mp4 -o out/x.webm
expect_output_contains "a webm file cannot hold h264 video"
expect_status 2 "the input as its own output" "$ENCODE" in/cfr.mp4 -o in/cfr.mp4
expect_status 1 "a missing input" "$ENCODE" in/nothing.mp4 -o out/nothing.mp4
expect_output_contains "no such file"
leftovers=$(ls out | grep -E '^(notes|cut|codec|size|pixfmt|preset|flag|x|nothing)\.|partial' || true)
check "nothing written for any refused encode" test -z "$leftovers"
"$VIDEO" encode in/cfr.mp4 -o out/unit.nut --crf 23 --preset veryfast --frames 7 \
    >/dev/null 2>out/unit.err
check "an encode unit whose frame count is wrong fails" test $? -eq 1
check "... saying so" grep -q "150 frames decoded in the segment's window, 7 expected" \
    out/unit.err
check "... and leaves no file" test ! -e out/unit.nut

# ---- udcs-render --encode: one job, encode units waiting on frames ---------------------------

"$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-20 --size 160x90 --samples 2 \
    -o render/f_####.png --encode render/orbit.mp4 --fps 24 --segment-frames 6 \
    --preset veryfast --crf 18 --json >render.events
check "udcs-render --encode renders and encodes" test $? -eq 0
check "... the frames are written" test -e render/f_0001.png -a -e render/f_0020.png
check "... and the video, with all 20 frames" test "$(field render/orbit.mp4 .video.frames)" = 20
check "... at 24 fps" test "$(field render/orbit.mp4 .video.fps)" = "24/1"
job=$(jq -r 'select(.event == "job_submitted") | .job' render.events)
check "... in one job: 20 frames, 4 encode units, a join" \
    test "$(job_json "$job" | jq '.unit_list | length')" = 25
p_render=$("$VIDEO" psnr render/f_%04d.png render/orbit.mp4 | jq -r .psnr)
check "... which looks like the frames ($p_render dB)" \
    awk -v p="$p_render" 'BEGIN { exit !(p > 30) }'
"$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-20 --size 160x90 --samples 2 \
    -o render/f_####.png --encode render/again.mp4 --fps 24 --segment-frames 6 \
    --preset veryfast --crf 18 --json >render-again.events
check "the same render and encode again is all cache hits" \
    jq -se 'map(select(.event == "job_finished"))[0] | .cached == 20' render-again.events
check "... and the same video" cmp render/orbit.mp4 render/again.mp4
expect_status 2 "--encode to an unknown container is refused" \
    "$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-2 -o render/g_####.png \
    --encode render/x.gif
expect_status 2 "--encode into a container that cannot hold the codec is refused" \
    "$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-2 -o render/g_####.png \
    --encode render/x.webm
expect_output_contains "a webm file cannot hold h264 video"
expect_status 2 "--encode of EXR frames (linear light) is refused" \
    "$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-2 -o render/g_####.exr \
    --encode render/x.mp4
expect_status 1 "--encode with settings the encoder refuses fails before anything renders" \
    "$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-2 --size 161x91 \
    -o render/odd_####.png --encode render/odd.mp4
expect_output_contains "refuses these settings (161x91"
check "... no frame rendered" test ! -e render/odd_0001.png
expect_status 2 "encode settings without --encode are refused" \
    "$UDCS_BIN/udcs-render" "$ROOT/scenes/orbit.scn" --frames 1-2 -o render/g_####.png \
    --crf 20

done_testing
