#!/usr/bin/env bash
# tests/integration/test_ci.sh - `udcs ci` on real git repositories made here: a step's key
# follows the git trees of its inputs and the working tree's changes under them; a hit
# restores outputs, stdout, stderr and exit status without running the command.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

export UDCS_CACHE_DIR="$T/cache"
R="$T/repo"
mkdir -p "$R/src" "$R/doc"
cd "$R" || exit 1
git init -q . && git config user.email ci@example.com && git config user.name ci
printf 'int a;\n' >src/a.c
printf 'notes\n' >doc/notes.md
printf 'out/\n' >.gitignore
git add . && git commit -qm init

# The step counts its own runs in a file outside the repository, so a hit that ran the
# command anyway would show.
RUNS="$T/runs"
: >"$RUNS"
step() {
    "$UDCS" ci step --name build --inputs src --outputs out -- \
        sh -c 'echo run >>"$0"; mkdir -p out; cat src/*.c >out/all.c; echo "built $(ls src | wc -l)"; echo "a warning" >&2; exit 3' "$RUNS"
}
runs() { wc -l <"$RUNS"; }

step >"$T/o1" 2>"$T/e1"; s1=$?
check "the first run misses and runs the command" test "$(runs)" -eq 1
check "the first run returns the command's exit status" test "$s1" -eq 3
check "the first run prints the command's stdout" grep -qx "built 1" "$T/o1"

rm -rf out
step >"$T/o2" 2>"$T/e2"; s2=$?
check "the second run is a hit and does not run the command" test "$(runs)" -eq 1
check "a hit returns the cached exit status" test "$s2" -eq 3
check "a hit replays stdout" cmp "$T/o1" "$T/o2"
check "a hit replays stderr" grep -qx "a warning" "$T/e2"
check "a hit restores the outputs" grep -qx "int a;" out/all.c

printf 'more notes\n' >>doc/notes.md
git commit -qam "docs only"
step >/dev/null 2>&1
check "a commit outside the inputs still hits" test "$(runs)" -eq 1

printf 'int b;\n' >src/b.c
step >"$T/o3" 2>/dev/null
check "an untracked file under the inputs misses" test "$(runs)" -eq 2
check "the run saw the untracked file" grep -qx "built 2" "$T/o3"
step >/dev/null 2>&1
check "the same untracked content hits again" test "$(runs)" -eq 2
git add src/b.c
step >/dev/null 2>&1
check "staging the same content keeps the key" test "$(runs)" -eq 2
git commit -qm "add b"
step >/dev/null 2>&1
check "committing the same content keeps the key (tree ids, not file hashes, when clean)" test "$(runs)" -eq 3

printf 'int a2;\n' >src/a.c
git add src/a.c
step >/dev/null 2>&1
check "a staged change under the inputs misses" test "$(runs)" -eq 4
git commit -qm "change a"
step >/dev/null 2>&1
check "a committed change to an input misses once" test "$(runs)" -eq 5
step >/dev/null 2>&1
check "and then hits" test "$(runs)" -eq 5

printf 'int a3;\n' >src/a.c
step >/dev/null 2>&1
check "a modified, unstaged tracked file misses" test "$(runs)" -eq 6
git checkout -q src/a.c

# A sibling whose name starts with the input's name is not under it.
mkdir -p src2 && printf 'x\n' >src2/x.c
step >/dev/null 2>&1
check "an untracked file in src2 does not change the key of src" test "$(runs)" -eq 6
rm -rf src2

# The command and the whitelisted environment are part of the key.
"$UDCS" ci step --name build --inputs src --outputs out -- \
    sh -c 'echo run >>"$0"; mkdir -p out; echo other' "$RUNS" >/dev/null 2>&1
check "another command misses" test "$(runs)" -eq 7
envstep() { "$UDCS" ci step --name envstep --inputs src --env MODE -- sh -c 'echo run >>"$0"; echo "$MODE"' "$RUNS"; }
MODE=a envstep >/dev/null 2>&1; MODE=a envstep >"$T/o4" 2>&1
check "a whitelisted variable with the same value hits" test "$(runs)" -eq 8
check "its stdout is replayed" grep -qx a "$T/o4"
MODE=b envstep >/dev/null 2>&1
check "a whitelisted variable with another value misses" test "$(runs)" -eq 9

# From a subdirectory, inputs are relative to it and name the same tree.
(cd src && "$UDCS" ci step --name sub --inputs . -- sh -c 'echo run >>"$0"; ls' "$RUNS" >/dev/null 2>&1)
printf 'x\n' >doc/more.md
(cd src && "$UDCS" ci step --name sub --inputs . -- sh -c 'echo run >>"$0"; ls' "$RUNS" >/dev/null 2>&1)
check "'.' in a subdirectory is that directory's tree" test "$(runs)" -eq 10
rm -f doc/more.md

# Misuse.
expect_status 0 "udcs ci help lists the subcommands" "$UDCS" ci help
expect_output_contains "affected --base REF"
expect_status 2 "an unknown subcommand is refused" "$UDCS" ci frob
expect_output_contains "ci: unknown subcommand 'frob'"
expect_status 2 "a step without --name is refused" "$UDCS" ci step --inputs src -- true
expect_output_contains "--name NAME is required"
expect_status 2 "an input outside the checkout is refused" "$UDCS" ci step --name x --inputs ../x -- true
expect_output_contains "must be a relative path inside the checkout"
expect_status 2 "outside a repository, a step says so" sh -c "cd '$T' && '$UDCS' ci step --name x --inputs src -- true"
expect_output_contains "no git repository"
expect_status 127 "a command that does not exist exits 127" "$UDCS" ci step --name nope --inputs src -- /nonexistent/prog

check "every step is in the step log" test "$(wc -l <"$UDCS_CACHE_DIR/ci/steps.jsonl")" -ge 15
check "the log records hits" grep -q '"outcome":"hit"' "$UDCS_CACHE_DIR/ci/steps.jsonl"

# ---- cache export / import -------------------------------------------------------------
cd "$R" || exit 1
export UDCS_CACHE_DIR="$T/cache"
check "export writes the store as one file" "$UDCS" ci cache export "$T/bundle.tar.zst"
check "the file is a zstd stream" sh -c "zstd -t '$T/bundle.tar.zst'"
export UDCS_CACHE_DIR="$T/cache-imported"
check "import into an empty store succeeds" "$UDCS" ci cache import "$T/bundle.tar.zst"
check "every exported entry came back" test "$(cd "$T/cache" && find cas ac -type f | sort)" = "$(cd "$T/cache-imported" && find cas ac -type f | sort)"
check "the imported store verifies" "$CAS" --cache-dir "$T/cache-imported" verify
n=$(runs)
rm -rf out
step >"$T/o5" 2>/dev/null; s5=$?
check "a step hits from an imported cache without running" test "$(runs)" -eq "$n"
check "and gives its status and outputs" sh -c "test $s5 -eq 3 && test -f out/all.c"

# --used: only what the logged steps used, not what else the store holds.
printf 'unrelated\n' >"$T/unrelated.txt"
U=$("$CAS" --cache-dir "$T/cache" put "$T/unrelated.txt" | cut -d' ' -f1)
check "export --used writes a file" "$UDCS" --cache-dir "$T/cache" ci cache export --used "$T/used.tar.zst"
zstd -dc "$T/used.tar.zst" | tar -tf - >"$T/used.list"
check "it leaves out a blob no step used" sh -c "! grep -q '${U:2}' '$T/used.list'"
check "it holds the step's action results" grep -q '^ac/' "$T/used.list"
check "it holds fewer entries than the store" test "$(wc -l <"$T/used.list")" -lt "$(find "$T/cache/cas" "$T/cache/ac" -type f | wc -l)"
n=$(runs)
rm -rf out
UDCS_CACHE_DIR="$T/cache-used" "$UDCS" ci cache import "$T/used.tar.zst" >/dev/null 2>&1
UDCS_CACHE_DIR="$T/cache-used" step >/dev/null 2>&1
check "a step hits from a --used import" sh -c "test $(runs) -eq $n && test -f out/all.c"

# Crafted cache files: each is refused as a whole, with nothing extracted or stored.
python3 - "$T/bundle.tar.zst" "$T/crafted" <<'PY'
import io, os, subprocess, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
raw = subprocess.run(["zstd", "-dc", src], check=True, capture_output=True).stdout
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    blobs = [(m.name, t.extractfile(m).read()) for m in t.getmembers()
             if m.isfile() and m.name.startswith("cas/")]
good_name, good = blobs[0]
def write(name, members):
    with tarfile.open(os.path.join(out, name), "w") as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
def reg(name, data):
    m = tarfile.TarInfo(name); m.size = len(data); return (m, data)
def link(name, target, kind=tarfile.SYMTYPE):
    m = tarfile.TarInfo(name); m.type = kind; m.linkname = target; return (m, None)
write("dotdot.tar", [reg(good_name, good), reg("../escaped", b"x")])
write("absolute.tar", [reg(good_name, good), reg(os.path.join(out, "absolute-file"), b"x")])
write("symlink.tar", [reg(good_name, good), link("cas/ab/" + "0" * 30, "/etc/passwd")])
write("hardlink.tar", [reg(good_name, good), link("cas/ab/" + "1" * 30, "/etc/passwd", tarfile.LNKTYPE)])
dev = tarfile.TarInfo("cas/ab/" + "2" * 30); dev.type = tarfile.CHRTYPE; dev.devmajor = 1; dev.devminor = 3
write("device.tar", [reg(good_name, good), (dev, None)])
bad = bytearray(good); bad[-1] ^= 0x55
write("corrupt.tar", [reg(good_name, good), reg(blobs[1][0], bytes(bad))])
wrong = blobs[1][0][:-1] + ("0" if blobs[1][0][-1] != "0" else "1")
write("misnamed.tar", [reg(good_name, good), reg(wrong, blobs[1][1])])
write("stray.tar", [reg(good_name, good), reg("notes.txt", b"x")])
with open(os.path.join(out, "truncated.tar"), "wb") as f:
    f.write(open(os.path.join(out, "corrupt.tar"), "rb").read()[:700])
PY
refused() {
    local file=$1 what=$2 says=$3
    rm -rf "$T/cache-crafted"
    UDCS_CACHE_DIR="$T/cache-crafted" "$UDCS" ci cache import "$T/crafted/$file" >"$T/.out" 2>&1
    local got=$?
    local left
    left=$(find "$T/cache-crafted/cas" "$T/cache-crafted/ac" "$T/cache-crafted/tmp" -type f 2>/dev/null | wc -l)
    if [ "$got" -eq 1 ] && [ "$left" -eq 0 ] && grep -qF -- "$says" "$T/.out" &&
       grep -qF "nothing was imported" "$T/.out" && [ ! -e "$T/escaped" ] &&
       [ ! -e "$T/crafted/absolute-file" ]; then
        ok "import refuses $what"
    else
        not_ok "import refuses $what (exit $got, $left files stored)"; sed 's/^/# /' "$T/.out"
    fi
}
refused dotdot.tar "a path with '..'" "climbs out with '..'"
refused absolute.tar "an absolute path" "is an absolute path"
refused symlink.tar "a symlink" "is a link (to '/etc/passwd')"
refused hardlink.tar "a hard link" "is a link"
refused device.tar "a device file" "is a device"
refused corrupt.tar "a blob whose bytes were changed" "failed its check"
refused misnamed.tar "a blob stored under another digest" "failed its check"
refused stray.tar "a file outside the store's layout" "is not a store entry"
refused truncated.tar "a truncated file" "damaged"
expect_status 1 "import of a missing file fails" "$UDCS" ci cache import "$T/no-such-file"
expect_output_contains "cannot open $T/no-such-file"
expect_status 2 "cache without a subcommand is a usage error" "$UDCS" ci cache

# ---- a shared cache: udcs-cas serve -------------------------------------------------------
cd "$R" || exit 1
start_cas_server "$T/server"
n=$(runs)
UDCS_CACHE_DIR="$T/cache-runner1" "$UDCS" ci step --name shared --inputs src --outputs out \
    --cache-url "$SERVER_URL" --cache-token-file "$SERVER_TOKEN_FILE" -- \
    sh -c 'echo run >>"$0"; mkdir -p out; echo shared >out/shared.txt; echo from-runner1' "$RUNS" >/dev/null 2>&1
check "a runner with the shared cache runs a new step" test "$(runs)" -eq $((n + 1))
rm -rf out
UDCS_CACHE_DIR="$T/cache-runner2" UDCS_CI_CACHE_URL="$SERVER_URL" UDCS_CI_CACHE_TOKEN_FILE="$SERVER_TOKEN_FILE" \
    "$UDCS" ci step --name shared --inputs src --outputs out -- \
    sh -c 'echo run >>"$0"; mkdir -p out; echo shared >out/shared.txt; echo from-runner1' "$RUNS" >"$T/o6" 2>&1
check "another runner with an empty store hits through the shared cache" test "$(runs)" -eq $((n + 1))
check "and gets the outputs and stdout" sh -c "grep -qx shared out/shared.txt && grep -qx from-runner1 '$T/o6'"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
UDCS_CACHE_DIR="$T/cache-runner3" "$UDCS" ci step --name shared --inputs src --outputs out \
    --cache-url "$SERVER_URL" --cache-token-file "$SERVER_TOKEN_FILE" -- \
    sh -c 'echo run >>"$0"; mkdir -p out; echo shared >out/shared.txt; echo from-runner1' "$RUNS" >"$T/o7" 2>&1
check "with the shared cache down, the step runs locally" test "$(runs)" -eq $((n + 2))
check "and says so" grep -q "going on with the local store only" "$T/o7"

# ---- --remote: a miss runs on a farm agent --------------------------------------------
cd "$R" || exit 1
export UDCS_CACHE_DIR="$T/cache-remote"
if start_farm "$T/farm" --heartbeat-ms 300 --backoff-ms 100; then
    start_agent r1 --slots 1
    check "an agent registers" wait_until 20 agents_idle 1
    rm -rf out
    remote_step() {
        timeout 120 "$UDCS" ci step --name remote --inputs src --outputs out/remote.txt --remote \
            --env MODE -- sh -c 'mkdir -p out; cat src/*.c >out/remote.txt; echo "$MODE"; pwd' "$@"
    }
    MODE=farm remote_step >"$T/o8" 2>"$T/e8"; s8=$?
    check "a remote miss succeeds" test "$s8" -eq 0
    check "the command ran in the agent's directory" grep -q "^$T/agents/r1" "$T/o8"
    check "with the whitelisted variable" grep -qx farm "$T/o8"
    check "its output came back" sh -c "cat src/*.c | cmp - out/remote.txt"
    check "the log says it ran on the farm" sh -c "tail -n 1 '$UDCS_CACHE_DIR/ci/steps.jsonl' | jq -e '.where == \"farm\" and .outcome == \"miss\"'"
    JOB8=$(tail -n 1 "$UDCS_CACHE_DIR/ci/steps.jsonl" | jq '.job')
    check "in the farm job the log names" sh -c "curl -sf '$FARM_URL/api/jobs/$JOB8' | jq -e '.state == \"done\"' >/dev/null"
    "$UDCS" ci report --junit "$T/remote-junit.xml" >/dev/null 2>&1
    check "and the JUnit report names it too" grep -q "ran farm (job $JOB8)" "$T/remote-junit.xml"
    kill "$FARM_PID"; wait "$FARM_PID" 2>/dev/null
    rm -rf out
    MODE=farm remote_step >"$T/o9" 2>&1
    check "the same step hits with the farm gone" cmp "$T/o8" "$T/o9"
    check "and restores the output" sh -c "cat src/*.c | cmp - out/remote.txt"
    check "the hit's log line says the result was made on the farm" sh -c "tail -n 1 '$UDCS_CACHE_DIR/ci/steps.jsonl' | jq -e '.where == \"farm\" and .outcome == \"hit\"'"
    MODE=here remote_step >"$T/o10" 2>"$T/e10"; s10=$?
    check "a miss with the farm gone runs here" sh -c "test $s10 -eq 0 && grep -qx '$R' '$T/o10'"
    check "and says so" grep -q "running it here" "$T/e10"
else
    not_ok "master starts"
fi
unset UDCS_FARM UDCS_TOKEN_FILE
echo secret >"$T/farm-token"
"$UDCS" --farm http://127.0.0.1:1 --token-file "$T/farm-token" ci step --name leak --inputs src --remote -- \
    sh -c 'echo "token:${UDCS_TOKEN_FILE:-none} farm:${UDCS_FARM:-none}"' >"$T/o11" 2>/dev/null
check "a command run here never sees the farm settings given to udcs" grep -qx "token:none farm:none" "$T/o11"

# ---- report ------------------------------------------------------------------------------
cd "$R" || exit 1
export UDCS_CACHE_DIR="$T/cache-report"
"$UDCS" ci step --name fine --inputs src -- sh -c 'echo "<ok> & \"fine\"" && sleep 1' >/dev/null 2>&1
"$UDCS" ci step --name fine --inputs src -- sh -c 'echo "<ok> & \"fine\"" && sleep 1' >/dev/null 2>&1
"$UDCS" ci step --name broken --inputs src -- sh -c "printf 'bad\001'; exit 4" >/dev/null 2>&1
check "report writes JUnit and JSON" "$UDCS" ci report --junit "$T/junit.xml" --json "$T/report.json"
expect_output_contains "3 steps: 1 hits, 2 misses, 1 failed"
check "the JUnit report validates against the schema" xmllint --noout --schema "$HERE/junit.xsd" "$T/junit.xml"
check "the JUnit report counts the steps and the failure" xmllint --xpath '/testsuites/testsuite[@tests="3" and @failures="1"]' "$T/junit.xml"
check "the failed step carries its exit status" xmllint --xpath '//testcase[@name="broken"]/failure[@message="exit status 4"]' "$T/junit.xml"
check "a hit is marked in the step's output" sh -c "xmllint --xpath 'string(//testcase[@name=\"fine\"][2]/system-out)' '$T/junit.xml' | grep -q '^hit: '"
sed 's/ classname="udcs.ci"//' "$T/junit.xml" >"$T/junit-broken.xml"
expect_status 3 "the schema rejects a testcase without classname (it can fail)" xmllint --noout --schema "$HERE/junit.xsd" "$T/junit-broken.xml"
check "the JSON summary counts hits, misses and failures" jq -e '.summary | .steps == 3 and .hits == 1 and .misses == 2 and .failed == 1' "$T/report.json"
check "the JSON report saves the time of the hit" jq -e '.steps[1] as $h | $h.outcome == "hit" and $h.run_ms >= 1000 and $h.saved_ms == $h.run_ms - $h.elapsed_ms and .summary.saved_ms == $h.saved_ms' "$T/report.json"
expect_status 2 "report without a file to write is a usage error" "$UDCS" ci report

# ---- affected: the steps whose inputs differ between two commits ----------------------
A="$T/affected"
mkdir -p "$A/lib" "$A/app" "$A/doc"
cd "$A" || exit 1
git init -q . && git config user.email ci@example.com && git config user.name ci
echo l >lib/l.c; echo a >app/a.c; echo d >doc/d.md; echo t >top.txt
git add . && git commit -qm base
BASE=$(git rev-parse HEAD)
export UDCS_CACHE_DIR="$T/cache-affected"
for s in "lib lib" "app app lib" "docs doc" "all ."; do
    set -- $s
    name=$1; shift
    "$UDCS" ci step --name "$name" --inputs "$@" -- true >/dev/null 2>&1
done
aff() { "$UDCS" ci affected "$@" 2>&1 | sort | tr '\n' ' '; }
check "nothing is affected between a commit and itself" test -z "$(aff --base HEAD)"
echo l2 >lib/l.c && git commit -qam "lib"
check "a change to lib affects lib, app and all" test "$(aff --base "$BASE")" = "all app lib "
echo d2 >doc/d.md && git commit -qam "doc"
check "from the lib commit, a doc change affects docs and all" test "$(aff --base HEAD~1)" = "all docs "
check "--head picks the other end" test "$(aff --base "$BASE" --head HEAD~1)" = "all app lib "
echo t2 >top.txt && git commit -qam "top"
check "a file no step names affects only the whole-tree step" test "$(aff --base HEAD~1)" = "all "
mkdir -p lib2 && echo x >lib2/x.c && git add lib2 && git commit -qm "lib2"
check "lib2 is not under lib" test "$(aff --base HEAD~1)" = "all "
cat >steps.json <<'JSON'
{"steps":[{"name":"only-doc","inputs":["doc"]},{"name":"only-app","inputs":["app"]}]}
JSON
check "a steps file replaces the log" test "$(aff --base "$BASE" --steps steps.json)" = "only-doc "
check "--json lists both sides" sh -c "'$UDCS' ci affected --base '$BASE' --steps steps.json --json | jq -e '.unaffected == [\"only-app\"]'"
# A committed .udcs-ci.json is read at both commits: a step defined otherwise is affected.
cat >.udcs-ci.json <<'JSON'
{"steps":[{"name":"build","inputs":["app"],"argv":["make"]},{"name":"doc","inputs":["doc"]}]}
JSON
git add .udcs-ci.json && git commit -qm "steps"
STEPS1=$(git rev-parse HEAD)
check "with a committed steps file, nothing is affected between a commit and itself" test -z "$(aff --base HEAD)"
cat >.udcs-ci.json <<'JSON'
{"steps":[{"name":"build","inputs":["app"],"argv":["make","-j4"]},{"name":"doc","inputs":["doc"]},{"name":"new","inputs":["lib"]}]}
JSON
git commit -qam "steps changed"
check "a changed command or a new step is affected, an unchanged one is not" test "$(aff --base "$STEPS1")" = "build new "
check "a base without the file makes every step new" test "$(aff --base "$BASE")" = "build doc new "
git rm -q .udcs-ci.json && git commit -qm "no steps file"
echo '{"steps":[{"name":"x","inputs":["../up"]}]}' >bad.json
expect_status 2 "a steps file with a path that climbs out is refused" "$UDCS" ci affected --base "$BASE" --steps bad.json
expect_output_contains "not a relative path that stays inside"
expect_status 2 "an unknown base is refused" "$UDCS" ci affected --base no-such-ref
expect_output_contains "'no-such-ref' names no commit"
expect_status 2 "affected without --base is refused" "$UDCS" ci affected

done_testing
