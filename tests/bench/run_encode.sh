#!/usr/bin/env bash
# tests/bench/run_encode.sh - udcs-encode against ffmpeg encoding the same file here, in
# one run on this machine, master and agents on loopback (tests/integration/lib.sh). The
# input: make-test-video, 1920x1080, 25 fps, 300 frames (12 s) with motion, a keyframe
# every 50 frames, AAC audio, libx264 at crf 12 (high quality). Every row encodes it with
# libx264, the same preset (medium) and crf (23), the audio copied:
#   (a) `ffmpeg -i IN -c:v libx264 -preset P -crf C -c:a copy OUT`, its default threads;
#   (b) the same with `-threads 1`;
#   (c) udcs-encode --segment-seconds 2 on one agent of one slot, each unit encoding with
#       one thread (--threads 1, the default);
#   (d) the same on two agents of one slot each;
#   (e) for (c) and (d): the split here (the job_submitted event's split_ms) and the join
#       unit (the unit named "output": started_ms to finished_ms in GET /api/jobs/ID) as a
#       share of udcs-encode's whole wall time;
#   (f) PSNR of every output against the input (udcs-video psnr) and its bitrate (file
#       size * 8 / duration).
# Every udcs-encode row runs on a new master (new state directory), new agents (new work
# directories) and a new client store, so no segment comes from a cache; the script
# checks that, and that every output exists and has the input's frame count: it exits 1,
# saying why, when one does not. Timings are reported, never judged; the results say how
# much CPU time other processes took meanwhile, and flag a run they disturbed. About 2
# minutes on 2 cores with preset medium (the 2-core ffmpeg encode: 15 s; veryfast: 11 s,
# so medium stays). Results go to stdout and to build/bench/results-encode.md; logs of a
# failed run stay under build/bench/encode/.
set -euo pipefail
: "${UDCS_BIN:?}" "${UDCS_TESTBIN:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTDIR=${BENCH_DIR:-$(pwd)/build/bench}
B=$OUTDIR/encode
SIZE=${BENCH_ENCODE_SIZE:-1920x1080}
FRAMES=${BENCH_ENCODE_FRAMES:-300}
FPS=25
GOP=50
PRESET=${BENCH_ENCODE_PRESET:-medium}
CRF=${BENCH_ENCODE_CRF:-23}
SEGMENT_SECONDS=${BENCH_ENCODE_SEGMENT_SECONDS:-2}

ENCODE="$UDCS_BIN/udcs-encode"
VIDEO="$UDCS_BIN/udcs-video"
MAKE_VIDEO="$UDCS_TESTBIN/make-test-video"

# shellcheck source=tests/bench/farm_lib.sh
. "$ROOT/tests/bench/farm_lib.sh"   # environment, T, fail, log, now, secs, farm_up
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
share() {   # share PART-SECONDS WHOLE-SECONDS: PART as a percentage of WHOLE
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.1f%%", a / b * 100 }'
}

for tool in "$ENCODE" "$VIDEO" "$MAKE_VIDEO"; do
    [ -x "$tool" ] || { log "no $tool (make all tests)"; exit 1; }
done
for tool in ffmpeg jq curl; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is not installed"; exit 1; }
done

# ---- farms: a new master and new agents for every measured run -------------------------

# farm_up (farm_lib.sh)

declare -A R   # R[row.measure]: wall, split, join (seconds), psnr, kbps, frames, cmd

# check_output ROW FILE: FILE exists and has the input's frames; its PSNR against the
# input and its bitrate go to R[ROW.psnr] and R[ROW.kbps]
check_output() {
    local row=$1 file=$2 info frames duration size psnr
    if [ ! -s "$file" ]; then
        fail "$row: no output $file"; return 0
    fi
    if ! info=$("$VIDEO" info "$file" 2>"$T/info.err"); then
        fail "$row: udcs-video info $file failed: $(head -c 300 "$T/info.err")"; return 0
    fi
    frames=$(jq -r '.video.frames // empty' <<<"$info")
    duration=$(jq -r '.video.duration // empty' <<<"$info")
    R[$row.frames]=$frames
    if [ "$frames" != "$IN_FRAMES" ]; then
        fail "$row: $file has ${frames:-no} frames, the input $IN_FRAMES"; return 0
    fi
    size=$(stat -c %s "$file")
    R[$row.kbps]=$(awk -v s="$size" -v d="$duration" 'BEGIN { if (d > 0) printf "%.0f", s * 8 / d / 1000 }')
    if ! psnr=$("$VIDEO" psnr "$IN" "$file" 2>"$T/psnr.err"); then
        fail "$row: udcs-video psnr $IN $file failed: $(head -c 300 "$T/psnr.err")"; return 0
    fi
    R[$row.psnr]=$(jq -r '.psnr' <<<"$psnr")
    if [ "$(jq -r '.frames' <<<"$psnr")" != "$IN_FRAMES" ]; then
        fail "$row: udcs-video psnr compared $(jq -r '.frames' <<<"$psnr") frames, not $IN_FRAMES"
    fi
}

# run_ffmpeg ROW [MORE OPTIONS]: time ffmpeg encoding the input here
run_ffmpeg() {
    local row=$1 t0 t1 out=$T/$1.mp4
    shift
    local cmd=(ffmpeg -nostdin -hide_banner -loglevel error -y -i "$IN" -c:v libx264
               -preset "$PRESET" -crf "$CRF" "$@" -c:a copy "$out")
    R[$row.cmd]="ffmpeg -i IN -c:v libx264 -preset $PRESET -crf $CRF${*:+ $*} -c:a copy OUT.mp4"
    t0=$(now)
    if ! "${cmd[@]}" >"$T/$row.log" 2>&1; then
        fail "$row: ffmpeg failed"; sed 's/^/    /' "$T/$row.log" | tail -20 >&2
        return 0
    fi
    t1=$(now)
    R[$row.wall]=$(secs "$t0" "$t1")
    log "$row: ${R[$row.wall]} s"
    check_output "$row" "$out"
}

# run_udcs ROW AGENTS: time udcs-encode on a new farm of AGENTS agents; the split and
# join times from its events and the master's API
run_udcs() {
    local row=$1 agents=$2 t0 t1 rc=0 out job finished
    farm_up "$agents" || { stop_farm; return 0; }
    out=$FDIR/out.mp4
    local cmd=("$ENCODE" "$IN" -o "$out" --codec libx264 --preset "$PRESET" --crf "$CRF"
               --segment-seconds "$SEGMENT_SECONDS" --threads 1 --json)
    R[$row.cmd]="udcs-encode IN -o OUT.mp4 --codec libx264 --preset $PRESET --crf $CRF --segment-seconds $SEGMENT_SECONDS --threads 1"
    t0=$(now)
    timeout 900 "${cmd[@]}" >"$FDIR/encode.json" 2>"$FDIR/encode.err" || rc=$?
    t1=$(now)
    job=$(jq -r 'select(.event == "job_submitted") | .job' "$FDIR/encode.json" 2>/dev/null || true)
    if [ -n "$job" ]; then
        curl -sf --max-time 20 "$FARM_URL/api/jobs/$job?limit=1000" >"$FDIR/job.json" || true
    fi
    stop_farm
    if [ -s "$FDIR/encode.err" ]; then
        log "$row: udcs-encode said on standard error:"
        sed 's/^/    /' "$FDIR/encode.err" | tail -20 >&2
    fi
    if [ "$rc" -ne 0 ]; then
        fail "$row: udcs-encode exited with status $rc (see $FDIR/encode.err)"
        return 0
    fi
    finished=$(grep '"event":"job_finished"' "$FDIR/encode.json" || true)
    case $finished in
        *'"state":"done"'*'"cached":0,'*'"written":true'*) ;;
        *) fail "$row: the job did not end done, written, with no segment from the cache" \
               "(nothing measured): ${finished:-no job_finished event}"; return 0 ;;
    esac
    if grep -qE '"event":"unit_(failed|retry)"' "$FDIR/encode.json"; then
        fail "$row: units failed or were retried on the farm:"
        grep -E '"event":"unit_(failed|retry)"' "$FDIR/encode.json" | head -5 >&2
        return 0
    fi
    R[$row.wall]=$(secs "$t0" "$t1")
    R[$row.segments]=$(jq -r 'select(.event == "job_submitted") | .segments' "$FDIR/encode.json")
    R[$row.split]=$(jq -r 'select(.event == "job_submitted") | .split_ms / 1000 * 100 | round / 100' \
        "$FDIR/encode.json")
    if [ -s "$FDIR/job.json" ]; then
        R[$row.join]=$(jq -r '[.unit_list[] | select(.name == "output")
            | select(.started_ms != null and .finished_ms != null)
            | (.finished_ms - .started_ms) / 10 | round / 100] | first // empty' "$FDIR/job.json")
        R[$row.units]=$(jq -r '.unit_list | length' "$FDIR/job.json")
        # what the segment units took on the agents, summed (started_ms to finished_ms)
        R[$row.seg_sum]=$(jq -r '[.unit_list[] | select(.name != "output")
            | select(.started_ms != null and .finished_ms != null)
            | (.finished_ms - .started_ms)] | (add // 0) / 10 | round / 100' "$FDIR/job.json")
    fi
    [ -n "${R[$row.join]:-}" ] || fail "$row: no join unit (named \"output\") with times in" \
        "GET /api/jobs/$job (see $FDIR/job.json)"
    log "$row: ${R[$row.wall]} s (${R[$row.segments]} segments; split ${R[$row.split]} s," \
        "join unit ${R[$row.join]:-?} s)"
    check_output "$row" "$out"
}

# Whether something else ran beside the benchmark: CPU time this machine spent (/proc/stat)
# less what this script and everything it started and waited for spent (`times`).
HZ=$(getconf CLK_TCK)
busy_cpu() { awk -v hz="$HZ" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
own_cpu() {   # OWN: user and system seconds of this shell and its waited-for children
    times >"$T/times"   # here, not in a subshell: a subshell counts only its own
    OWN=$(awk '{ for (i = 1; i <= NF; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } }
               END { printf "%.2f", t }' "$T/times")
}
own_cpu
BUSY0=$(busy_cpu) OWN0=$OWN WALL0=$(now)

# ---- the input ---------------------------------------------------------------------------

IN=$T/input.mp4
log "input: make-test-video $SIZE, $FRAMES frames at $FPS fps, gop $GOP, audio (libx264 crf 12)"
if ! "$MAKE_VIDEO" -o "$IN" --size "$SIZE" --frames "$FRAMES" --fps "$FPS" --gop "$GOP" \
    --audio >"$T/input.log" 2>&1; then
    fail "make-test-video failed"; sed 's/^/    /' "$T/input.log" | tail -20 >&2
    exit 1
fi
IN_INFO=$("$VIDEO" info "$IN")
IN_FRAMES=$(jq -r '.video.frames' <<<"$IN_INFO")
IN_DURATION=$(jq -r '.video.duration' <<<"$IN_INFO")
IN_KBPS=$(awk -v s="$(stat -c %s "$IN")" -v d="$IN_DURATION" 'BEGIN { printf "%.0f", s * 8 / d / 1000 }')
log "input: $IN_FRAMES frames, $IN_DURATION s, $IN_KBPS kbit/s"

# ---- the encodes -------------------------------------------------------------------------

log "encoding with libx264, preset $PRESET, crf $CRF"
run_ffmpeg ffmpeg_default
run_ffmpeg ffmpeg_1 -threads 1
run_udcs udcs_1 1
run_udcs udcs_2 2

# ---- results -----------------------------------------------------------------------------

own_cpu
OTHER_CPU=$(awk -v b0="$BUSY0" -v b1="$(busy_cpu)" -v o0="$OWN0" -v o1="$OWN" \
    'BEGIN { x = (b1 - b0) - (o1 - o0); printf "%.0f", x < 0 ? 0 : x }')
RUN_WALL=$(secs "$WALL0" "$(now)")
v() { echo "${R[$1]:-}"; }
cell() { if [ -n "$(v "$1")" ]; then echo "$(v "$1")${2:-}"; else echo "failed"; fi; }
FD=$(v ffmpeg_default.wall)
{
    echo "# udcs-encode benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
    echo
    echo "Input: make-test-video, $SIZE, $FPS fps, $IN_FRAMES frames ($IN_DURATION s), a"
    echo "keyframe every $GOP frames, AAC audio; libx264 crf 12, $IN_KBPS kbit/s."
    echo "Every row: libx264, preset **$PRESET**, crf $CRF, the audio copied, one run each."
    echo "udcs-encode: --segment-seconds $SEGMENT_SECONDS ($(v udcs_2.segments) segments + 1 join"
    echo "unit), agents of one slot on loopback, each unit encoding with one thread; every"
    echo "row on a new master, new agents and a new client store (nothing cached)."
    echo "$(ffmpeg -version | head -1 | cut -d' ' -f1-3). CPU time spent by other processes on"
    echo "this machine during the run: $OTHER_CPU s of $(awk -v w="$RUN_WALL" -v n="$(nproc)" \
        'BEGIN { printf "%.0f", w * n }') s$(awk -v o="$OTHER_CPU" -v w="$RUN_WALL" -v n="$(nproc)" \
        'BEGIN { if (o > 0.05 * w * n) printf " (**something else ran beside the benchmark: the timings are not clean**)" }')."
    echo
    echo "| run | wall | ffmpeg (default threads) / this | split | join unit | segment units, summed | PSNR | kbit/s |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for row in ffmpeg_default ffmpeg_1 udcs_1 udcs_2; do
        case $row in
            ffmpeg_default) name="ffmpeg, default threads ($(nproc) cores)" ;;
            ffmpeg_1) name="ffmpeg, -threads 1" ;;
            udcs_1) name="udcs-encode, 1 agent" ;;
            udcs_2) name="udcs-encode, 2 agents" ;;
        esac
        w=$(v "$row.wall")
        if [ "${row%%_*}" = udcs ] && [ -n "$w" ]; then
            sp="$(cell "$row.split" " s") ($(share "$(v "$row.split")" "$w"))"
            jn="$(cell "$row.join" " s") ($(share "$(v "$row.join")" "$w"))"
            ss=$(cell "$row.seg_sum" " s")
        else
            sp="" jn="" ss=""
        fi
        echo "| $name | $(cell "$row.wall" " s") | $(ratio "$FD" "$w") | $sp | $jn | $ss | $(cell "$row.psnr" " dB") | $(cell "$row.kbps") |"
    done
    echo
    echo "- ffmpeg (default threads) / udcs-encode on 2 agents: **$(ratio "$FD" "$(v udcs_2.wall)")x**"
    echo "- udcs-encode 1 agent / 2 agents: **$(ratio "$(v udcs_1.wall)" "$(v udcs_2.wall)")x**"
    echo "- ffmpeg -threads 1 / udcs-encode on 1 agent: $(ratio "$(v ffmpeg_1.wall)" "$(v udcs_1.wall)")x"
    echo "- ffmpeg -threads 1 / default threads: $(ratio "$(v ffmpeg_1.wall)" "$FD")x"
    echo
    echo "Split: here, from the job_submitted event's split_ms (cutting at keyframes and"
    echo "storing the segments). Join unit: the unit named \"output\", started_ms to"
    echo "finished_ms in GET /api/jobs/ID. Shares are of udcs-encode's whole wall time."
    echo "kbit/s: file size * 8 / duration (video and the copied audio)."
    echo
    echo "Commands (IN: the input above):"
    echo
    for row in ffmpeg_default ffmpeg_1 udcs_1; do echo "    $(v "$row.cmd")"; done
    echo
    echo "Reproduce: \`make bench BENCH_ONLY=encode\`"
    if [ "$STATUS" -ne 0 ]; then
        echo
        echo "## FAILED"
        echo
        for f in "${FAILURES[@]}"; do echo "- $f"; done
    fi
} | tee "$OUTDIR/results-encode.md"
exit "$STATUS"
