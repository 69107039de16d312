#!/usr/bin/env bash
# tests/bench/run_ci.sh - `udcs ci` against what a pipeline would do instead, in one run:
#   (a) the key of a step over a large real tree (the Linux source of linux-source-6.1
#       committed into a test repository, about 78,000 files): a clean-tree step hit with
#       the whole tree and with one subdirectory as inputs, first run and warm, against
#       hashing the same files with `git hash-object` and against `git status` alone (the
#       scan of the working tree the key cannot skip);
#   (b) a hit of a step whose outputs are 100 MiB of real data, against restoring the same
#       outputs from a tar + zstd file (what a CI system's cache action does).
# Warm timings are the median of BENCH_RUNS runs (default 3). Results go to stdout and to
# build/bench/results-ci.md.
set -euo pipefail
: "${UDCS_BIN:?}"
B=${BENCH_DIR:-$(pwd)/build/bench}
RUNS=${BENCH_RUNS:-3}
OUT_BYTES=${BENCH_CI_OUTPUT_BYTES:-104857600}
SRC=/usr/src/linux-source-6.1.tar.xz
UDCS="$UDCS_BIN/udcs"
mkdir -p "$B"

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || true; secs "$t0" "$(now)"; }

# --- the repository (kept between runs) -------------------------------------------------
[ -f "$SRC" ] || { echo "bench ci: $SRC is missing (apt-get install linux-source-6.1)"; exit 1; }
L="$B/ci-linux/linux-source-6.1"
if ! git -C "$L" rev-parse -q --verify HEAD >/dev/null 2>&1; then
    echo "bench ci: unpacking $SRC and committing it into a repository (once)"
    rm -rf "$B/ci-linux"
    mkdir -p "$B/ci-linux"
    tar -xJf "$SRC" -C "$B/ci-linux"
    # Debian's packaging ignores every top-level path; the repository is the source itself.
    sed -i '/^# Debian packaging/,$d' "$L/.gitignore"
    git -C "$L" init -q .
    git -C "$L" add -A .
    git -C "$L" -c user.email=bench@example.com -c user.name=bench commit -qm linux
fi
files=$(git -C "$L" ls-files | wc -l)
git -C "$L" status >/dev/null   # a clean index, as after any checkout

# --- (a) the key ------------------------------------------------------------------------
echo "bench ci: the key over $files files"
cd "$L"
export UDCS_CACHE_DIR="$B/ci-cache"
rm -rf "$UDCS_CACHE_DIR"
step() { "$UDCS" ci step --name "bench-${1//\//-}" --inputs "$1" -- true; }
whole_first=$(timed step .)
sub_first=$(timed step drivers/net)
: >"$B/t.whole"; : >"$B/t.sub"; : >"$B/t.status"; : >"$B/t.status_sub"
for _ in $(seq 1 "$RUNS"); do
    timed step . >>"$B/t.whole"
    timed step drivers/net >>"$B/t.sub"
    timed git status --porcelain >>"$B/t.status"
    timed git status --porcelain -- drivers/net >>"$B/t.status_sub"
done
whole=$(median <"$B/t.whole"); sub=$(median <"$B/t.sub")
st=$(median <"$B/t.status"); st_sub=$(median <"$B/t.status_sub")
grep -c '"outcome":"hit"' "$UDCS_CACHE_DIR/ci/steps.jsonl" | grep -qx $((2 * RUNS)) ||
    { echo "bench ci: the warm steps were not all hits"; exit 1; }
sub_files=$(git ls-files drivers/net | wc -l)
hash_all() { git ls-files -s | awk '$1 == "100644" || $1 == "100755" { sub(/^[^\t]*\t/, ""); print }' | git hash-object --stdin-paths; }
hash_sub() { git ls-files -s drivers/net | awk '$1 == "100644" || $1 == "100755" { sub(/^[^\t]*\t/, ""); print }' | git hash-object --stdin-paths; }
hash_whole=$(timed hash_all)
hash_sub_t=$(timed hash_sub)

# --- (b) a hit with 100 MiB of outputs --------------------------------------------------
echo "bench ci: a hit with $((OUT_BYTES >> 20)) MiB of outputs"
DATA="$B/ci-output.bin"
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" -ne "$OUT_BYTES" ]; then
    tar -cf - --ignore-failed-read /usr/lib /usr/share 2>/dev/null | head -c "$OUT_BYTES" >"$DATA" || true
fi
W="$B/ci-out-repo"
rm -rf "$W"; mkdir -p "$W/src"; cd "$W"
git init -q . && echo x >src/x && printf 'out/\n' >.gitignore && git add . &&
    git -c user.email=bench@example.com -c user.name=bench commit -qm out
export UDCS_CACHE_DIR="$B/ci-cache-out"
rm -rf "$UDCS_CACHE_DIR"
make_out() { "$UDCS" ci step --name out --inputs src --outputs out -- sh -c "mkdir -p out && split -b 10M -d '$DATA' out/part"; }
miss=$(timed make_out)
rm -rf out
cmd_only=$(timed sh -c "mkdir -p out && split -b 10M -d '$DATA' out/part")
: >"$B/t.hit"; : >"$B/t.untar"; : >"$B/t.tar"
for _ in $(seq 1 "$RUNS"); do
    rm -rf out
    t0=$(now); make_out >/dev/null; secs "$t0" "$(now)" >>"$B/t.hit"
    cat out/part* | cmp - "$DATA"
    t0=$(now); tar -cf - out | zstd -3 -T1 -q -o "$B/out.tar.zst" -f; secs "$t0" "$(now)" >>"$B/t.tar"
    rm -rf out
    t0=$(now); zstd -dc "$B/out.tar.zst" | tar -xf -; secs "$t0" "$(now)" >>"$B/t.untar"
done
hit=$(median <"$B/t.hit"); untar=$(median <"$B/t.untar"); tarz=$(median <"$B/t.tar")
rm -rf "$W" "$B/out.tar.zst" "$UDCS_CACHE_DIR" "$B/ci-cache"

{
    echo "# UDCS ci benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
    echo
    echo "## (a) the key of a clean-tree step: Linux 6.1, $files files"
    echo
    echo "| inputs | files | udcs ci step, hit, first | warm (median of $RUNS) | git status alone | git hash-object of the files | hit / hash-object |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "| \`.\` (whole tree) | $files | ${whole_first} s | ${whole} s | ${st} s | ${hash_whole} s | $(ratio "$whole" "$hash_whole") |"
    echo "| \`drivers/net\` | $sub_files | ${sub_first} s | ${sub} s | ${st_sub} s | ${hash_sub_t} s | $(ratio "$sub" "$hash_sub_t") |"
    echo
    echo "The first run is a miss of \`true\` (key, run, store); warm runs are hits."
    echo
    echo "## (b) a step with $((OUT_BYTES >> 20)) MiB of outputs (10 files of real data), median of $RUNS"
    echo
    echo "| operation | udcs ci step | tar + zstd -3 | udcs / tar + zstd |"
    echo "| --- | --- | --- | --- |"
    echo "| save (miss: run, archive, store) | ${miss} s, of which the command alone ${cmd_only} s | tar \\| zstd: ${tarz} s | $(ratio "$(awk -v a="$miss" -v b="$cmd_only" 'BEGIN { print a - b }')" "$tarz") (without the command) |"
    echo "| restore (hit) | ${hit} s | zstd -d \\| tar -x: ${untar} s | $(ratio "$hit" "$untar") |"
} | tee "$B/results-ci.md"
