#!/usr/bin/env bash
# tests/demo.sh - what `make demo` runs: a CAS server on loopback, a real directory tree
# stored through one client store, read back through a second, empty one layered on the
# server, compared byte for byte, and the stores' statistics.
set -euo pipefail
: "${UDCS_BIN:?set UDCS_BIN to the directory holding udcs-cas}"
CAS="$UDCS_BIN/udcs-cas"
TREE=${DEMO_TREE:-/usr/include}
W=${DEMO_DIR:-$(pwd)/build/demo}

say() { printf '\n== %s\n' "$*"; }
took() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf 'took %d.%03d s\n' $((ms / 1000)) $((ms % 1000)); }
rm -rf "$W"
mkdir -p "$W"
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

say "Starting a CAS server on loopback (udcs-cas serve)"
head -c 24 /dev/urandom | base64 >"$W/token"
chmod 600 "$W/token"
"$CAS" serve --cache-dir "$W/server" --listen 127.0.0.1:0 --port-file "$W/port" \
    --token-file "$W/token" 2>"$W/server.log" &
SERVER_PID=$!
for _ in $(seq 1 500); do [ -s "$W/port" ] && break; sleep 0.02; done
[ -s "$W/port" ] || { echo "the server did not start:"; cat "$W/server.log"; exit 1; }
URL="http://127.0.0.1:$(cat "$W/port")"
echo "serving $W/server on $URL (writes need the token in $W/token)"

files=$(find "$TREE" -type f | wc -l)
say "Storing $TREE ($files files, $(du -sh "$TREE" | cut -f1)) through client store A, written through to the server"
start=$(date +%s%N)
"$CAS" --cache-dir "$W/client-a" --remote "$URL" --token-file "$W/token" put -r "$TREE" | tee "$W/tree.txt"
took "$start"
DIGEST=$(cut -d' ' -f1 "$W/tree.txt")

say "Reading every file back through client store B (empty), which fetches from the server"
start=$(date +%s%N)
"$CAS" --cache-dir "$W/client-b" --remote "$URL" get --tree "$DIGEST" -o "$W/restored"
took "$start"

say "Comparing the restored tree with $TREE, byte for byte"
if diff -r --no-dereference "$TREE" "$W/restored" >"$W/diff.txt"; then
    echo "identical: $files files"
else
    echo "DIFFERENT: see $W/diff.txt"; head "$W/diff.txt"; exit 1
fi

say "Reading it again through client store B: all local hits now"
start=$(date +%s%N)
"$CAS" --cache-dir "$W/client-b" --remote "$URL" get --tree "$DIGEST" -o "$W/restored-again"
took "$start"

say "Server store"
"$CAS" --cache-dir "$W/server" stats
say "Client store B"
"$CAS" --cache-dir "$W/client-b" stats

say "Stopping the server"
kill "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=
echo "done; everything is under $W"
