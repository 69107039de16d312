#!/usr/bin/env bash
# tests/integration/test_cas_http.sh - the CAS protocol on the wire, spoken with curl to a
# real `udcs-cas serve`: what it accepts, what it refuses and how it says so.
. "$(dirname "$0")/lib.sh"

start_cas_server "$T/srv" --max-blob 64K || { not_ok "server starts"; done_testing; exit 1; }
ok "server starts on an ephemeral port"
TOKEN=$(cat "$SERVER_TOKEN_FILE")
AUTH="Authorization: Bearer $TOKEN"
C1="$T/c1"
cli() { "$CAS" --cache-dir "$C1" --remote "$SERVER_URL" --token-file "$SERVER_TOKEN_FILE" "$@"; }
# code METHOD PATH [CURL ARGS...]: print the HTTP status; the body goes to $T/body.
code() {
    local m=$1 p=$2; shift 2
    if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
    curl -s --max-time 20 -o "$T/body" -w '%{http_code}' "$@" "$SERVER_URL$p"
}

check "healthz answers" sh -c "curl -sf --max-time 20 '$SERVER_URL/healthz' | grep -q '\"ok\": *true'"

seq 1 3000 >"$T/small.txt"
D=$(cli put "$T/small.txt" | cut -d' ' -f1)
check "a put through the CLI reaches the server" test "$(code HEAD "/cas/$D")" = 200
check "HEAD tells the raw size" sh -c "curl -sI --max-time 20 '$SERVER_URL/cas/$D' | grep -qi '^X-UDCS-Raw-Size: $(stat -c %s "$T/small.txt")'"
# (a copy: `cmp -` alone, were the glob to match nothing, would compare stdin with itself)
cp "$(ls "$T"/srv/store/cas/*/"${D:2}")" "$T/small.stored"
check "GET returns the stored form byte for byte" sh -c "curl -sf --max-time 20 '$SERVER_URL/cas/$D' | cmp - '$T/small.stored'"

# a wrong size in the name is not found, and costs the server nothing: no token is needed
# to send one, so it must never remove the blob
SIZE=$(stat -c %s "$T/small.txt")
check "HEAD with a wrong size is 404" test "$(code HEAD "/cas/$D/$((SIZE + 3))")" = 404
check "GET with a wrong size is 404" test "$(code GET "/cas/$D/$((SIZE + 3))")" = 404
check "the blob is still served after both" test "$(code HEAD "/cas/$D")" = 200
check "and still whole" sh -c "curl -sf --max-time 20 '$SERVER_URL/cas/$D/$SIZE' | cmp - '$T/small.stored'"
check "nothing was counted corrupt" sh -c "curl -sf --max-time 20 '$SERVER_URL/stats' | grep -q '\"corrupt\": *0'"

stored=$(ls "$C1"/cas/*/"${D:2}")
OTHER=0123456789abcdef0123456789abcdef
check "PUT under another digest is refused with 400" test "$(code PUT "/cas/$OTHER" -H "$AUTH" --data-binary "@$stored")" = 400
check "the refusal is JSON that says why" grep -q '"error": *"upload of .*different digest' "$T/body"
check "nothing was stored under that name" test "$(code HEAD "/cas/$OTHER")" = 404

check "PUT without a token is refused with 401" test "$(code PUT "/cas/$D" --data-binary "@$stored")" = 401
check "the 401 says to send a bearer token" grep -q "Bearer" "$T/body"
check "PUT with a wrong token is refused with 403" test "$(code PUT "/cas/$D" -H "Authorization: Bearer nope" --data-binary "@$stored")" = 403

head -c 100 "$stored" >"$T/truncated"
D2=$(printf 'fresh %s' "$RANDOM$RANDOM" | tee "$T/fresh" | xxh128sum 2>/dev/null | cut -d' ' -f1)
"$CAS" --cache-dir "$T/c2" put "$T/fresh" >/dev/null
fresh_stored=$(ls "$T"/c2/cas/*/"${D2:2}")
head -c 45 "$fresh_stored" >"$T/fresh.trunc"
check "a truncated upload is refused with 400" test "$(code PUT "/cas/$D2" -H "$AUTH" --data-binary "@$T/fresh.trunc")" = 400
check "the refusal says it is truncated" grep -q "truncated\|incomplete" "$T/body"
check "a full upload of the same blob is then accepted" test "$(code PUT "/cas/$D2" -H "$AUTH" --data-binary "@$fresh_stored")" = 201

head -c 200000 /dev/urandom >"$T/big.bin"
"$CAS" --cache-dir "$T/c3" put "$T/big.bin" >/dev/null
DB=$(xxh128sum "$T/big.bin" 2>/dev/null | cut -d' ' -f1)
check "a body over the limit is refused with 413" test "$(code PUT "/cas/$DB" -H "$AUTH" --data-binary "@$(ls "$T"/c3/cas/*/"${DB:2}")")" = 413
check "the 413 names the limit" grep -q "limit" "$T/body"
check "a digest that is not one is refused with 400" test "$(code GET /cas/xyz)" = 400
check "that refusal says what a digest looks like" grep -q "32 lowercase hex" "$T/body"
check "an unknown endpoint is 404" test "$(code GET /nothing/here)" = 404
check "a wrong method is 405" test "$(code DELETE "/cas/$D" -H "$AUTH")" = 405

check "a malformed action result is refused with 400" test "$(code PUT "/ac/$D" -H "$AUTH" -H 'Content-Type: application/json' --data-binary '{"version":1,')" = 400
check "the refusal points at the JSON error" grep -q "line 1" "$T/body"
check "an unknown action is 404" test "$(code GET "/ac/$OTHER")" = 404
check "stats are JSON with the blob count" sh -c "curl -sf --max-time 20 '$SERVER_URL/stats' | grep -q '\"blob_count\": *2'"

# read-through from a second, empty store
check "an empty store reads through the server" sh -c "'$CAS' --cache-dir '$T/c4' --remote '$SERVER_URL' get $D -o '$T/back.txt' && cmp '$T/back.txt' '$T/small.txt'"
check "and keeps a copy locally" sh -c "'$CAS' --cache-dir '$T/c4' has $D"

# the server goes away: the CLI says what happened
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
expect_status 1 "with the server gone, a get that needs it fails" "$CAS" --cache-dir "$T/c5" --remote "$SERVER_URL" get "$D2" -o "$T/gone"
expect_output_contains "the remote could not be reached"
expect_output_contains "Couldn't connect to server"
check "local hits still work with the server gone" "$CAS" --cache-dir "$T/c4" --remote "$SERVER_URL" get "$D" -o "$T/back2.txt"

done_testing
