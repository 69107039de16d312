#!/usr/bin/env bash
# tests/integration/test_compile_kernel.sh - udcs-compile on a real C project nobody here
# wrote: part of the Linux kernel (Debian's linux-source-6.1, `make tinyconfig`), built
#   1. with plain gcc, keeping every object, generated assembler file and .cmd file;
#   2. through udcs-compile with an empty cache: every object byte-identical to plain gcc's,
#      every .cmd file (kbuild's record of the command and of the dependency file) the same
#      but for the compiler's name; misses, no hits, no errors;
#   3. again from a wiped object directory on the same cache: every cacheable call a direct
#      hit, the same uncacheable calls as before, the same objects and .cmd files again.
# The compiler checks of the configuration and of kbuild (`gcc ... -c -x c /dev/null -o ...`)
# must be run and counted as uncacheable ("stdio"), and no make output may come from
# udcs-compile. Without the tarball (or the tools a kernel build needs) nothing is planned.
#
# The tarball is extracted once and kept outside $T: in build/bench/kernel-src when the
# compile benchmark (tests/bench/run_compile.sh) has done it already, otherwise in
# $UDCS_KERNEL_SRC_DIR (default build/kernel-src); a stamp file (.extracted, the benchmark's
# convention) marks a complete extraction. That tree is only read; everything the builds
# write is under $T. About 60 s on 2 idle cores, plus 10-45 s for the first extraction.
. "$(dirname "$0")/lib.sh"

UC="$UDCS_BIN/udcs-compile"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TARBALL=${UDCS_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
# the part of the kernel built: small enough to take about 15 s with plain gcc on 2 cores,
# and with kbuild's `prepare` step (generated headers, -S compiles of asm-offsets) before it
SUBSET=(${UDCS_KERNEL_SUBSET:-init/ lib/})
JOBS=$(nproc 2>/dev/null || echo 2)

if [ ! -f "$TARBALL" ]; then
    echo "1..0 # SKIP no $TARBALL (apt-get install linux-source-6.1)"
    exit 0
fi
for tool in make gcc flex bison bc perl tar xz flock; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "1..0 # SKIP no $tool, which a kernel build needs"
        exit 0
    fi
done

# settings a user may have exported must not change what is tested; nor may a parent make
unset UDCS_MODE UDCS_BASEDIR UDCS_SLOPPINESS UDCS_DISABLE UDCS_LOGFILE UDCS_FARM UDCS_REMOTE_ONLY \
      UDCS_LOCAL_ONLY UDCS_LOCAL_SLOTS UDCS_JOB_STATS UDCS_COMPILE_SELF SOURCE_DATE_EPOCH \
      DEPENDENCIES_OUTPUT SUNPRO_DEPENDENCIES CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH \
      MAKEFLAGS MFLAGS MAKELEVEL GCC_COLORS ARCH SUBARCH CROSS_COMPILE LLVM KBUILD_OUTPUT \
      KBUILD_EXTMOD KBUILD_VERBOSE KCONFIG_CONFIG KCFLAGS KCPPFLAGS KAFLAGS CC HOSTCC \
      CCACHE_DIR DISTCC_HOSTS
# the same build stamp in every build, so that init/version.o is the same object too
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2026" KBUILD_BUILD_USER=udcs \
    KBUILD_BUILD_HOST=udcs KBUILD_BUILD_VERSION=1

# --- the kernel source, extracted once and shared ---------------------------------------
NAME=$(basename "$TARBALL" .tar.xz)
if [ -z "${UDCS_KERNEL_SRC_DIR:-}" ] && [ -f "$REPO/build/bench/kernel-src/.extracted" ] &&
   [ -f "$REPO/build/bench/kernel-src/$NAME/Makefile" ]; then
    SRCDIR=$REPO/build/bench/kernel-src
else
    SRCDIR=${UDCS_KERNEL_SRC_DIR:-$REPO/build/kernel-src}
fi
KSRC=$SRCDIR/$NAME
t0=$SECONDS
if [ ! -f "$SRCDIR/.extracted" ]; then
    mkdir -p "$(dirname "$SRCDIR")"
    (
        flock 9   # two runs at once: one extracts, the other waits for it
        if [ ! -f "$SRCDIR/.extracted" ]; then
            echo "# extracting $TARBALL into $SRCDIR (once)"
            rm -rf "$SRCDIR"
            mkdir -p "$SRCDIR"
            tar -xJf "$TARBALL" -C "$SRCDIR" && touch "$SRCDIR/.extracted"
        fi
    ) 9>"$SRCDIR.lock"
fi
check "the kernel source is in $KSRC" test -f "$SRCDIR/.extracted" -a -f "$KSRC/Makefile"
echo "# source ready in $((SECONDS - t0)) s"
[ -f "$KSRC/Makefile" ] || { done_testing; exit 1; }

# --- helpers -------------------------------------------------------------------------------
KO="$T/obj"   # the one object directory: the same path for every build
export UDCS_CACHE_DIR="$T/cache"
rm -rf "$UDCS_CACHE_DIR"

# kmake LOG CC TARGET...: make in the kernel tree into $KO; output to LOG, its end shown
# when make fails
kmake() {
    local log=$1 cc=$2; shift 2
    if make -C "$KSRC" O="$KO" HOSTCC=gcc CC="$cc" "$@" >"$log" 2>&1; then return 0; fi
    echo "make $* failed; the end of $log:"
    tail -n 40 "$log"
    return 1
}
# configure NAME CC [CONFIG]: a wiped $KO, configured with CC: `make tinyconfig`, or the
# .config file CONFIG copied; then `make syncconfig`. Both evaluate the Kconfig files, which
# run the compiler checks (tinyconfig three times).
configure() {
    rm -rf "$KO"
    mkdir -p "$KO"
    : >"$T/$1.config.log"
    if [ $# -ge 3 ]; then cp "$3" "$KO/.config"; else
        kmake "$T/$1.config.log" "$2" tinyconfig || return 1; fi
    kmake "$T/$1.config.log2" "$2" syncconfig
}
# save NAME CC: copy every object and generated assembler file of $KO, and the .cmd file
# kbuild wrote for each, to $T/NAME; in the .cmd files CC becomes plain "gcc"
save() {
    local dir="$T/$1" cc=$2 f
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$KO" && find . -type f \( -name '*.o' -o -name '*.s' \) | tar -cf - -T -) | tar -C "$dir" -xf -
    while IFS= read -r f; do
        local cmd
        cmd="$(dirname "$f")/.$(basename "$f").cmd"
        [ -f "$KO/$cmd" ] || continue
        sed "s#:= $cc #:= gcc #" "$KO/$cmd" >"$dir/$cmd"
    done < <(cd "$dir" && find . -type f \( -name '*.o' -o -name '*.s' \))
}
# same_files A B: the regular files below A and below B are the same set, byte for byte
same_files() {
    local a=$1 b=$2 f bad=0
    diff <(cd "$a" && find . -type f | sort) <(cd "$b" && find . -type f | sort) || return 1
    while IFS= read -r f; do
        cmp -s "$a/$f" "$b/$f" || { echo "differs: $f"; bad=1; }
    done < <(cd "$a" && find . -type f | sort)
    [ "$bad" -eq 0 ]
}
# stats FILE: udcs-compile's counters now, to FILE
stats() { "$UC" -s --json >"$1"; }
# delta A B: every numeric counter as "path": B - A, one JSON object
delta() {
    jq -n --slurpfile a "$1" --slurpfile b "$2" '$a[0] as $x | $b[0] as $y
        | [$y | paths(type == "number")]
        | map(. as $p | {key: join("."), value: (($y | getpath($p)) - ($x | getpath($p)))})
        | from_entries'
}
# want JSON DESCRIPTION JQ-EXPR: passes when the expression is true of the delta JSON file
want() {
    local file=$1 what=$2 expr=$3
    if jq -e "$expr" "$file" >/dev/null; then ok "$what"; else
        not_ok "$what"; echo "# wanted: $expr"; jq -c 'with_entries(select(.value != 0))' "$file" | sed 's/^/# /'; fi
}
# no_udcs_lines LOG...: no line of the logs comes from udcs-compile
no_udcs_lines() { ! grep -H 'udcs-compile' "$@"; }

# --- 1. plain gcc --------------------------------------------------------------------------
t0=$SECONDS
check "plain gcc: tinyconfig and syncconfig" configure plain gcc
echo "# configured in $((SECONDS - t0)) s"
cp "$KO/.config" "$T/plain.config"
t0=$SECONDS
check "plain gcc: make ${SUBSET[*]}" kmake "$T/plain.build.log" gcc -j"$JOBS" "${SUBSET[@]}"
echo "# plain gcc built ${SUBSET[*]} in $((SECONDS - t0)) s"
save plain gcc
N_OBJ=$(cd "$T/plain" && find . -name '*.o' | wc -l)
N_ASM=$(cd "$T/plain" && find . -name '*.s' | wc -l)
check "plain gcc: made objects ($N_OBJ) and assembler files ($N_ASM), with .cmd files" \
    test "$N_OBJ" -gt 50 -a "$N_ASM" -ge 1 -a "$(cd "$T/plain" && find . -name '*.cmd' | wc -l)" -gt 50

# --- 2. udcs-compile, cold -----------------------------------------------------------------
UCC="$UC gcc"
stats "$T/s0"
t0=$SECONDS
check "udcs-compile: tinyconfig and syncconfig" configure cold "$UCC"
echo "# configured in $((SECONDS - t0)) s"
stats "$T/s1"
delta "$T/s0" "$T/s1" >"$T/d.config"
check "udcs-compile: the configuration is the same as with plain gcc (same answers to its checks)" \
    cmp "$T/plain.config" "$KO/.config"
want "$T/d.config" "udcs-compile: the configuration's compiler checks ran, counted as stdio" \
    '.calls > 0 and ."uncacheable.stdio" > 0'
want "$T/d.config" "udcs-compile: the configuration's calls are all uncacheable, no errors" \
    '.misses == 0 and .hits == 0 and .errors == 0
     and .calls == ([to_entries[] | select(.key | startswith("uncacheable.")) | .value] | add)'
t0=$SECONDS
check "udcs-compile, cold: make ${SUBSET[*]}" kmake "$T/cold.build.log" "$UCC" -j"$JOBS" "${SUBSET[@]}"
echo "# udcs-compile (cold) built ${SUBSET[*]} in $((SECONDS - t0)) s"
stats "$T/s2"
delta "$T/s1" "$T/s2" >"$T/d.cold"
save cold "$UCC"
check "udcs-compile, cold: every object, .s and .cmd file as plain gcc's" same_files "$T/plain" "$T/cold"
want "$T/d.cold" "udcs-compile, cold: misses, no hits, no errors" \
    '.misses > 0 and .hits == 0 and .errors == 0'
N_MISS=$(jq '.misses' "$T/d.cold")
# the files compiled through CC: those whose .cmd file names udcs-compile (not HOSTCC, not ld)
N_CC=$(cd "$KO" && find . -name '.*.[os].cmd' -exec grep -l -m1 -F ":= $UCC " {} + | wc -l)
check "udcs-compile, cold: one miss for each object and .s file compiled by CC ($N_MISS, $N_CC)" \
    test "$N_MISS" -eq "$N_CC"
want "$T/d.cold" "udcs-compile, cold: kbuild's compiler checks (cc-option) counted as stdio" \
    '."uncacheable.stdio" > 0'
check "udcs-compile, cold: make printed nothing from udcs-compile" \
    no_udcs_lines "$T/cold.config.log" "$T/cold.config.log2" "$T/cold.build.log"

# --- 3. udcs-compile, warm: the same object directory wiped, the same cache ----------------
# (configured from the same .config with syncconfig alone: tinyconfig again, all its calls
# uncacheable, would only take 4 s more)
t0=$SECONDS
check "udcs-compile, warm: syncconfig from the same .config" configure warm "$UCC" "$T/plain.config"
echo "# configured in $((SECONDS - t0)) s"
check "udcs-compile, warm: the configuration is the same again" cmp "$T/plain.config" "$KO/.config"
stats "$T/s3"
t0=$SECONDS
check "udcs-compile, warm: make ${SUBSET[*]}" kmake "$T/warm.build.log" "$UCC" -j"$JOBS" "${SUBSET[@]}"
echo "# udcs-compile (warm) built ${SUBSET[*]} in $((SECONDS - t0)) s"
stats "$T/s4"
delta "$T/s3" "$T/s4" >"$T/d.warm"
save warm "$UCC"
check "udcs-compile, warm: every object, .s and .cmd file as plain gcc's" same_files "$T/plain" "$T/warm"
want "$T/d.warm" "udcs-compile, warm: every cacheable call a direct hit ($N_MISS), no misses, no errors" \
    ".misses == 0 and .direct_hits == $N_MISS and .hits == $N_MISS and .errors == 0"
# the calls that were not cacheable are the same calls, for the same reasons
jq -s '[.[] | with_entries(select(.key | startswith("uncacheable.")))] | .[0] == .[1]' \
    "$T/d.cold" "$T/d.warm" >"$T/same-uncacheable"
check "udcs-compile, warm: the same uncacheable calls as the cold build, for the same reasons" \
    grep -qx true "$T/same-uncacheable"
check "udcs-compile, warm: the same number of calls as the cold build" \
    test "$(jq .calls "$T/d.cold")" -eq "$(jq .calls "$T/d.warm")"
check "udcs-compile, warm: make printed nothing from udcs-compile" \
    no_udcs_lines "$T/warm.config.log" "$T/warm.config.log2" "$T/warm.build.log"

rm -rf "$KO" "$T/plain" "$T/cold" "$T/warm"
done_testing
