#!/usr/bin/env bash
# tests/bench/run_compile.sh - udcs-compile against the compiler wrappers a user would pick
# instead, in one run on the same build: the Linux kernel's `tinyconfig` (Debian's
# linux-source-6.1), `make -j2 vmlinux` from a fresh object directory each time:
#   (a) wall time of the build with plain gcc; ccache cold and warm; sccache cold and warm
#       (its server stopped between the two); distcc to two distccd on loopback; and
#       udcs-compile cold, warm (the same store again) and cold with a farm of two agents
#       on loopback. Each is also given as a ratio to plain gcc.
#   (b) the cost of one call that is a cache hit (a small C file including libc headers,
#       `-c -O2`), BENCH_CALLS times in a row, for ccache (direct mode), sccache and
#       udcs-compile, beside plain gcc compiling it and starting `true`.
# The udcs-compile rows say "skipped" while build/bin/udcs-compile does not exist.
# The kernel is extracted once into build/bench/kernel-src and kept; every build uses the
# same object directory, wiped and configured again (`make tinyconfig syncconfig` with the
# row's CC, not timed), the same fixed build timestamp, user and host, and HOSTCC=gcc, so
# every row compiles the same files. Progress goes to standard error; results to stdout
# and to build/bench/compile-results.md. About 10 minutes on 2 cores, 15 with the
# udcs-compile rows; 2 GiB under build/bench. Nothing leaves loopback.
set -euo pipefail
UDCS_BIN=${UDCS_BIN:-$(pwd)/build/bin}
ROOT=${BENCH_DIR:-$(pwd)/build/bench}
B=$ROOT/compile
TARBALL=${BENCH_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
SRCDIR=$ROOT/kernel-src                      # kept between runs
JOBS=${BENCH_COMPILE_JOBS:-2}
# distcc and the farm only help when make runs more compiles than this machine has cores:
# their rows run with more jobs (2 here + 2 x 2 remote slots by default)
REMOTE_JOBS=${BENCH_REMOTE_JOBS:-6}
read -r -a TARGETS <<<"${BENCH_KERNEL_TARGETS:-vmlinux}"
CALLS=${BENCH_CALLS:-200}
COMPILE="$UDCS_BIN/udcs-compile"
KO=$B/obj                                    # the one object directory
T_START=$(date +%s)

log() { echo "bench: $*" >&2; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
elapsed() { echo "$(($(date +%s) - T_START)) s"; }

rm -rf "$B"
mkdir -p "$B"
pids=()
SCCACHE_UP=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "$SCCACHE_UP" ]; then sccache_env sccache --stop-server >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
stop_daemons() { cleanup; pids=(); }

# free_port FROM: the first port from FROM that no socket uses, in any state. Ports are
# picked below the ephemeral range: thousands of short client connections (sccache's)
# leave ephemeral ports in TIME-WAIT, and distccd cannot bind those.
free_port() {
    local p=$1
    while [ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; do p=$((p + 1)); done
    echo "$p"
}
wait_listen() {   # wait_listen PORT PID LOG
    for _ in $(seq 1 250); do
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.02
    done
    log "nothing listens on port $1:"; sed 's/^/  /' "$3" >&2; return 1
}

# --- the kernel source, extracted once ------------------------------------------------
KSRC=$SRCDIR/linux-source-6.1
if [ ! -f "$SRCDIR/.extracted" ]; then
    log "extracting $TARBALL into $SRCDIR (once; about 10 s)"
    rm -rf "$SRCDIR"
    mkdir -p "$SRCDIR"
    tar -xJf "$TARBALL" -C "$SRCDIR"
    touch "$SRCDIR/.extracted"
fi
[ -f "$KSRC/Makefile" ] || { log "no kernel tree in $KSRC"; exit 1; }
# Sources into the page cache, so the first row does not pay for the disk alone.
find "$KSRC" -type f \( -name '*.[chS]' -o -name 'Makefile' -o -name 'Kconfig*' -o -name 'Kbuild' \) \
    -print0 | xargs -0 cat >/dev/null

# The same settings for every build; nothing from an outer make or the user's wrappers.
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2026" KBUILD_BUILD_USER=bench \
    KBUILD_BUILD_HOST=bench
unset MAKEFLAGS MFLAGS MAKELEVEL ARCH CROSS_COMPILE CCACHE_DIR SCCACHE_DIR DISTCC_HOSTS \
    UDCS_FARM UDCS_REMOTE UDCS_CACHE_DIR UDCS_TOKEN_FILE
: >"$B/empty.conf"
export CCACHE_CONFIGPATH="$B/empty.conf"   # neither /etc/ccache.conf nor the user's
export UDCS_CONFIG="$B/empty.conf" UDCS_SYSTEM_CONFIG=""
OBJS_GCC=""

# kbuild NAME CC [HOOK...]: configure afresh in $KO with CC (`make tinyconfig` and
# `make syncconfig`, which runs the configuration's compiler checks; not timed), run HOOK
# (zeroing a wrapper's counters), then time `make -jJOBS TARGETS` with CC. Sets WALL
# (seconds) and OBJS (object files), or WALL=failed. The caller sets the wrapper's
# environment.
kbuild() {
    local name=$1 cc=$2 t0 t1
    shift 2
    rm -rf "$KO"
    mkdir -p "$KO"
    WALL=failed OBJS=0
    if ! { make -C "$KSRC" O="$KO" CC="$cc" HOSTCC=gcc tinyconfig &&
           make -C "$KSRC" O="$KO" CC="$cc" HOSTCC=gcc syncconfig; } >"$B/$name.config.log" 2>&1; then
        log "$name: configuring failed, see $B/$name.config.log"; return 0
    fi
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
    t0=$(now)
    if make -C "$KSRC" O="$KO" CC="$cc" HOSTCC=gcc -j"$JOBS" "${TARGETS[@]}" \
        >"$B/$name.build.log" 2>&1; then
        t1=$(now)
        WALL=$(secs "$t0" "$t1")
    else
        log "$name: the build failed, see $B/$name.build.log"
    fi
    OBJS=$(find "$KO" -name '*.o' | wc -l)
    if [ "$WALL" != failed ] && [ -n "$OBJS_GCC" ] && [ "$OBJS" != "$OBJS_GCC" ]; then
        log "$name: $OBJS object files, plain gcc made $OBJS_GCC"
    fi
    log "$name: $WALL$([ "$WALL" = failed ] || echo " s"), $OBJS object files (at $(elapsed))"
}

ROWS=()   # "label|wall|objects|note"
row() { ROWS+=("$1|$2|$3|$4"); }

# --- ccache and sccache environments ----------------------------------------------------
ccache_env() { CCACHE_DIR="$B/ccache" CCACHE_MAXSIZE=5G "$@"; }
SCC_PORT=$(free_port 24226)
sccache_env() {
    SCCACHE_DIR="$B/sccache" SCCACHE_CACHE_SIZE=5G SCCACHE_SERVER_PORT="$SCC_PORT" \
        SCCACHE_IDLE_TIMEOUT=0 SCCACHE_ERROR_LOG="$B/sccache-server.log" "$@"
}
sccache_start() { sccache_env sccache --start-server >>"$B/sccache-start.log" 2>&1; SCCACHE_UP=1; }
sccache_stop() { sccache_env sccache --stop-server >/dev/null 2>&1 || true; SCCACHE_UP=""; }
ccache_note() {   # hits and misses from `ccache --print-stats`
    ccache_env ccache --print-stats | awk '
        { v[$1] = $2 }
        END { printf "%d direct + %d preprocessed hits, %d misses",
              v["direct_cache_hit"], v["preprocessed_cache_hit"], v["cache_miss"] }'
}
sccache_note() {   # hits, misses and why calls were not cacheable, from --show-stats
    sccache_env sccache --show-stats | awk '
        /^Cache hits  / { h = $NF } /^Cache misses  / { m = $NF }
        /^Non-cacheable calls/ { n = $NF } /^Non-cacheable compilations/ { nc = $NF }
        /^Non-cacheable reasons:/ { r = 1; next }
        r && NF == 0 { r = 0 }
        r { c = $NF; $NF = ""; sub(/ +$/, ""); why = why sep $0 ": " c; sep = ", " }
        END { printf "%d hits, %d misses, %d non-cacheable", h, m, n + nc
              if (why != "") printf " (%s)", why }'
}

# udcs_stats NAME: keep `udcs-compile --show-stats` in NAME.stats and set NOTE to its
# hits and misses (or to the file's name when its lines are not the expected ones).
udcs_stats() {
    "$COMPILE" --show-stats >"$B/$1.stats" 2>&1 || true
    NOTE=$(awk '$1 == "Hits" { h = $2 } $1 == "Misses" { m = $2 }
                /Compiled on agents/ { a = $4 }
                END { if (h != "") printf "%s hits, %s misses", h, m
                      if (a != "") printf ", %s compiled on agents", a }' "$B/$1.stats")
    NOTE="${NOTE:+$NOTE; }see compile/$1.stats"
}

# --- (a) the kernel builds ---------------------------------------------------------------
log "(a) tinyconfig: make -j$JOBS ${TARGETS[*]} with each compiler, in $KO"

log "plain gcc"
kbuild gcc gcc
GCC_WALL=$WALL
OBJS_GCC=$OBJS
row "plain gcc" "$WALL" "$OBJS" ""

log "ccache, cold (empty CCACHE_DIR)"
ccache_env kbuild ccache-cold "ccache gcc" ccache -z
row "ccache, cold" "$WALL" "$OBJS" "$(ccache_note)"
log "ccache, warm"
ccache_env kbuild ccache-warm "ccache gcc" ccache -z
row "ccache, warm" "$WALL" "$OBJS" "$(ccache_note)"

log "sccache, cold (empty SCCACHE_DIR, server on 127.0.0.1:$SCC_PORT)"
sccache_start
sccache_env kbuild sccache-cold "sccache gcc" sccache --zero-stats
row "sccache, cold" "$WALL" "$OBJS" "$(sccache_note)"
sccache_stop
log "sccache, warm (a new server on the same SCCACHE_DIR)"
sccache_start
sccache_env kbuild sccache-warm "sccache gcc" sccache --zero-stats
row "sccache, warm" "$WALL" "$OBJS" "$(sccache_note)"
sccache_stop

log "distcc, two distccd on loopback"
DHOSTS=""
dport=23632
user_args=()
[ "$(id -u)" -eq 0 ] && user_args=(--user nobody)   # distccd will not compile as root
for i in 1 2; do
    dport=$(free_port "$dport")
    distccd --daemon --no-detach "${user_args[@]}" --listen 127.0.0.1 --port "$dport" \
        --allow 127.0.0.1 --jobs 2 --nice 0 --log-stderr --log-level=info \
        2>"$B/distccd-$i.log" &
    pids+=($!)
    wait_listen "$dport" "$!" "$B/distccd-$i.log"
    DHOSTS="$DHOSTS 127.0.0.1:$dport/2"
    dport=$((dport + 1))
done
mkdir -p "$B/distcc-state"
JOBS=$REMOTE_JOBS DISTCC_HOSTS="${DHOSTS# }" DISTCC_DIR="$B/distcc-state" kbuild distcc "distcc gcc"
remote=$(cat "$B"/distccd-*.log | grep -c 'COMPILE_OK' || true)
failed=$(grep -c 'failed to distribute' "$B/distcc.build.log" || true)
stop_daemons
row "distcc, 2 distccd on loopback, -j$REMOTE_JOBS (DISTCC_HOSTS=\"${DHOSTS# }\")" "$WALL" "$OBJS" \
    "$remote compiled by distccd, $failed fell back to local (.S files always run here)"

if [ -x "$COMPILE" ]; then
    log "udcs-compile, cold (empty UDCS_CACHE_DIR, no farm)"
    UDCS_CACHE_DIR="$B/udcs-cache" kbuild udcs-cold "$COMPILE gcc" "$COMPILE" --zero-stats
    UDCS_CACHE_DIR="$B/udcs-cache" udcs_stats udcs-cold
    row "udcs-compile, cold" "$WALL" "$OBJS" "$NOTE"
    log "udcs-compile, warm"
    UDCS_CACHE_DIR="$B/udcs-cache" kbuild udcs-warm "$COMPILE gcc" "$COMPILE" --zero-stats
    UDCS_CACHE_DIR="$B/udcs-cache" udcs_stats udcs-warm
    row "udcs-compile, warm" "$WALL" "$OBJS" "$NOTE"

    log "udcs-compile, cold, farm of 2 agents on loopback"
    head -c 24 /dev/urandom | base64 >"$B/token"
    chmod 600 "$B/token"
    "$UDCS_BIN/udcs-farm" --state "$B/farm" --token-file "$B/token" --listen 127.0.0.1 \
        --port 0 --no-web --port-file "$B/farm.ports" --log-file "$B/farm.log" \
        --log-level warn &
    pids+=($!)
    for _ in $(seq 1 500); do [ -s "$B/farm.ports" ] && break; sleep 0.02; done
    [ -s "$B/farm.ports" ] || { log "udcs-farm did not start:"; cat "$B/farm.log" >&2; exit 1; }
    URL="http://127.0.0.1:$(sed -n 1p "$B/farm.ports")"
    for i in 1 2; do
        "$UDCS_BIN/udcs-agent" --farm "$URL" --token-file "$B/token" --name "bench-$i" \
            --slots 2 --work-dir "$B/agent-$i" --log-file "$B/agent-$i.log" --log-level warn &
        pids+=($!)
    done
    up=0
    for _ in $(seq 1 200); do
        up=$(curl -sf --max-time 5 "$URL/api/devices" | grep -o '"status":"idle"' | wc -l || true)
        [ "$up" -ge 2 ] && break
        sleep 0.05
    done
    [ "$up" -ge 2 ] || log "the agents did not register (see $B/agent-*.log)"
    JOBS=$REMOTE_JOBS UDCS_CACHE_DIR="$B/udcs-cache-farm" UDCS_FARM="$URL" UDCS_TOKEN_FILE="$B/token" \
        kbuild udcs-farm "$COMPILE gcc" "$COMPILE" --zero-stats
    UDCS_CACHE_DIR="$B/udcs-cache-farm" UDCS_FARM="$URL" UDCS_TOKEN_FILE="$B/token" \
        udcs_stats udcs-farm
    stop_daemons
    row "udcs-compile, cold, farm of 2 agents (2 slots each) on loopback, -j$REMOTE_JOBS" "$WALL" "$OBJS" \
        "$NOTE"
else
    log "no $COMPILE: the udcs-compile rows are skipped"
    row "udcs-compile, cold" "skipped (no udcs-compile)" "" ""
    row "udcs-compile, warm" "skipped (no udcs-compile)" "" ""
    row "udcs-compile, cold, farm of 2 agents on loopback" "skipped (no udcs-compile)" "" ""
fi
rm -rf "$KO"

# --- (b) one cache hit, many times ----------------------------------------------------------
log "(b) $CALLS calls on one small file, each a cache hit (at $(elapsed))"
H=$B/hit
mkdir -p "$H"
cat >"$H/hit.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

struct item { char name[32]; long value; };

static int by_value(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    return (x->value > y->value) - (x->value < y->value);
}

int main(int argc, char **argv)
{
    struct item *items = calloc((size_t)argc, sizeof *items);
    if (!items) { perror("calloc"); return errno; }
    for (int i = 0; i < argc; i++) {
        snprintf(items[i].name, sizeof items[i].name, "%s", argv[i]);
        items[i].value = (long)strlen(argv[i]) * (i + 1);
    }
    qsort(items, (size_t)argc, sizeof *items, by_value);
    for (int i = 0; i < argc; i++)
        printf("%s %ld\n", items[i].name, items[i].value);
    free(items);
    return isatty(1) ? 0 : 1;
}
EOF
PERCALL=()   # "label|us|note"
# percall LABEL CMD...: run `CMD -c -O2 hit.c -o hit.o` twice (to fill a cache), then
# CALLS times; sets US (microseconds per call), or US=failed.
percall() {
    local label=$1 t0 t1 i; shift
    US=failed
    if ! (cd "$H" && "$@" -c -O2 hit.c -o hit.o && "$@" -c -O2 hit.c -o hit.o) \
        >"$B/percall.log" 2>&1; then
        log "$label: the call failed:"; sed 's/^/  /' "$B/percall.log" >&2; return 0
    fi
    t0=$(now)
    (cd "$H" && for ((i = 0; i < CALLS; i++)); do "$@" -c -O2 hit.c -o hit.o || exit 1; done) ||
        { log "$label: a call failed"; return 0; }
    t1=$(now)
    US=$(awk -v a="$t0" -v b="$t1" -v n="$CALLS" 'BEGIN { printf "%.0f", (b - a) / 1e3 / n }')
    log "$label: $US us per call"
}
t0=$(now)
for ((i = 0; i < CALLS; i++)); do /bin/true; done
t1=$(now)
TRUE_US=$(awk -v a="$t0" -v b="$t1" -v n="$CALLS" 'BEGIN { printf "%.0f", (b - a) / 1e3 / n }')

percall "plain gcc" gcc
GCC_US=$US
PERCALL+=("plain gcc (compiles every time)|$US|")
rm -rf "$B/ccache"
ccache_env ccache -z >/dev/null
ccache_env percall ccache ccache gcc
PERCALL+=("ccache, hit|$US|$(ccache_note)")
rm -rf "$B/sccache"
sccache_start
sccache_env sccache --zero-stats >/dev/null
sccache_env percall sccache sccache gcc
PERCALL+=("sccache, hit (through its local server)|$US|$(sccache_note)")
sccache_stop
if [ -x "$COMPILE" ]; then
    rm -rf "$B/udcs-cache"
    UDCS_CACHE_DIR="$B/udcs-cache" percall udcs-compile "$COMPILE" gcc
    UDCS_CACHE_DIR="$B/udcs-cache" udcs_stats udcs-hit
    PERCALL+=("udcs-compile, hit|$US|$NOTE")
else
    PERCALL+=("udcs-compile, hit|skipped (no udcs-compile)|")
fi
PERCALL+=("\`/bin/true\` started from the same loop|$TRUE_US|the floor: one fork and exec")
log "done in $(elapsed)"

# --- results -------------------------------------------------------------------------------
{
    echo "# UDCS compile benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
    echo
    echo "$(gcc --version | head -1); $(ccache --version | head -1); $(sccache --version);" \
        "$(distcc --version | head -1)"
    echo
    echo "## (a) Linux 6.1 (Debian linux-source-6.1) \`tinyconfig\`, \`make -j$JOBS ${TARGETS[*]}\`"
    echo
    echo "Each build starts from an empty object directory (the same path every time),"
    echo "configured with \`make tinyconfig\` and \`make syncconfig\` with the row's CC (not"
    echo "timed); HOSTCC=gcc throughout. \"cache\" counts the calls of the timed build only."
    echo
    echo "| compiler | wall | vs plain gcc | object files | cache |"
    echo "| --- | --- | --- | --- | --- |"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r label wall objs note <<<"$r"
        case $wall in
            failed|skipped*) echo "| $label | $wall | | $objs | $note |" ;;
            *) echo "| $label | $wall s | $(ratio "$wall" "$GCC_WALL") | $objs | $note |" ;;
        esac
    done
    echo
    echo "## (b) one call that is a cache hit, $CALLS calls in a row (\`-c -O2\`, stdio/stdlib/string/errno/unistd)"
    echo
    echo "| compiler | per call | vs plain gcc | |"
    echo "| --- | --- | --- | --- |"
    for r in "${PERCALL[@]}"; do
        IFS='|' read -r label us note <<<"$r"
        case $us in
            skipped*|failed) echo "| $label | $us | | |" ;;
            *) echo "| $label | $us us | $(ratio "$us" "$GCC_US") | $note |" ;;
        esac
    done
} | tee "$ROOT/compile-results.md"
