#!/usr/bin/env bash
# tests/integration/test_compile_farm.sh - udcs-compile with a farm on loopback: misses
# compiled on two agents give the objects a local gcc writes; a second machine (a fresh
# local cache) gets every object from the farm's cache; compiles whose objects would
# differ (debug information with columns) stay local but still share the cache; killing
# the master mid-build falls back to local compiles and the build succeeds; an agent with no
# compiler at all compiles with this machine's gcc, shipped to it and run isolated; one
# with this gcc driver but another assembler is not given this machine's compiles; a
# master that accepts connections and never answers costs one call a few seconds, and the
# calls of the next minute none (the farm-down marker).
. "$(dirname "$0")/lib.sh"
UCC="$UDCS_BIN/udcs-compile"

start_farm "$T/farm" --lease-ttl-ms 3000 --heartbeat-ms 300 \
    || { not_ok "master starts"; done_testing; exit 1; }
ok "master starts"
start_agent a1 --slots 2
start_agent a2 --slots 2
check "two agents register" wait_until 20 agents_idle 2

# ---- a project of 16 C files with shared headers -------------------------------------------
P="$T/proj"
mkdir -p "$P/include"
cat >"$P/include/common.h" <<'EOF'
#include <stdio.h>
#include <string.h>
#define SCALE 3
static inline int scaled(int x) { return x * SCALE; }
EOF
for i in $(seq 1 16); do
    cat >"$P/f$i.c" <<EOF
#include "common.h"
int f$i(const char *s) { char b[64]; snprintf(b, sizeof b, "%s-$i", s); return scaled((int)strlen(b)) + $i; }
EOF
done
cat >"$P/Makefile" <<'EOF'
SRCS := $(wildcard f*.c)
OBJS := $(SRCS:%.c=$(OUT)/%.o)
all: $(OBJS)
$(OUT)/%.o: %.c include/common.h
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) -Iinclude -MMD -MP -c $< -o $@
EOF
# the reference: plain gcc
make -s -C "$P" OUT=ref CC=gcc CFLAGS="-O2 -Wall" >/dev/null
make -s -C "$P" OUT=refg CC=gcc CFLAGS="-O2 -g" >/dev/null

same_objects() {   # same_objects DIR REF: every object and depfile equal to the reference's
    local f ok=0
    for f in "$2"/*.o; do
        cmp -s "$f" "$1/$(basename "$f")" || { echo "differs: $(basename "$f")"; ok=1; }
    done
    return $ok
}
stat_of() { UDCS_CACHE_DIR=$1 "$UCC" -s --json | jq -r ".$2"; }

# ---- misses on agents ----------------------------------------------------------------------
export UDCS_CACHE_DIR="$T/cache1" UDCS_REMOTE_ONLY=1
check "a build with every miss sent to the farm succeeds" \
    make -s -j8 -C "$P" OUT=build CC="$UCC gcc" CFLAGS="-O2 -Wall"
check "its objects are byte-identical to a local gcc's" same_objects "$P/build" "$P/ref"
check "the depfiles too" bash -c "cd '$P/build' && for d in *.d; do sed 's#^build/#OUT/#' \$d | cmp -s - <(sed 's#^ref/#OUT/#' '$P/ref/'\$d) || exit 1; done"
check "misses were compiled on agents" test "$(stat_of "$T/cache1" remote_compiles)" -ge 8
agents_used() {   # the names of the agents that ran the farm's units, one per line
    local id
    for id in $(curl -sf "$FARM_URL/api/jobs?limit=1000" | jq -r '.jobs[].id'); do
        curl -sf "$FARM_URL/api/jobs/$id" | jq -r '.unit_list[0].agent_name // empty'
    done | sort -u
}
check "both agents compiled some" test "$(agents_used | wc -l)" -eq 2
check "every call was counted once" test "$(stat_of "$T/cache1" calls)" -eq 16

# ---- another machine: an empty local cache, the same farm -----------------------------------
# (it builds in the same relative directory, as a checkout of the project would)
export UDCS_CACHE_DIR="$T/cache2"
rm -rf "$P/build"
check "a second machine's build succeeds" \
    make -s -j8 -C "$P" OUT=build CC="$UCC gcc" CFLAGS="-O2 -Wall"
check "its objects are identical" same_objects "$P/build" "$P/ref"
check "every object came from the farm's cache" test "$(stat_of "$T/cache2" remote_hits)" -eq 16
check "nothing was compiled again" test "$(stat_of "$T/cache2" misses)" -eq 0
rm -rf "$P/build"
check "a rebuild there is answered by the local cache" \
    make -s -j8 -C "$P" OUT=build CC="$UCC gcc" CFLAGS="-O2 -Wall"
check "with direct hits" test "$(stat_of "$T/cache2" direct_hits)" -eq 16

# ---- debug information with columns: compiled here, shared through the farm -----------------
export UDCS_CACHE_DIR="$T/cache3"
check "a -g build succeeds" make -s -j8 -C "$P" OUT=buildg CC="$UCC gcc" CFLAGS="-O2 -g"
check "its objects are identical to a local gcc's" same_objects "$P/buildg" "$P/refg"
check "no -g compile went to an agent" test "$(stat_of "$T/cache3" remote_compiles)" -eq 0
export UDCS_CACHE_DIR="$T/cache4"
rm -rf "$P/buildg"
check "another machine's -g build succeeds" make -s -j8 -C "$P" OUT=buildg CC="$UCC gcc" CFLAGS="-O2 -g"
check "from the farm's cache" test "$(stat_of "$T/cache4" remote_hits)" -eq 16

# ---- compile errors come back exactly as gcc prints them ------------------------------------
export UDCS_CACHE_DIR="$T/cache5"
printf 'int broken(void) { return undefined_name; }\n' >"$P/bad.c"
(cd "$P" && gcc -O2 -c bad.c -o "$T/bad-ref.o" >"$T/bad-ref.out" 2>"$T/bad-ref.err"; echo $? >"$T/bad-ref.rc")
(cd "$P" && "$UCC" gcc -O2 -c bad.c -o "$T/bad.o" >"$T/bad.out" 2>"$T/bad.err"; echo $? >"$T/bad.rc")
check "a failing remote-eligible compile exits as gcc does" cmp "$T/bad.rc" "$T/bad-ref.rc"
check "with gcc's exact stderr" cmp "$T/bad.err" "$T/bad-ref.err"
rm -f "$P/bad.c"

# ---- toolchain shipping: an agent without gcc runs this machine's gcc, isolated ------------
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
    kill "${AGENT_PIDS[a1]}" "${AGENT_PIDS[a2]}"
    wait "${AGENT_PIDS[a1]}" "${AGENT_PIDS[a2]}" 2>/dev/null
    mkdir -p "$T/onlybwrap"
    ln -s "$(command -v bwrap)" "$T/onlybwrap/bwrap"
    env PATH="$T/onlybwrap" "$AGENT" --farm "$FARM_URL" --token-file "$FARM_TOKEN_FILE" \
        --name bare --work-dir "$T/agents/bare" --log-file "$T/agents/bare.log" \
        --lease-wait-ms 2000 --slots 2 &
    BARE_PID=$!
    _pids+=("$BARE_PID")
    bare_has() { curl -sf "$FARM_URL/api/devices" | jq -e '[.devices[] | select(.name == "bare" and .status == "idle")] | length == 1' >/dev/null; }
    check "an agent with no compiler on its PATH registers" wait_until 20 bare_has
    check "it offers no gcc, only bubblewrap" bash -c "curl -sf '$FARM_URL/api/devices' | jq -e '[.devices[] | select(.name == \"bare\") | .toolchains[].name] | (index(\"gcc\") == null and index(\"bwrap\") != null)'"
    export UDCS_CACHE_DIR="$T/cache-ship"
    for i in 1 2 3 4; do
        printf '#include "common.h"\nint s%d(int x) { return scaled(x) + %d; }\n' "$i" "$i" >"$P/s$i.c"
        (cd "$P" && gcc -O2 -Iinclude -c "s$i.c" -o "$T/s$i.ref.o")
    done
    for i in 1 2 3 4; do
        (cd "$P" && "$UCC" gcc -O2 -Iinclude -c "s$i.c" -o "$T/s$i.o") || echo "s$i failed" >>"$T/ship.err"
    done
    check "compiles with a shipped gcc succeed" test ! -s "$T/ship.err"
    check "they ran on the agent without gcc" test "$(stat_of "$T/cache-ship" remote_compiles)" -eq 4
    check "their objects are byte-identical to a local gcc's" \
        bash -c "for i in 1 2 3 4; do cmp '$T/s'\$i.o '$T/s'\$i.ref.o || exit 1; done"
    check "the agent unpacked the toolchain once" test "$(ls -d "$T/agents/bare/toolchains"/*/ | wc -l)" -eq 1
    printf '#include "common.h"\nint s5(int x) { return scaled(x) + 5; }\n' >"$P/s5.c"
    export UDCS_SHIP_TOOLCHAIN=never
    check "with shipping off, a compile no agent can take is done here" \
        bash -c "cd '$P' && '$UCC' gcc -O2 -Iinclude -c s5.c -o '$T/s5.o'"
    check "counted as a local fallback" test "$(stat_of "$T/cache-ship" local_fallbacks)" -eq 1
    unset UDCS_SHIP_TOOLCHAIN
    rm -f "$P"/s?.c
else
    echo "# skipped toolchain shipping: bubblewrap cannot create a sandbox here"
fi

# ---- an agent whose gcc driver is ours but whose assembler is not: not used -----------------
# gcc finds "as" on PATH, so an agent with other binutils first on its PATH runs the same
# driver and cc1 with another assembler, whose object may differ. Only it is up here.
kill "${AGENT_PIDS[a1]}" "${AGENT_PIDS[a2]}" ${BARE_PID:+"$BARE_PID"} 2>/dev/null
wait "${AGENT_PIDS[a1]}" "${AGENT_PIDS[a2]}" ${BARE_PID:+"$BARE_PID"} 2>/dev/null
mkdir -p "$T/otheras"
printf '#!/bin/sh\n# binutils of another build\nexec %s "$@"\n' "$(command -v as)" >"$T/otheras/as"
chmod +x "$T/otheras/as"
PATH="$T/otheras:$PATH" start_agent oddas --slots 2
oddas_has() { curl -sf "$FARM_URL/api/devices" | jq -e '[.devices[] | select(.name == "oddas" and .status == "idle")] | length == 1' >/dev/null; }
check "an agent with another assembler first on its PATH registers" wait_until 20 oddas_has
others_lost() { curl -sf "$FARM_URL/api/devices" | jq -e '[.devices[] | select(.name != "oddas" and .status != "lost")] | length == 0' >/dev/null; }
check "the other agents are gone" wait_until 20 others_lost
fp_of() {   # fp_of AGENT TOOLCHAIN: the fingerprint the agent reports for it
    curl -sf "$FARM_URL/api/devices" |
        jq -r --arg a "$1" --arg t "$2" '.devices[] | select(.name == $a) | .toolchains[] | select(.name == $t) | .fingerprint'
}
ours=$("$UDCS_BIN/udcs-detect" 2>/dev/null)
our_fp() { jq -r --arg t "$1" '.toolchains[] | select(.name == $t) | .fingerprint' <<<"$ours"; }
check "it reports our gcc driver" test "$(fp_of oddas gcc)" = "$(our_fp gcc)"
check "and our cc1" test "$(fp_of oddas gcc/cc1)" = "$(our_fp gcc/cc1)"
check "but an assembler of its own" \
    test -n "$(fp_of oddas gcc/as)" -a "$(fp_of oddas gcc/as)" != "$(our_fp gcc/as)"
export UDCS_CACHE_DIR="$T/cache-oddas" UDCS_SHIP_TOOLCHAIN=never
printf '#include "common.h"\nint odd(int x) { return scaled(x) + 7; }\n' >"$P/odd.c"
(cd "$P" && gcc -O2 -Iinclude -c odd.c -o "$T/odd.ref.o")
check "a compile no agent has the whole compiler for succeeds" \
    bash -c "cd '$P' && '$UCC' gcc -O2 -Iinclude -c odd.c -o '$T/odd.o'"
check "its object is gcc's" cmp "$T/odd.o" "$T/odd.ref.o"
check "it was not sent to the agent with the other assembler" \
    test "$(stat_of "$T/cache-oddas" remote_compiles)" -eq 0
check "it was compiled here: no agent has this compiler" \
    test "$(stat_of "$T/cache-oddas" local_fallbacks_no_agent)" -eq 1
unset UDCS_SHIP_TOOLCHAIN
rm -f "$P/odd.c"
kill "${AGENT_PIDS[oddas]}"
wait "${AGENT_PIDS[oddas]}" 2>/dev/null

# ---- the master dies mid-build, with agents up: local compiles finish it -------------------
# The build has two halves: agents compile in the first, the master is killed, and only
# then does the second start, so both paths are taken whatever the timing.
export UDCS_CACHE_DIR="$T/cache6"
for i in $(seq 17 40); do
    printf '#include "common.h"\nint g%d(int x) { for (int k = 0; k < %d; k++) x = scaled(x) ^ k; return x; }\n' "$i" "$i" >"$P/f$i.c"
done
make -s -C "$P" OUT="$T/ref6" CC=gcc CFLAGS="-O1" >/dev/null
cat >"$P/Makefile.kill" <<'EOF'
FIRST := $(patsubst %,$(OUT)/f%.o,$(shell seq 17 24))
SECOND := $(patsubst %,$(OUT)/f%.o,$(shell seq 25 40))
all: $(FIRST) $(SECOND)
$(SECOND): | gate
gate: $(FIRST)
	@while [ ! -e $(GATE) ]; do sleep 0.05; done
$(OUT)/%.o: %.c include/common.h
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) -Iinclude -c $< -o $@
.PHONY: gate
EOF
make -s -C "$P" -f Makefile.kill OUT="$T/ref6k" GATE=/dev/null CC=gcc CFLAGS="-O1" >/dev/null
start_agent k1 --slots 2
start_agent k2 --slots 2
k_idle() { curl -sf "$FARM_URL/api/devices" | jq -e '[.devices[] | select((.name == "k1" or .name == "k2") and .status == "idle")] | length == 2' >/dev/null; }
check "two agents with gcc are up before the master is killed" wait_until 20 k_idle
remote_compiled() { test "$(stat_of "$T/cache6" remote_compiles)" -ge 1; }
(
    # once an agent has compiled a file (each call adds to the counters as it ends)
    wait_until 60 remote_compiled
    kill -9 "$FARM_PID"
    touch "$T/gate6"
) &
killer=$!
check "a build survives the master being killed" \
    timeout 300 make -s -j8 -C "$P" -f Makefile.kill OUT="$T/out6" GATE="$T/gate6" CC="$UCC gcc" CFLAGS="-O1"
wait "$killer"
check "the agents were still up when the master died" kill -0 "${AGENT_PIDS[k1]}" "${AGENT_PIDS[k2]}"
check "its objects are identical" same_objects "$T/out6" "$T/ref6k"
check "no call was lost" test "$(stat_of "$T/cache6" calls)" -eq 24
check "agents compiled some before the master died" test "$(stat_of "$T/cache6" remote_compiles)" -ge 1
check "the rest fell back to local compiles" test "$(stat_of "$T/cache6" local_fallbacks)" -ge 1
check "... because the farm was down" test "$(stat_of "$T/cache6" local_fallbacks_farm_down)" -ge 1
check "the farm is marked down for the next calls" grep -q "^[0-9]* $FARM_URL\$" "$T/cache6/compile/farm-down"
# An agent whose master died with a unit of its in flight keeps trying to hand it back
# (SIGTERM drains, and draining waits for the master): this machine goes away instead.
kill -9 "${AGENT_PIDS[k1]}" "${AGENT_PIDS[k2]}"
wait "${AGENT_PIDS[k1]}" "${AGENT_PIDS[k2]}" 2>/dev/null

# ---- no farm at all: a dead address costs a fallback, not a hang ---------------------------
export UDCS_CACHE_DIR="$T/cache7" UDCS_FARM="http://127.0.0.1:1"
rm -rf "$T/out7"
start=$SECONDS
check "a build with an unreachable farm succeeds" \
    make -s -j8 -C "$P" OUT="$T/out7" CC="$UCC gcc" CFLAGS="-O1"
check "quickly (no long waits on the dead farm)" test $((SECONDS - start)) -lt 60
check "with identical objects" same_objects "$T/out7" "$T/ref6"
check "every miss was a local fallback because the farm was down" \
    test "$(stat_of "$T/cache7" local_fallbacks_farm_down)" -eq "$(stat_of "$T/cache7" misses)"

# ---- a master that accepts connections and never answers: one bounded wait, then none -------
# (the listener holds every connection it accepts, and counts them)
python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open(sys.argv[2], "a") as f:
        f.write("connection\n")
' "$T/silent.port" "$T/silent.conns" &
silent=$!
_pids+=("$silent")
wait_for_port_file "$T/silent.port" "$silent" "the silent listener" /dev/null
conns() { cat "$T/silent.conns" 2>/dev/null | wc -l; }
export UDCS_CACHE_DIR="$T/cache8" UDCS_FARM="http://127.0.0.1:$(cat "$T/silent.port")"
unset UDCS_FARM_TIMEOUT
(cd "$P" && gcc -O1 -Iinclude -c f17.c -o "$T/s17.ref.o" && gcc -O1 -Iinclude -c f18.c -o "$T/s18.ref.o")
start=$SECONDS
check "a compile with a silent master succeeds" \
    bash -c "cd '$P' && '$UCC' gcc -O1 -Iinclude -c f17.c -o '$T/s17.o'"
check "well within a minute (the default farm timeout is a few seconds)" test $((SECONDS - start)) -lt 20
check "the master was asked" test "$(conns)" -ge 1
check "the object is gcc's" cmp "$T/s17.o" "$T/s17.ref.o"
check "the farm is marked down" grep -q "^[0-9]* $UDCS_FARM\$" "$T/cache8/compile/farm-down"
check "counted as a local fallback because the farm was down" \
    test "$(stat_of "$T/cache8" local_fallbacks) $(stat_of "$T/cache8" local_fallbacks_farm_down)" = "1 1"
asked=$(conns)
start=$SECONDS
check "the next compile succeeds" bash -c "cd '$P' && '$UCC' gcc -O1 -Iinclude -c f18.c -o '$T/s18.o'"
check "without waiting for the master" test $((SECONDS - start)) -lt 20
check "without even connecting to it" test "$(conns)" -eq "$asked"
check "its object is gcc's" cmp "$T/s18.o" "$T/s18.ref.o"
check "counted as a local fallback because the farm is down" \
    test "$(stat_of "$T/cache8" local_fallbacks) $(stat_of "$T/cache8" local_fallbacks_farm_down)" = "2 2"
check "a miss, not a hit" test "$(stat_of "$T/cache8" misses)" -eq 2
# a minute later the farm is asked again (the marker is made old rather than waited for)
sed -i "1s/^[0-9]*/$(($(date +%s) - 120))/" "$T/cache8/compile/farm-down"
check "after the hold, a compile asks the master again and succeeds" \
    bash -c "cd '$P' && UDCS_FARM_TIMEOUT=1 '$UCC' gcc -O2 -Iinclude -c f18.c -o '$T/s18-2.o'"
check "it connected again" test "$(conns)" -gt "$asked"
check "and marked the farm down anew" \
    test "$(head -n 1 "$T/cache8/compile/farm-down" | cut -d' ' -f1)" -ge $(($(date +%s) - 30))
# a marker names its farm: another farm is not skipped because of it
check "with another farm configured, the marker is not obeyed" \
    bash -c "cd '$P' && UDCS_FARM=http://127.0.0.1:1 '$UCC' gcc -O3 -Iinclude -c f18.c -o '$T/s18-3.o'"
check "... that farm was asked, and marked down in its turn" \
    grep -q "^[0-9]* http://127.0.0.1:1\$" "$T/cache8/compile/farm-down"
check "a farm timeout that is not a number is refused" \
    bash -c "! UDCS_FARM_TIMEOUT=soon '$UCC' -s"

done_testing
