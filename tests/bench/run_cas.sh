#!/usr/bin/env bash
# tests/bench/run_cas.sh - the store against the tools a user would pick
# instead, in one run on the same data: the zstd command line at the same level, and cp.
#   (a) 10,000 blobs of 4 KiB: in-process puts and gets vs `zstd -3` run once per file
#       and one `cp` of all the files, and the latency of one small-blob hit (p50, p99);
#   (b) one 1 GiB file of real data (a tar of /usr): put vs `zstd -3 -T1`, get vs
#       `zstd -d`, both vs cp.
# Large timings are the median of BENCH_RUNS runs (default 3) with the data in the page
# cache. Results go to stdout and to build/bench/results-cas.md.
set -euo pipefail
: "${UDCS_BIN:?}" "${UDCS_TESTBIN:?}"
B=${BENCH_DIR:-$(pwd)/build/bench}
RUNS=${BENCH_RUNS:-3}
SMALL=${BENCH_SMALL_COUNT:-10000}
LARGE_BYTES=${BENCH_LARGE_BYTES:-1073741824}
BENCH="$UDCS_TESTBIN/bench_cas"
mkdir -p "$B"

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
field() { awk -v k="$1" '$1 == k { print $2 }'; }

# --- data -------------------------------------------------------------------------
DATA="$B/data.bin"
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" -ne "$LARGE_BYTES" ]; then
    echo "bench: making $((LARGE_BYTES >> 20)) MiB of real data (a tar of /usr) in $DATA"
    tar -cf - --ignore-failed-read /usr/lib /usr/share /usr/bin /usr/include 2>/dev/null |
        head -c "$LARGE_BYTES" >"$DATA" || true
fi
[ "$(stat -c %s "$DATA")" -eq "$LARGE_BYTES" ] || { echo "bench: not enough data under /usr"; exit 1; }
cat "$DATA" >/dev/null   # into the page cache for every contender alike

# 4 KiB pieces from the middle of the data (source files, binaries, text), 80 MiB in, or
# from nearer the start when a small BENCH_LARGE_BYTES does not reach that far. Cut afresh
# each run, so the files and the in-process copy are the same bytes whatever the last run.
blocks=$((LARGE_BYTES / 4096))
[ "$blocks" -ge "$SMALL" ] || { echo "bench: BENCH_LARGE_BYTES holds fewer than $SMALL blocks of 4 KiB"; exit 1; }
skip=$((blocks - SMALL < 20000 ? blocks - SMALL : 20000))
dd if="$DATA" bs=4096 skip="$skip" count="$SMALL" status=none >"$B/small.concat"
SMALLDIR="$B/small"
rm -rf "$SMALLDIR"
mkdir -p "$SMALLDIR"
split -b 4096 -a 5 -d "$B/small.concat" "$SMALLDIR/f"

# --- (a) small blobs ----------------------------------------------------------------------
echo "bench: $SMALL small blobs"
rm -rf "$B/store-small"
"$BENCH" small "$B/store-small" "$B/small.concat" "$SMALL" >"$B/small.out"
small_put=$(field small_put_s <"$B/small.out")
small_get=$(field small_get_s <"$B/small.out")
p50=$(field hit_p50_us <"$B/small.out")
p99=$(field hit_p99_us <"$B/small.out")

rm -rf "$B/zstd-small"
mkdir -p "$B/zstd-small"
t0=$(now)
for f in "$SMALLDIR"/*; do zstd -3 -q -f "$f" -o "$B/zstd-small/${f##*/}.zst"; done
zstd_small=$(secs "$t0" "$(now)")
t0=$(now)
for f in "$B"/zstd-small/*.zst; do zstd -d -q -f "$f" -o "${f%.zst}"; done
zstd_small_d=$(secs "$t0" "$(now)")

# cp as a user would: one process for all the files, into a directory and back out
rm -rf "$B/cp-small" "$B/cp-small-back"
mkdir -p "$B/cp-small" "$B/cp-small-back"
t0=$(now)
cp "$SMALLDIR"/* "$B/cp-small/"
cp_small=$(secs "$t0" "$(now)")
t0=$(now)
cp "$B"/cp-small/* "$B/cp-small-back/"
cp_small_back=$(secs "$t0" "$(now)")
diff -r "$SMALLDIR" "$B/cp-small-back"
rm -rf "$B/cp-small" "$B/cp-small-back"

rm -rf "$B/store-cli"
t0=$(now)
"$UDCS_BIN/udcs-cas" --cache-dir "$B/store-cli" put "$SMALLDIR"/* >/dev/null
cli_small=$(secs "$t0" "$(now)")

# --- (b) one large file -------------------------------------------------------------------
echo "bench: $((LARGE_BYTES >> 20)) MiB file, median of $RUNS runs"
: >"$B/t.put"; : >"$B/t.again"; : >"$B/t.get"; : >"$B/t.zstd"; : >"$B/t.zstdd"; : >"$B/t.cp"
for _ in $(seq 1 "$RUNS"); do
    rm -rf "$B/store-large" "$B/data.out" "$B/data.zst" "$B/data.unz" "$B/data.cp"
    "$BENCH" put "$B/store-large" "$DATA" >"$B/put.out"
    field put_s <"$B/put.out" >>"$B/t.put"
    digest=$(field digest <"$B/put.out")
    stored=$(field stored_bytes <"$B/put.out")
    "$BENCH" put "$B/store-large" "$DATA" | field put_s >>"$B/t.again"
    "$BENCH" get "$B/store-large" "$digest" "$B/data.out" | field get_s >>"$B/t.get"
    cmp "$DATA" "$B/data.out"

    t0=$(now); zstd -3 -T1 -q -f "$DATA" -o "$B/data.zst"; secs "$t0" "$(now)" >>"$B/t.zstd"
    t0=$(now); zstd -d -q -f "$B/data.zst" -o "$B/data.unz"; secs "$t0" "$(now)" >>"$B/t.zstdd"
    t0=$(now); cp "$DATA" "$B/data.cp"; secs "$t0" "$(now)" >>"$B/t.cp"
done
put=$(median <"$B/t.put"); again=$(median <"$B/t.again"); get=$(median <"$B/t.get")
zs=$(median <"$B/t.zstd"); zd=$(median <"$B/t.zstdd"); cpt=$(median <"$B/t.cp")
zsize=$(stat -c %s "$B/data.zst")
rm -f "$B/data.out" "$B/data.zst" "$B/data.unz" "$B/data.cp"
rm -rf "$B/store-large"

mib=$((LARGE_BYTES >> 20))
{
    echo "# UDCS store benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
    echo
    echo "## (a) $SMALL blobs of 4 KiB"
    echo
    echo "| operation | UDCS | zstd, once per file | cp, once for all | UDCS / zstd | UDCS / cp |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| store all | ${small_put} s in-process | zstd -3: ${zstd_small} s | ${cp_small} s | $(ratio "$small_put" "$zstd_small") | $(ratio "$small_put" "$cp_small") |"
    echo "| store all, one \`udcs-cas put\` | ${cli_small} s | zstd -3: ${zstd_small} s | ${cp_small} s | $(ratio "$cli_small" "$zstd_small") | $(ratio "$cli_small" "$cp_small") |"
    echo "| read all (hits) | ${small_get} s in-process | zstd -d: ${zstd_small_d} s | ${cp_small_back} s | $(ratio "$small_get" "$zstd_small_d") | $(ratio "$small_get" "$cp_small_back") |"
    echo
    echo "Small-blob hit latency, in-process: p50 ${p50} us, p99 ${p99} us."
    echo
    echo "## (b) one ${mib} MiB file (tar of /usr), median of $RUNS"
    echo
    echo "| operation | UDCS | zstd | cp | UDCS / zstd | UDCS / cp |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| store | ${put} s ($(awk -v b="$LARGE_BYTES" -v t="$put" 'BEGIN{printf "%.0f", b/t/1048576}') MiB/s) | zstd -3 -T1: ${zs} s | ${cpt} s | $(ratio "$put" "$zs") | $(ratio "$put" "$cpt") |"
    echo "| store again (already present) | ${again} s | | | $(ratio "$again" "$zs") | $(ratio "$again" "$cpt") |"
    echo "| load | ${get} s ($(awk -v b="$LARGE_BYTES" -v t="$get" 'BEGIN{printf "%.0f", b/t/1048576}') MiB/s) | zstd -d: ${zd} s | ${cpt} s | $(ratio "$get" "$zd") | $(ratio "$get" "$cpt") |"
    echo
    echo "Stored size: UDCS $stored bytes, zstd -3 $zsize bytes, of $LARGE_BYTES."
} | tee "$B/results-cas.md"
