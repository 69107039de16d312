#!/usr/bin/env bash
# tests/integration/test_compile_project.sh - udcs-compile --project: one small C program
# (two sources and a header, with a CMakeLists.txt and a plain Makefile) built for
# x86_64-linux, aarch64-linux and x86_64-windows in one call. The binaries are checked by
# their headers (ELF e_machine, PE "MZ") and run (the aarch64 one under qemu); a second
# build from scratch must be all cache hits; targets that cannot be built here (no cross
# compiler, or macOS) are refused up front while the others build; a failing target shows
# its log. Parts whose tools are missing are skipped, saying which tool.
. "$(dirname "$0")/lib.sh"
COMPILE="$UDCS_BIN/udcs-compile"
export UDCS_CACHE_DIR="$T/cache"

# skip REASON: one planned test that could not run here.
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $*"; }

if [ "$(uname -m)" != x86_64 ] || ! command -v gcc >/dev/null || ! command -v make >/dev/null; then
    echo "1..0 # SKIP needs an x86_64 host with gcc and make (the native target is x86_64-linux)"
    exit 0
fi
HAVE_ARM=; command -v aarch64-linux-gnu-gcc >/dev/null && HAVE_ARM=1
HAVE_QEMU=; command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu ] && HAVE_QEMU=1
HAVE_MINGW=; command -v x86_64-w64-mingw32-gcc >/dev/null && HAVE_MINGW=1
HAVE_CMAKE=; command -v cmake >/dev/null && HAVE_CMAKE=1
[ -n "$HAVE_ARM" ] || echo "# no aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu): aarch64 builds are skipped"
[ -n "$HAVE_QEMU" ] || echo "# no qemu-aarch64 (qemu-user) or /usr/aarch64-linux-gnu: aarch64 binaries are not run"
[ -n "$HAVE_MINGW" ] || echo "# no x86_64-w64-mingw32-gcc: x86_64-windows is expected to be refused"

# The program: "sum=5", plus BONUS when the build defines it.
P="$T/proj"
mkdir -p "$P"
printf 'int add(int a, int b);\n' >"$P/util.h"
printf '#include "util.h"\nint add(int a, int b) { return a + b; }\n' >"$P/util.c"
cat >"$P/main.c" <<'EOF'
#include <stdio.h>
#include "util.h"
#ifndef BONUS
#define BONUS 0
#endif
int main(void) { printf("sum=%d\n", add(2, 3) + BONUS); return 0; }
EOF
cat >"$P/Makefile" <<'EOF'
CFLAGS ?= -O2
prog: main.o util.o
	$(CC) -o $@ main.o util.o
%.o: %.c util.h
	$(CC) $(CFLAGS) -c $< -o $@
EOF
M="$T/make-only"             # the same program with only the Makefile
cp -a "$P" "$M"
cat >"$P/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(prog C)
add_executable(prog main.c util.c)
EOF

# e_machine of an ELF file (62 x86-64, 183 AArch64), empty when it is not ELF.
elf_machine() {
    [ "$(head -c 4 "$1" 2>/dev/null | tail -c 3)" = ELF ] || return 0
    od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}
# jq over a summary: field FIELD of target TARGET.
tfield() { jq -r --arg t "$2" --arg f "$3" '.targets[] | select(.target == $t) | .[$f]' "$1"; }
# every_target_all_hits SUMMARY: each built target compiled something and every cacheable
# call was a cache hit.
every_target_all_hits() {
    jq -e '[.targets[] | select(.state == "built")] | length > 0 and
           all(.objects > 0 and .hits == .objects and .misses == 0)' "$1"
}

TARGETS=x86_64-linux
[ -n "$HAVE_ARM" ] && TARGETS=$TARGETS,aarch64-linux
TARGETS=$TARGETS,x86_64-windows,arm64-darwin

# ---- CMake (preferred over the Makefile beside it) --------------------------------------
if [ -z "$HAVE_CMAKE" ]; then
    echo "# no cmake: the CMake part is skipped"
    skip "CMake build (cmake not installed)"
else
    "$COMPILE" --project "$P" --targets "$TARGETS" --parallel 2 --json >"$T/c1.json" 2>"$T/c1.err"
    rc=$?
    sed 's/^/# /' "$T/c1.err"
    check "a run with a refused target exits 1 (exit $rc)" test "$rc" -eq 1
    check "the summary is JSON naming CMake, preferred over the Makefile" \
        jq -e '.build_system == "cmake" and .parallel == 2' "$T/c1.json"
    B="$P/build-udcs"
    check "x86_64-linux is built with gcc" \
        test "$(tfield "$T/c1.json" x86_64-linux state)/$(tfield "$T/c1.json" x86_64-linux compiler)" = built/gcc
    check "x86_64-linux's binary is x86-64 ELF" test "$(elf_machine "$B/x86_64-linux/prog")" = 62
    check "x86_64-linux's binary prints sum=5" test "$("$B/x86_64-linux/prog")" = sum=5
    check "the cold build compiled objects and hit nothing" \
        jq -e '.targets[] | select(.target == "x86_64-linux") | .objects == 2 and .hits == 0 and .misses == 2' "$T/c1.json"
    check "the target's counters file holds the same calls" \
        grep -qx "misses 2" "$B/x86_64-linux/udcs-stats"
    if [ -n "$HAVE_ARM" ]; then
        check "aarch64-linux is built with aarch64-linux-gnu-gcc" \
            test "$(tfield "$T/c1.json" aarch64-linux state)/$(tfield "$T/c1.json" aarch64-linux compiler)" = built/aarch64-linux-gnu-gcc
        check "aarch64-linux's binary is AArch64 ELF" test "$(elf_machine "$B/aarch64-linux/prog")" = 183
        if [ -n "$HAVE_QEMU" ]; then
            check "aarch64-linux's binary prints sum=5 under qemu" \
                test "$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$B/aarch64-linux/prog")" = sum=5
        else
            skip "running the aarch64 binary (no qemu-aarch64)"
        fi
    else
        skip "aarch64-linux build (no aarch64-linux-gnu-gcc; install gcc-aarch64-linux-gnu)"
    fi
    if [ -n "$HAVE_MINGW" ]; then
        check "x86_64-windows is built" test "$(tfield "$T/c1.json" x86_64-windows state)" = built
        check "x86_64-windows's binary is a PE file" test "$(head -c 2 "$B/x86_64-windows/prog.exe")" = MZ
    else
        check "x86_64-windows is refused, naming the package to install" \
            jq -e '.targets[] | select(.target == "x86_64-windows") | .state == "refused" and
                   (.reason | contains("no x86_64-w64-mingw32-gcc on PATH; install gcc-mingw-w64-x86-64"))' "$T/c1.json"
        check "and no build directory was made for it" test ! -e "$B/x86_64-windows"
    fi
    check "arm64-darwin is refused: the macOS SDK" \
        jq -e '.targets[] | select(.target == "arm64-darwin") | .state == "refused" and
               (.reason | contains("needs the macOS SDK, which Debian does not ship"))' "$T/c1.json"
    check "refusals are said up front, before any build starts" \
        test "$(grep -n 'arm64-darwin: refused' "$T/c1.err" | cut -d: -f1)" -lt \
             "$(grep -n 'building with CMake' "$T/c1.err" | head -1 | cut -d: -f1)"

    # the same build from scratch: every cacheable call is a hit
    rm -rf "$B"
    "$COMPILE" --project "$P" --targets "$TARGETS" --json >"$T/c2.json" 2>"$T/c2.err"
    check "a second build from scratch is all cache hits" every_target_all_hits "$T/c2.json"
    jq -c '.targets[] | {target, state, objects, hits}' "$T/c2.json" | sed 's/^/# /'
    check "its binary still works" test "$("$B/x86_64-linux/prog")" = sum=5

    # the table a person reads
    "$COMPILE" --project "$P" --targets x86_64-linux >"$T/table.out" 2>&1
    check "without --json the summary is a table" \
        grep -qE '^x86_64-linux +gcc +built ' "$T/table.out"
fi

# ---- plain Make: a copy of the tree per target, build arguments passed to make ---------
MT=x86_64-linux
[ -n "$HAVE_ARM" ] && MT=$MT,aarch64-linux
"$COMPILE" --project "$M" --targets "$MT" --build-dir "$T/mout" -j 2 --json -- "CFLAGS=-O2 -DBONUS=10" \
    >"$T/m1.json" 2>"$T/m1.err"
rc=$?
sed 's/^/# /' "$T/m1.err"
check "a Make project builds (exit $rc)" test "$rc" -eq 0
check "the summary names make" jq -e '.build_system == "make"' "$T/m1.json"
check "each target builds in its own copy under --build-dir" \
    test "$(tfield "$T/m1.json" x86_64-linux work_dir)" = "$T/mout/x86_64-linux/src"
check "the build arguments reach make (sum=15)" test "$("$T/mout/x86_64-linux/src/prog")" = sum=15
check "the project directory is left clean" test ! -e "$M/main.o" -a ! -e "$M/prog" -a ! -e "$M/build-udcs"
if [ -n "$HAVE_ARM" ]; then
    check "the aarch64 Make build is AArch64 ELF" test "$(elf_machine "$T/mout/aarch64-linux/src/prog")" = 183
    if [ -n "$HAVE_QEMU" ]; then
        check "and prints sum=15 under qemu" \
            test "$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$T/mout/aarch64-linux/src/prog")" = sum=15
    else
        skip "running the aarch64 Make build (no qemu-aarch64)"
    fi
else
    skip "aarch64 Make build (no aarch64-linux-gnu-gcc)"
fi
"$COMPILE" --project "$M" --targets "$MT" --build-dir "$T/mout2" --json -- "CFLAGS=-O2 -DBONUS=10" \
    >"$T/m2.json" 2>"$T/m2.err"
check "the same build in another build directory is all cache hits" every_target_all_hits "$T/m2.json"

# ---- a target with no compiler here is refused with the package; the others build -----
missing=
for t in riscv64-linux:riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu \
         arm-linux:arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf \
         i686-windows:i686-w64-mingw32-gcc:gcc-mingw-w64-i686; do
    IFS=: read -r mt mcc mdeb <<<"$t"
    command -v "$mcc" >/dev/null || { missing=$t; break; }
done
if [ -n "$missing" ]; then
    IFS=: read -r mt mcc mdeb <<<"$missing"
    expect_status 1 "a target without its compiler ($mt) fails the run" \
        "$COMPILE" --project "$M" --targets "$mt,x86_64-linux" --build-dir "$T/mout3"
    expect_output_contains "$mt: refused: no $mcc on PATH; install $mdeb"
    check "while x86_64-linux still builds" test -x "$T/mout3/x86_64-linux/src/prog"
else
    skip "refusal of a missing cross compiler (riscv64, arm and i686-windows compilers are all installed)"
fi

# ---- a failing target shows the end of its log; the other target still builds -----------
if [ -n "$HAVE_ARM" ]; then
    F="$T/fails-on-arm"
    cp -a "$M" "$F"
    printf '#ifdef __aarch64__\n#error this program does not build for arm\n#endif\n' >>"$F/util.c"
    expect_status 1 "a failing target fails the run" \
        "$COMPILE" --project "$F" --targets aarch64-linux,x86_64-linux --build-dir "$T/fout"
    expect_output_contains "aarch64-linux: failed: make exited with status 2"
    expect_output_contains "| util.c:4:2: error: #error this program does not build for arm"
    check "the other target is built" test -x "$T/fout/x86_64-linux/src/prog"
    check "the failed target's log is kept" grep -q "does not build for arm" "$T/fout/aarch64-linux/udcs-build.log"
else
    skip "a failing aarch64 target (no aarch64-linux-gnu-gcc)"
fi

# ---- misuse --------------------------------------------------------------------------------
expect_status 2 "an unknown target is a usage error" \
    "$COMPILE" --project "$M" --targets x86_64-linux,sparc-solaris
expect_output_contains "unknown target 'sparc-solaris'; known targets: x86_64-linux, aarch64-linux,"
check "and nothing was built, not even the known target" test ! -e "$M/build-udcs"
mkdir -p "$T/empty"
expect_status 1 "a directory with no build system is refused" \
    "$COMPILE" --project "$T/empty" --targets x86_64-linux
expect_output_contains "no build system found in $T/empty"
mkdir -p "$T/ac" && printf 'AC_INIT([p], [1])\n' >"$T/ac/configure.ac"
expect_status 1 "configure.ac without configure is refused" \
    "$COMPILE" --project "$T/ac" --targets x86_64-linux
expect_output_contains "run 'autoreconf -i' there first"
expect_status 2 "--targets is required" "$COMPILE" --project "$P"
expect_output_contains "--project needs --targets"
expect_status 2 "a missing project directory is a usage error" \
    "$COMPILE" --project "$T/nowhere" --targets x86_64-linux
expect_output_contains "No such file or directory"

done_testing
