#!/usr/bin/env bash
# tests/integration/test_compile.sh - udcs-compile with the real gcc, g++, clang and clang++:
#   1. this project built through it (cold, warm, one header changed) against plain gcc
#   2. a small C and C++ project with each of the four compilers: misses, then hits
#   3. warnings and errors: stdout, stderr and exit status as the compiler's, on a hit too
#   4. dependency files (-MD, -MMD, -MF, -MT, -MQ, -MP, -Wp,-MD,...) byte for byte
#   5. every uncacheable kind of call runs the compiler and is counted under its reason
#   6. direct mode: time macros, preprocessor mode, UDCS_BASEDIR, UDCS_DISABLE
#   7. masquerade symlinks (gcc -> udcs-compile) on PATH, and one with no compiler behind it
#   8. two make -j8 at once on one cache
#   9. the cache commands (-s, --json, -z, -C, -M, usage, --version)
# Every part uses its own cache under $T; nothing is written outside $T.
. "$(dirname "$0")/lib.sh"

UC="$UDCS_BIN/udcs-compile"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# settings a user may have exported must not change what is tested; nor may a parent make
unset UDCS_MODE UDCS_BASEDIR UDCS_SLOPPINESS UDCS_DISABLE UDCS_LOGFILE UDCS_FARM UDCS_REMOTE_ONLY \
      UDCS_LOCAL_ONLY UDCS_LOCAL_SLOTS UDCS_JOB_STATS UDCS_COMPILE_SELF SOURCE_DATE_EPOCH \
      DEPENDENCIES_OUTPUT SUNPRO_DEPENDENCIES CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH \
      MAKEFLAGS MFLAGS MAKELEVEL GCC_COLORS
JOBS=$(nproc 2>/dev/null || echo 2)

# use_cache NAME: a fresh cache for one part of the test
use_cache() { export UDCS_CACHE_DIR="$T/cache-$1"; rm -rf "$UDCS_CACHE_DIR"; }
# counter JQ-PATH: one counter of the current cache ("misses", "uncacheable.linking")
counter() { "$UC" -s --json | jq -r ".$1"; }
# snap; ...; delta JQ-PATH: how much a counter grew since snap
snap() { "$UC" -s --json >"$T/.snap"; }
delta() { echo $(($(counter "$1") - $(jq -r ".$1" "$T/.snap"))); }
# want_delta DESCRIPTION PATH=N...: every listed counter grew by exactly N since snap
want_delta() {
    local what=$1 kv bad="" got; shift
    for kv in "$@"; do
        got=$(delta "${kv%%=*}")
        [ "$got" = "${kv#*=}" ] || bad="$bad ${kv%%=*}: +$got, wanted +${kv#*=};"
    done
    if [ -z "$bad" ]; then ok "$what"; else
        not_ok "$what"; echo "#$bad"; "$UC" -s --json | jq -c '.' | sed 's/^/# /'; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# same_files A B: the regular files below A and below B are the same set, byte for byte
same_files() {
    local a=$1 b=$2 f bad=0
    diff <(cd "$a" && find . -type f | sort) <(cd "$b" && find . -type f | sort) || return 1
    while IFS= read -r f; do
        cmp -s "$a/$f" "$b/$f" || { echo "differs: $f"; bad=1; }
    done < <(cd "$a" && find . -type f)
    [ "$bad" -eq 0 ] && [ -n "$(cd "$a" && find . -type f | head -n 1)" ]
}

# run_both DIR OUTPUTS -- CC ARGS...: in DIR, run the plain compiler, keep its OUTPUTS
# (paths relative to DIR), stdout, stderr and exit status in DIR/.plain/, then the same
# call through udcs-compile, keeping the same in DIR/.udcs/. Stdin is $IN (/dev/null).
run_both() {
    local dir=$1 o; shift
    local outs=()
    while [ "$1" != -- ]; do outs+=("$1"); shift; done
    shift
    local side
    for side in plain udcs; do
        rm -rf "$dir/.$side"
        mkdir -p "$dir/.$side"
        for o in "${outs[@]}"; do rm -f "$dir/$o"; done
        if [ $side = plain ]; then
            (cd "$dir" && "$@" <"${IN:-/dev/null}" >".$side/stdout" 2>".$side/stderr"; echo $? >".$side/status")
        else
            (cd "$dir" && "$UC" "$@" <"${IN:-/dev/null}" >".$side/stdout" 2>".$side/stderr"; echo $? >".$side/status")
        fi
        for o in "${outs[@]}"; do
            if [ -e "$dir/$o" ]; then mkdir -p "$dir/.$side/out/$(dirname "$o")"; cp "$dir/$o" "$dir/.$side/out/$o"; fi
        done
    done
}
# same_run DIR: the last run_both in DIR gave equal outputs, streams and statuses
same_run() { same_files "$1/.plain" "$1/.udcs" || { sed 's/^/stderr: /' "$1/.udcs/stderr"; return 1; }; }

# =========================================================================================
# 1. this project (C, and its one C++ file), built through udcs-compile into the same
#    build directory as plain gcc and g++
# =========================================================================================
use_cache project
SRC="$T/src"
B="$T/proj"
mkdir -p "$SRC"
tar --exclude=./build --exclude=./.git -C "$ROOT" -cf - . | tar -C "$SRC" -xf -
pmake() { make -s -C "$SRC" -j"$JOBS" BUILD="$B" "$@"; }
save_objects() { rm -rf "$2"; mkdir -p "$2"; (cd "$1" && find . -type f \( -name '*.o' -o -name '*.d' \) | tar -cf - -T -) | tar -C "$2" -xf -; }

check "project: builds with plain gcc" pmake CC=gcc all
save_objects "$B" "$T/proj-plain"
N_OBJ=$(find "$T/proj-plain" -name '*.o' | wc -l)
check "project: the plain build has objects and depfiles" test "$N_OBJ" -gt 20
rm -rf "$B"
snap
check "project: builds through udcs-compile (cold cache)" pmake CC="$UC gcc" CXX="$UC g++" all
save_objects "$B" "$T/proj-udcs"
check "project: every .o and .d is byte-identical to plain gcc's (cold)" same_files "$T/proj-plain" "$T/proj-udcs"
want_delta "project: cold build: one miss per object, no hits, no errors" \
    misses="$N_OBJ" direct_hits=0 preprocessed_hits=0 errors=0
rm -rf "$B"
snap
check "project: builds again through udcs-compile (warm cache)" pmake CC="$UC gcc" CXX="$UC g++" all
save_objects "$B" "$T/proj-udcs"
check "project: every .o and .d is byte-identical to plain gcc's (warm)" same_files "$T/proj-plain" "$T/proj-udcs"
want_delta "project: warm build: every cacheable call a direct hit, misses unchanged" \
    direct_hits="$N_OBJ" hits="$N_OBJ" misses=0 errors=0
N_LINK=$(delta uncacheable.linking)
want_delta "project: warm build: the calls are the compiles and the links" calls=$((N_OBJ + N_LINK))
check "project: the links were counted as linking" test "$N_LINK" -ge 1

# change one header (its content: a touch alone is a hit, as it should be)
H=common/json.h
[ -f "$SRC/$H" ] || H=$(cd "$SRC" && ls common/*.h | head -n 1)
H_RE="(^|[[:space:]])${H//./\\.}([[:space:]]|:|\\\\|\$)"
DEPENDENTS=$(grep -rlE --include='*.d' "$H_RE" "$B" | sort)
N_DEP=$(echo "$DEPENDENTS" | grep -c .)
check "project: $H is a prerequisite of some objects but not all" \
    test "$N_DEP" -ge 1 -a "$N_DEP" -lt "$N_OBJ"
touch "$SRC/$H"
snap
check "project: a touched header rebuilds" pmake CC="$UC gcc" CXX="$UC g++" all
want_delta "project: a touched but unchanged header gives hits only" misses=0 direct_hits="$N_DEP"
echo '/* changed by test_compile.sh */' >>"$SRC/$H"
snap
check "project: a changed header rebuilds" pmake CC="$UC gcc" CXX="$UC g++" all
want_delta "project: exactly the $N_DEP objects whose .d lists $H recompile (misses)" \
    misses="$N_DEP" direct_hits=0 errors=0
# the recompiled objects are what plain gcc makes of the changed tree
rm -rf "$T/proj-rebuilt"
mkdir -p "$T/proj-rebuilt"
targets=()
for d in $DEPENDENTS; do
    rel=${d#"$B"/}
    targets+=("$B/${rel%.d}.o")
    mkdir -p "$T/proj-rebuilt/$(dirname "$rel")"
    cp "$B/${rel%.d}.o" "$B/$rel" "$T/proj-rebuilt/$(dirname "$rel")/"
done
rm -rf "$B"
check "project: plain gcc builds the changed objects" pmake CC=gcc "${targets[@]}"
save_objects "$B" "$T/proj-plain2"
check "project: the recompiled objects and depfiles equal plain gcc's" \
    same_files "$T/proj-plain2" "$T/proj-rebuilt"
rm -rf "$B" "$T/proj-plain" "$T/proj-plain2" "$T/proj-udcs" "$T/proj-rebuilt" "$SRC"

# =========================================================================================
# 2. a small C and C++ project with gcc, g++, clang and clang++
# =========================================================================================
use_cache small
S="$T/small"
mkdir -p "$S/include/util" "$S/include/geom" "$S/src/util" "$S/src/geom"
cat >"$S/include/util/str.h" <<'EOF'
#ifndef UTIL_STR_H
#define UTIL_STR_H
#include <stddef.h>
size_t str_count(const char *s, char c);
#endif
EOF
cat >"$S/include/geom/vec.hpp" <<'EOF'
#pragma once
#include <vector>
#include <cmath>
namespace geom {
struct vec { double x, y; double len() const { return std::sqrt(x * x + y * y); } };
double total(const std::vector<vec> &v);
}
EOF
cat >"$S/src/util/str.c" <<'EOF'
#include "util/str.h"
size_t str_count(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}
EOF
cat >"$S/src/main.c" <<'EOF'
#include <stdio.h>
#include "util/str.h"
int main(int argc, char **argv)
{
    printf("%zu\n", argc > 1 ? str_count(argv[1], 'a') : 0);
    return 0;
}
EOF
cat >"$S/src/geom/vec.cpp" <<'EOF'
#include "geom/vec.hpp"
#include <numeric>
namespace geom {
double total(const std::vector<vec> &v)
{
    return std::accumulate(v.begin(), v.end(), 0.0, [](double a, const vec &b) { return a + b.len(); });
}
}
EOF
cat >"$S/src/geom/shape.cpp" <<'EOF'
#include "geom/vec.hpp"
#include <string>
std::string describe(const std::vector<geom::vec> &v) { return "total " + std::to_string(geom::total(v)); }
EOF
small_build() {   # small_build WRAPPER COMPILER: every source of its language into obj/COMPILER
    local wrap=$1 cc=$2 f o
    local srcs="src/main.c src/util/str.c"
    case $cc in *++) srcs="src/geom/vec.cpp src/geom/shape.cpp" ;; esac
    for f in $srcs; do
        o="obj/$cc/${f#src/}"
        o="${o%.*}.o"
        mkdir -p "$S/$(dirname "$o")"
        (cd "$S" && $wrap "$cc" -O2 -g -Wall -Iinclude -MMD -MP -c "$f" -o "$o") || return 1
    done
}
for cc in gcc clang g++ clang++; do
    if ! have "$cc"; then ok "small: $cc # SKIP not installed"; continue; fi
    rm -rf "$S/obj"
    check "small: $cc compiles the project (plain)" small_build "" "$cc"
    rm -rf "$T/small-plain"
    mv "$S/obj" "$T/small-plain"
    snap
    check "small: $cc through udcs-compile (cold)" small_build "$UC" "$cc"
    want_delta "small: $cc cold: two misses" misses=2 hits=0 calls=2
    check "small: $cc cold objects and depfiles equal the plain compiler's" same_files "$T/small-plain" "$S/obj"
    rm -rf "$S/obj"
    snap
    check "small: $cc through udcs-compile (warm)" small_build "$UC" "$cc"
    want_delta "small: $cc warm: two direct hits" direct_hits=2 misses=0 calls=2
    check "small: $cc warm objects and depfiles equal the plain compiler's" same_files "$T/small-plain" "$S/obj"
done

# =========================================================================================
# 3. warnings and errors
# =========================================================================================
use_cache diag
D="$T/diag"
mkdir -p "$D"
printf 'int f(int x)\n{\n    int unused;\n    if (x = 2)\n        return 1;\n}\n' >"$D/warn.c"
printf 'int f(void)\n{\n    return nope;\n}\n' >"$D/err.c"
printf 'int main(void)\n{\n    int unused;\n    return 0;\n}\n' >"$D/warn.cpp"
for cc in gcc clang g++; do
    have "$cc" || continue
    w=warn.c
    [ "$cc" = g++ ] && w=warn.cpp
    snap
    run_both "$D" w.o -- "$cc" -Wall -Wextra -c "$w" -o w.o
    check "diag: $cc: a warning (miss): same stderr, stdout, status and object" same_run "$D"
    check "diag: $cc: the warning was printed" grep -q 'warning' "$D/.udcs/stderr"
    run_both "$D" w.o -- "$cc" -Wall -Wextra -c "$w" -o w.o
    check "diag: $cc: a warning (hit): the warning is replayed, the same object" same_run "$D"
    want_delta "diag: $cc: the warning's compile was cached: one miss, one hit" misses=1 direct_hits=1
    [ "$cc" = g++ ] && continue
    snap
    run_both "$D" e.o -- "$cc" -Wall -c err.c -o e.o
    check "diag: $cc: an error: same stderr, stdout and status" same_run "$D"
    check "diag: $cc: the exit status is non-zero" test "$(cat "$D/.udcs/status")" != 0
    check "diag: $cc: no object is left" test ! -e "$D/e.o"
    run_both "$D" e.o -- "$cc" -Wall -c err.c -o e.o
    check "diag: $cc: an error again: same stderr, stdout and status" same_run "$D"
    want_delta "diag: $cc: failed compiles are never cached, counted as compile_failed" \
        uncacheable.compile_failed=2 misses=0 hits=0
done

# =========================================================================================
# 4. dependency files
# =========================================================================================
P="$T/deps"
mkdir -p "$P/src" "$P/inc/sub" "$P/out"
printf '#include "sub/h.h"\n#include <stdio.h>\nint f(void) { return H + printf("x"); }\n' >"$P/src/a.c"
printf '#include "../other.h"\n#define H 1\n' >"$P/inc/sub/h.h"
printf '#define OTHER 2\n' >"$P/inc/other.h"
dep_cases=(
    "-MD" "-MMD" "-MD -MF x.d" "-MMD -MT tgt" "-MD -MQ 'a\$b'" "-MD -MP" "-MMD -MP -MF out/dep.d"
    "-Wp,-MD,dep.d" "-Wp,-MMD,dep.d" "-MD -MT t1 -MQ 't 2' -MF out/t.d"
)
dep_run() {   # dep_run SIDE CC OPTS: compile src/a.c into out/a.o, keep every output file
    local side=$1 cc=$2 opts=$3 wrap=""
    [ "$side" = plain ] || wrap="$UC"
    rm -rf "$P/out" "$P"/*.d "$P/.$side"
    mkdir -p "$P/out" "$P/.$side"
    (cd "$P" && eval "$wrap $cc -Iinc -c src/a.c -o out/a.o $opts") >"$P/.$side.log" 2>&1 || return 1
    (cd "$P" && find . -path ./src -prune -o -path ./inc -prune -o -path './.*' -prune -o -type f -print |
        tar -cf - -T -) | tar -C "$P/.$side" -xf -
    [ -n "$(find "$P/.$side" -name '*.d')" ] || { echo "no depfile written"; return 1; }
}
for cc in gcc clang; do
    have "$cc" || continue
    for opts in "${dep_cases[@]}"; do
        use_cache "deps-$cc"   # a fresh cache for each: the miss is a miss
        check "deps: $cc $opts: plain compile" dep_run plain "$cc" "$opts"
        check "deps: $cc $opts: through udcs-compile (miss)" dep_run miss "$cc" "$opts"
        check "deps: $cc $opts: depfile and object on a miss equal plain $cc's" same_files "$P/.plain" "$P/.miss"
        check "deps: $cc $opts: through udcs-compile (hit)" dep_run hit "$cc" "$opts"
        check "deps: $cc $opts: depfile and object on a hit equal plain $cc's" same_files "$P/.plain" "$P/.hit"
        check "deps: $cc $opts: one miss, then a direct hit" \
            test "$(counter misses) $(counter direct_hits)" = "1 1"
    done
done
# -MD and -Wp,-MD,FILE name different targets (the -o path, the source's base name .o):
# one must not be served the other's depfile.
use_cache deps-mix
check "deps: -MD then -Wp,-MD,dep.d (same -o), plain" dep_run plain gcc "-Wp,-MD,dep.d"
dep_run miss gcc "-MD" >/dev/null 2>&1
check "deps: -Wp,-MD,dep.d after a cached -MD call: through udcs-compile" dep_run hit gcc "-Wp,-MD,dep.d"
check "deps: -Wp,-MD,dep.d after a cached -MD call: dep.d equals plain gcc's" \
    cmp "$P/.plain/dep.d" "$P/.hit/dep.d"

# =========================================================================================
# 5. calls that cannot be cached run the compiler unchanged, counted by reason
# =========================================================================================
use_cache uncacheable
U="$T/unc"
mkdir -p "$U"
printf 'int main(void) { return 0; }\n' >"$U/a.c"
printf 'int g(void) { return 1; }\n' >"$U/b.c"
printf '      program p\n      end\n' >"$U/f.f"
printf '%s\n' '-c a.c' "-o 'rsp out.o'" >"$U/good.rsp"
# unc REASON DESCRIPTION OUTPUTS -- ARGS...: same outputs and streams, counted under REASON
unc() {
    local reason=$1 what=$2; shift 2
    snap
    run_both "$U" "$@"
    check "uncacheable: $what: same outputs, stdout, stderr and status as the compiler" same_run "$U"
    want_delta "uncacheable: $what: counted as $reason" "uncacheable.$reason=1" calls=1 misses=0 hits=0
}
unc linking "linking (gcc a.c -o prog)" prog -- gcc a.c -o prog
unc preprocessing "-E" a.i -- gcc -E a.c -o a.i
unc preprocessing "-E to stdout" -- gcc -E a.c
unc multiple_sources "two sources (-c a.c b.c)" a.o b.o -- gcc -c a.c b.c
unc preprocessing "-M alone" -- gcc -M a.c
unc preprocessing "-MM -MF" mm.d -- gcc -MM -MF mm.d a.c
unc language "a Fortran source" f.o -- gcc -c f.f -o f.o
unc language "-x ada" a.o -- gcc -x ada -c a.c
unc language "-x objective-c" m.o -- gcc -x objective-c -c a.c -o m.o
unc response_file "an unreadable response file (@missing.rsp)" a.o -- gcc @missing.rsp
unc response_file "an unreadable response file beside -c a.c" a.o -- gcc -c a.c @missing.rsp
unc extra_output "-save-temps" st.o st.i st.s -- gcc -save-temps -c a.c -o st.o
unc extra_output "-fsyntax-only" -- gcc -fsyntax-only a.c
unc extra_output "-fsyntax-only -c" a.o -- gcc -fsyntax-only -c a.c
unc no_source "no source (gcc -c)" -- gcc -c
unc no_source "no source (gcc -c -O2 -o x.o)" x.o -- gcc -c -O2 -o x.o
unc source_missing "a missing source" nope.o -- gcc -c nope.c -o nope.o
unc stdio "-o - (assembly to stdout)" -- gcc -S a.c -o -
IN="$U/a.c" unc stdio "source from stdin (-x c -)" stdin.o -- gcc -x c -c - -o stdin.o
# informational options: the driver reports on itself, so the compiler runs every time
unc unsupported_option "--version" a.o -- gcc -c a.c --version
unc unsupported_option "-print-search-dirs" a.o -- gcc -print-search-dirs -c a.c
unc unsupported_option "-dumpmachine" a.o -- gcc -dumpmachine -c a.c
unc unsupported_option "--help=optimizers" a.o -- gcc --help=optimizers -c a.c
have clang && unc unsupported_option "clang --print-resource-dir" a.o -- clang --print-resource-dir -c a.c
# -v and -### print temporary file names, different on each run: compared loosely
for opt in -v --verbose -###; do
    snap
    rm -f "$U/verbose.o"
    (cd "$U" && gcc $opt -c a.c -o plainv.o 2>/dev/null; echo $? >"$U/.v-plain")
    (cd "$U" && "$UC" gcc $opt -c a.c -o verbose.o 2>"$U/.v-err"; echo $? >"$U/.v-udcs")
    (cd "$U" && "$UC" gcc $opt -c a.c -o verbose.o 2>"$U/.v-err2"; echo $? >>"$U/.v-udcs")
    check "uncacheable: $opt: exits as the compiler did, twice" \
        test "$(cat "$U/.v-plain") $(cat "$U/.v-plain")" = "$(echo $(cat "$U/.v-udcs"))"
    check "uncacheable: $opt: the compiler's report reached stderr each time" \
        sh -c "grep -q 'cc1' '$U/.v-err' && grep -q 'cc1' '$U/.v-err2'"
    if [ -e "$U/plainv.o" ]; then
        check "uncacheable: $opt: the object is the compiler's" cmp "$U/plainv.o" "$U/verbose.o"
    else
        check "uncacheable: $opt: no object, as with the compiler" test ! -e "$U/verbose.o"
    fi
    want_delta "uncacheable: $opt: counted as unsupported_option, never a hit" \
        uncacheable.unsupported_option=2 calls=2 misses=0 hits=0
    rm -f "$U/plainv.o"
done
# profiling writes a time stamp into the object: not comparable byte for byte
for opt in -fprofile-generate --coverage -fprofile-arcs; do
    snap
    rm -f "$U"/prof.o "$U"/*.gcno
    check "uncacheable: $opt: the compiler runs" sh -c "cd '$U' && '$UC' gcc $opt -c a.c -o prof.o"
    check "uncacheable: $opt: the object is written" test -s "$U/prof.o"
    want_delta "uncacheable: $opt: counted as profile" uncacheable.profile=1 misses=0 hits=0
    [ "$opt" = --coverage ] && check "uncacheable: --coverage wrote its notes file" test -s "$U/prof.gcno"
done
# a readable response file is expanded and cached
snap
run_both "$U" "rsp out.o" -- gcc @good.rsp
check "response file: the object equals plain gcc's (miss)" same_run "$U"
run_both "$U" "rsp out.o" -- gcc @good.rsp
check "response file: the object equals plain gcc's (hit)" same_run "$U"
want_delta "response file: expanded and cached: one miss, one hit" misses=1 direct_hits=1 calls=2

# =========================================================================================
# 6. direct mode details
# =========================================================================================
use_cache direct
M="$T/direct"
mkdir -p "$M"
printf 'const char *built = __DATE__ " " __TIME__;\n' >"$M/date.c"
printf '/* built on __DATE__ */\nconst char *s = "__TIME__ and __DATE__";\nint __DATE__x; // __TIMESTAMP__\n' >"$M/cmt.c"
printf '#include "when.h"\nconst char *w = WHEN;\n' >"$M/hdr.c"
printf '#define WHEN __TIMESTAMP__\n' >"$M/when.h"
snap
(cd "$M" && "$UC" gcc -c date.c && "$UC" gcc -c date.c) >/dev/null 2>&1
want_delta "direct: __DATE__ used in code: not cached (time_macros, twice)" \
    uncacheable.time_macros=2 misses=0 hits=0
check "direct: __DATE__ used in code: the object is written" test -s "$M/date.o"
snap
(cd "$M" && "$UC" gcc -c hdr.c && "$UC" gcc -c hdr.c) >/dev/null 2>&1
want_delta "direct: __TIMESTAMP__ used through a header: not cached" \
    uncacheable.time_macros=2 misses=0 hits=0
snap
(cd "$M" && "$UC" gcc -c cmt.c -o cmt1.o && "$UC" gcc -c cmt.c -o cmt2.o && gcc -c cmt.c -o cmtp.o) >/dev/null 2>&1
want_delta "direct: __DATE__ only in a comment or a string: cached" misses=1 direct_hits=1 uncacheable.time_macros=0
check "direct: ... and the hit is plain gcc's object" cmp "$M/cmt2.o" "$M/cmtp.o"
snap
(cd "$M" && UDCS_SLOPPINESS=time_macros "$UC" gcc -c date.c -o d1.o &&
    UDCS_SLOPPINESS=time_macros "$UC" gcc -c date.c -o d2.o) >/dev/null 2>&1
want_delta "direct: UDCS_SLOPPINESS=time_macros caches __DATE__" misses=1 direct_hits=1

# preprocessor mode: a header change that leaves the preprocessed text alone is a hit
use_cache preprocessor
printf '#include "cfg.h"\nint f(void) { return VALUE; }\n' >"$M/pp.c"
printf '#define VALUE 3\n#define UNUSED 1\n' >"$M/cfg.h"
snap
check "preprocessor: a first compile" sh -c "cd '$M' && UDCS_MODE=preprocessor '$UC' gcc -c pp.c -o pp1.o"
printf '#define VALUE 3\n#define UNUSED 2\n' >"$M/cfg.h"
check "preprocessor: after an unused macro changed" sh -c "cd '$M' && UDCS_MODE=preprocessor '$UC' gcc -c pp.c -o pp2.o"
want_delta "preprocessor: the second call is a preprocessed hit" misses=1 preprocessed_hits=1 direct_hits=0
(cd "$M" && gcc -c pp.c -o ppp.o)
check "preprocessor: the hit is plain gcc's object" cmp "$M/pp2.o" "$M/ppp.o"
printf '#define VALUE 4\n#define UNUSED 2\n' >"$M/cfg.h"
snap
check "preprocessor: after a used macro changed" sh -c "cd '$M' && UDCS_MODE=preprocessor '$UC' gcc -c pp.c -o pp3.o"
want_delta "preprocessor: a changed preprocessed text misses" misses=1 preprocessed_hits=0
(cd "$M" && gcc -c pp.c -o ppp.o)
check "preprocessor: the new object is plain gcc's" cmp "$M/pp3.o" "$M/ppp.o"
snap
check "direct mode on the same cache" sh -c "cd '$M' && '$UC' gcc -c pp.c -o pp4.o"
want_delta "direct: the default mode misses where only preprocessed results exist" misses=1
printf '#warning "look here"\n#include "cfg.h"\nint g(int x) { int u; return x + VALUE; }\n' >"$M/ppw.c"
for cc in gcc clang; do
    have "$cc" || continue
    snap
    UDCS_MODE=preprocessor run_both "$M" ppw.o ppw.d -- "$cc" -Wall -MD -c ppw.c -o ppw.o
    check "preprocessor: $cc: #warning, -Wall and -MD on a miss: as the compiler" same_run "$M"
    UDCS_MODE=preprocessor run_both "$M" ppw.o ppw.d -- "$cc" -Wall -MD -c ppw.c -o ppw.o
    check "preprocessor: $cc: ... and on a hit: warnings, depfile and object replayed" same_run "$M"
    want_delta "preprocessor: $cc: one miss, one preprocessed hit" misses=1 preprocessed_hits=1
done

# UDCS_BASEDIR: two copies of one project at different absolute paths
BD="$T/based"
for p in one two; do
    mkdir -p "$BD/$p/include" "$BD/$p/src"
    printf '#include "h.h"\nint f(void) { return H; }\n' >"$BD/$p/src/a.c"
    printf '#define H 1\n' >"$BD/$p/include/h.h"
done
bcompile() {   # bcompile COPY OUT [ARGS...]: compile COPY's src/a.c with its include dir by absolute path
    local p=$1 o=$2; shift 2
    (cd "$BD/$p" && "$UC" gcc -c -I"$BD/$p/include" "$@" src/a.c -o "$o") >/dev/null 2>&1
}
use_cache basedir-none
bcompile one a.o
snap
bcompile two a.o
want_delta "basedir: without UDCS_BASEDIR the second copy misses" misses=1 direct_hits=0
use_cache basedir
export UDCS_BASEDIR="$BD"
bcompile one a.o
snap
bcompile two a.o
want_delta "basedir: with UDCS_BASEDIR covering both, the second copy hits" direct_hits=1 misses=0
check "basedir: ... with the same object" cmp "$BD/one/a.o" "$BD/two/a.o"
# a hit must still follow the second copy's own headers
printf '#define H 2\n' >"$BD/two/include/h.h"
bcompile two a.o
(cd "$BD/two" && gcc -c -I"$BD/two/include" src/a.c -o plain.o)
check "basedir: a header changed in the second copy only: its own object, not the first copy's" \
    cmp "$BD/two/a.o" "$BD/two/plain.o"
printf '#define H 1\n' >"$BD/two/include/h.h"
use_cache basedir-md
bcompile one a.o -MD
bcompile two a.o -MD
check "basedir: with -MD the second copy's depfile names its own headers" \
    grep -q "$BD/two/include/h.h" "$BD/two/a.d"
check "basedir: ... and not the first copy's" sh -c "! grep -q '$BD/one/' '$BD/two/a.d'"
# a macro holding an absolute path is text in the object, not a path to rewrite
use_cache basedir-define
for p in one two; do printf 'const char *where = WHERE;\n' >"$BD/$p/src/w.c"; done
(cd "$BD/one" && "$UC" gcc -c -DWHERE="\"$BD/one/data\"" src/w.c -o w.o) >/dev/null 2>&1
(cd "$BD/two" && "$UC" gcc -c -DWHERE="\"$BD/two/data\"" src/w.c -o w.o &&
    gcc -c -DWHERE="\"$BD/two/data\"" src/w.c -o wp.o) >/dev/null 2>&1
check "basedir: -DWHERE=\"\$PWD/data\": the second copy gets its own path, not the first's" \
    cmp "$BD/two/w.o" "$BD/two/wp.o"
# -g objects: with -fdebug-prefix-map=$PWD=. the copies' objects are the same, and so is
# the key (the map's OLD part is keyed relative to the working directory)
use_cache basedir-g
for p in one two; do
    (cd "$BD/$p" && gcc -g -c -I"$BD/$p/include" -fdebug-prefix-map="$BD/$p=." src/a.c -o gp.o)
done
check "basedir: -g with -fdebug-prefix-map=\$PWD=.: plain gcc's objects of the two copies are equal" \
    cmp "$BD/one/gp.o" "$BD/two/gp.o"
bcompile one g.o -g -fdebug-prefix-map="$BD/one=."
snap
bcompile two g.o -g -fdebug-prefix-map="$BD/two=."
want_delta "basedir: -g with -fdebug-prefix-map=\$PWD=.: the second copy hits" direct_hits=1 misses=0
check "basedir: ... with an object byte-equal to its own plain gcc's" cmp "$BD/two/g.o" "$BD/two/gp.o"
use_cache basedir-g-fmap
bcompile one g.o -g -ffile-prefix-map="$BD/one=."
snap
bcompile two g.o -g -ffile-prefix-map="$BD/two=."
want_delta "basedir: -g with -ffile-prefix-map=\$PWD=.: the second copy hits" direct_hits=1 misses=0
# without the map the working directory is in the object: no sharing
use_cache basedir-g-nomap
bcompile one g.o -g
snap
bcompile two g.o -g
want_delta "basedir: -g without a prefix map: the second copy misses" misses=1 direct_hits=0
# -I naming the working directory itself is the same relative path in both copies
use_cache basedir-cwd
(cd "$BD/one" && "$UC" gcc -c -I"$BD/one" -Iinclude src/a.c -o c.o) >/dev/null 2>&1
snap
(cd "$BD/two" && "$UC" gcc -c -I"$BD/two" -Iinclude src/a.c -o c.o) >/dev/null 2>&1
want_delta "basedir: -I\$PWD (the working directory itself) is shared too" direct_hits=1 misses=0
unset UDCS_BASEDIR

# UDCS_DISABLE: the compiler runs, nothing is counted or stored
use_cache disable
(cd "$M" && UDCS_DISABLE=1 "$UC" gcc -c cmt.c -o dis.o) >/dev/null 2>&1
check "disable: the object is written" cmp "$M/dis.o" "$M/cmtp.o"
check "disable: nothing is counted" test "$(counter calls)" = 0
check "disable: nothing is stored" test "$(counter objects)" = 0

# =========================================================================================
# 7. masquerade: gcc, cc and g++ as symlinks to udcs-compile first on PATH
# =========================================================================================
use_cache masquerade
Q="$T/masq"
mkdir -p "$Q/bin" "$Q/only" "$Q/w"
for n in gcc cc g++; do ln -s "$UC" "$Q/bin/$n"; done
ln -s "$UC" "$Q/only/gcc"
printf 'int f(void) { return 7; }\n' >"$Q/w/a.c"
cp "$Q/w/a.c" "$Q/w/b.cpp"
(cd "$Q/w" && gcc -c a.c -o plain.o && g++ -c b.cpp -o plainpp.o)
snap
check "masquerade: gcc -c a.c through the symlink" \
    sh -c "cd '$Q/w' && PATH='$Q/bin':\"\$PATH\" timeout 60 gcc -c a.c -o m.o"
check "masquerade: ... writes plain gcc's object" cmp "$Q/w/m.o" "$Q/w/plain.o"
want_delta "masquerade: ... counted as a miss" calls=1 misses=1
check "masquerade: again" sh -c "cd '$Q/w' && PATH='$Q/bin':\"\$PATH\" timeout 60 gcc -c a.c -o m2.o"
want_delta "masquerade: ... the second call hits" calls=2 misses=1 direct_hits=1
check "masquerade: cc and g++ work too" \
    sh -c "cd '$Q/w' && PATH='$Q/bin':\"\$PATH\" timeout 60 cc -c a.c -o c.o && PATH='$Q/bin':\"\$PATH\" timeout 60 g++ -c b.cpp -o pp.o"
check "masquerade: g++'s object is plain g++'s" cmp "$Q/w/pp.o" "$Q/w/plainpp.o"
want_delta "masquerade: cc and g++ were counted" calls=4
check "masquerade: udcs-compile gcc with the masquerade first on PATH finds the real gcc" \
    sh -c "cd '$Q/w' && PATH='$Q/bin':\"\$PATH\" timeout 60 '$UC' gcc -c a.c -o u.o && cmp u.o plain.o"
rm -f "$Q/w/z.o"
expect_status 127 "masquerade: with only the symlink on PATH: exit 127, no hang" \
    timeout 20 env PATH="$Q/only" gcc -c "$Q/w/a.c" -o "$Q/w/z.o"
expect_output_contains "the only 'gcc' on PATH is udcs-compile itself"
check "masquerade: ... and no object" test ! -e "$Q/w/z.o"
expect_status 127 "masquerade: by its path with an empty PATH: exit 127" \
    timeout 20 env PATH=/nonexistent "$Q/only/gcc" -c "$Q/w/a.c" -o "$Q/w/z.o"
expect_status 127 "a compiler that does not exist: exit 127" "$UC" no-such-compiler-xyz -c "$Q/w/a.c"
expect_output_contains "compiler 'no-such-compiler-xyz' not found"

# =========================================================================================
# 8. two make -j8 at once, two build trees, one cache
# =========================================================================================
use_cache parallel
PM="$T/many0"
mkdir -p "$PM/src" "$PM/include"
printf '#ifndef COMMON_H\n#define COMMON_H\n#include <stdio.h>\n#include <string.h>\nint shared(int);\n#endif\n' >"$PM/include/common.h"
for i in $(seq 1 40); do
    printf '#include "common.h"\nint f%d(const char *s) { return (int)strlen(s) * %d + shared(%d); }\n' \
        "$i" "$i" "$i" >"$PM/src/f$i.c"
done
printf 'OBJS := $(patsubst src/%%.c,obj/%%.o,$(wildcard src/*.c))\nall: $(OBJS)\nobj/%%.o: src/%%.c\n\t@mkdir -p $(@D)\n\t$(CC) -O2 -Wall -Iinclude -MMD -MP -c $< -o $@\n-include $(OBJS:.o=.d)\n' >"$PM/Makefile"
cp -r "$PM" "$T/many1"
cp -r "$PM" "$T/many2"
check "parallel: plain make -j8" make -s -C "$PM" -j8 CC=gcc
snap
make -s -C "$T/many1" -j8 CC="$UC gcc" >"$T/many1.log" 2>&1 &
m1=$!
make -s -C "$T/many2" -j8 CC="$UC gcc" >"$T/many2.log" 2>&1 &
m2=$!
wait "$m1"
s1=$?
wait "$m2"
s2=$?
check "parallel: the first make succeeds" test "$s1" -eq 0
check "parallel: the second make succeeds" test "$s2" -eq 0
check "parallel: no messages from either" test ! -s "$T/many1.log" -a ! -s "$T/many2.log"
check "parallel: the first tree's objects and depfiles equal plain gcc's" same_files "$PM/obj" "$T/many1/obj"
check "parallel: the second tree's objects and depfiles equal plain gcc's" same_files "$PM/obj" "$T/many2/obj"
want_delta "parallel: 80 calls counted, none lost, no errors" calls=80 errors=0
check "parallel: every call a hit or a miss" test $(($(delta hits) + $(delta misses))) -eq 80
check "parallel: at least 40 misses" test "$(delta misses)" -ge 40
rm -rf "$T/many1/obj"
snap
check "parallel: a third build" make -s -C "$T/many1" -j8 CC="$UC gcc"
want_delta "parallel: all 40 hit" direct_hits=40 misses=0
check "parallel: its objects equal plain gcc's" same_files "$PM/obj" "$T/many1/obj"

# =========================================================================================
# 9. the cache commands
# =========================================================================================
use_cache commands
C="$T/cmd"
mkdir -p "$C"
printf 'int f(void) { return 1; }\n' >"$C/a.c"
(cd "$C" && "$UC" gcc -c a.c && "$UC" gcc -c a.c) >/dev/null 2>&1
check "commands: -s exits 0" "$UC" -s
expect_output_contains "Cache directory"
check "commands: --show-stats shows the hits" sh -c "'$UC' --show-stats | grep -E '^ +Hits +1 '"
check "commands: -s --json is valid JSON" sh -c "'$UC' -s --json | jq -e 'type == \"object\"'"
check "commands: -s --json has the counters" \
    sh -c "'$UC' -s --json | jq -e '.calls == 2 and .misses == 1 and .direct_hits == 1 and (.uncacheable | type) == \"object\" and .cache_dir == \"$UDCS_CACHE_DIR\"'"
check "commands: --json before -s works too" sh -c "'$UC' --json -s | jq -e '.calls == 2'"
check "commands: -z exits 0" "$UC" -z
expect_output_contains "Statistics zeroed"
check "commands: -z zeroes the counters" sh -c "'$UC' -s --json | jq -e '.calls == 0 and .misses == 0 and .direct_hits == 0'"
check "commands: -z keeps the cache" sh -c "cd '$C' && '$UC' gcc -c a.c && '$UC' -s --json | jq -e '.direct_hits == 1'"
check "commands: -C exits 0" "$UC" -C
expect_output_contains "Cleared"
check "commands: -C empties the store" sh -c "'$UC' -s --json | jq -e '.objects == 0'"
snap
(cd "$C" && "$UC" gcc -c a.c) >/dev/null 2>&1
want_delta "commands: after -C the next compile misses" misses=1 direct_hits=0
for i in 1 2 3; do
    head -c 400000 /dev/urandom >"$C/blob$i.bin"
    printf '__asm__(".section .rodata\\n.incbin \\"blob%d.bin\\"\\n.text");\nint g%d(void) { return %d; }\n' \
        "$i" "$i" "$i" >"$C/big$i.c"
    (cd "$C" && "$UC" gcc -c "big$i.c") >/dev/null 2>&1
done
check "commands: three 400 KB objects make the cache over 1 MiB" \
    sh -c "'$UC' -s --json | jq -e '.cache_size_bytes > 1048576'"
check "commands: -M 1M exits 0" "$UC" -M 1M
expect_output_contains "1.00 MiB"
check "commands: -s shows the limit" sh -c "'$UC' -s | grep -E '^Cache size .* / 1.00 MiB'"
check "commands: --json shows the limit" sh -c "'$UC' -s --json | jq -e '.max_size_bytes == 1048576'"
check "commands: the cache was trimmed to the limit" sh -c "'$UC' -s --json | jq -e '.cache_size_bytes <= 1048576'"
(cd "$C" && for i in 1 2 3; do "$UC" gcc -c "big$i.c" -o "again$i.o"; done) >/dev/null 2>&1
check "commands: the limit holds for later compiles" sh -c "'$UC' -s --json | jq -e '.cache_size_bytes <= 1048576'"
check "commands: the limit is kept with the cache" sh -c "'$UC' -s --json | jq -e '.max_size_bytes == 1048576'"
check "commands: --max-size=2M" "$UC" --max-size=2M
check "commands: ... shown by -s" sh -c "'$UC' -s --json | jq -e '.max_size_bytes == 2097152'"
expect_status 2 "commands: -M without a size is a usage error" "$UC" -M
expect_status 2 "commands: -M 0 is a usage error" "$UC" -M 0
expect_status 2 "commands: -M banana is a usage error" "$UC" -M banana
expect_output_contains "is not a size"
expect_status 2 "commands: an unknown option exits 2" "$UC" --frobnicate
expect_output_contains "unknown option '--frobnicate'"
expect_status 2 "commands: no arguments: usage, exit 2" "$UC"
expect_output_contains "usage: udcs-compile"
check "commands: --version" sh -c "'$UC' --version | grep -E '^udcs-compile [0-9]'"
check "commands: -V" sh -c "'$UC' -V | grep -E '^udcs-compile [0-9]'"
check "commands: --help exits 0 and shows usage" sh -c "'$UC' --help | grep -q 'usage: udcs-compile'"
expect_status 2 "commands: a bad UDCS_MODE is a usage error" env UDCS_MODE=fast "$UC" gcc -c "$C/a.c" -o "$C/x.o"
expect_output_contains "UDCS_MODE"
expect_status 2 "commands: a bad UDCS_SLOPPINESS is a usage error" env UDCS_SLOPPINESS=everything "$UC" gcc -c "$C/a.c" -o "$C/x.o"
expect_output_contains "UDCS_SLOPPINESS"

done_testing
