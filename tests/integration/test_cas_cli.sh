#!/usr/bin/env bash
# tests/integration/test_cas_cli.sh - the udcs-cas command as a user runs it: every
# command, its output, exit statuses and messages for misuse, corruption and trees.
. "$(dirname "$0")/lib.sh"

S="$T/store"
c() { "$CAS" --cache-dir "$S" "$@"; }

printf 'hello\n' >"$T/hello.txt"
head -c 300000 /dev/urandom >"$T/random.bin"
seq 1 200000 >"$T/numbers.txt"

# put prints "DIGEST SIZE FILE", the digest being xxh128sum's
c put "$T/hello.txt" "$T/numbers.txt" >"$T/put.out" 2>&1
check "put stores two files" test "$(wc -l <"$T/put.out")" -eq 2
want=$(xxh128sum "$T/numbers.txt" 2>/dev/null | cut -d' ' -f1)
check "put prints the same digest as xxh128sum" grep -q "^$want $(stat -c %s "$T/numbers.txt") " "$T/put.out"
H=$(grep hello "$T/put.out" | cut -d' ' -f1)
N=$want

check "get writes the same bytes" sh -c "'$CAS' --cache-dir '$S' get $N -o '$T/n.out' && cmp '$T/n.out' '$T/numbers.txt'"
check "get accepts DIGEST/SIZE" c get "$N/$(stat -c %s "$T/numbers.txt")" -o "$T/n2.out"
check "cat writes the blobs in order" bash -c "'$CAS' --cache-dir '$S' cat $H $H | cmp - <(cat '$T/hello.txt' '$T/hello.txt')"
check "has succeeds for present blobs" c has "$H" "$N"
expect_status 1 "has fails when one is missing" c has "$H" 0123456789abcdef0123456789abcdef
expect_output_contains "missing 0123456789abcdef0123456789abcdef"
expect_status 1 "has with a wrong size says missing" c has "$H/7"
expect_output_contains "missing $H/7"
expect_status 3 "get with a wrong size is not found" c get "$H/7" -o "$T/x"
check "the blob survives a wrong size" c has "$H/6"
check "and is not counted corrupt" sh -c "'$CAS' --cache-dir '$S' stats --json | grep -q '\"corrupt\": 0'"

# misuse: clear messages, distinct statuses
expect_status 3 "get of an unknown digest exits 3" c get 0123456789abcdef0123456789abcdef -o "$T/x"
expect_output_contains "not found"
check "a failed get leaves no file" test ! -e "$T/x"
expect_status 1 "get into a missing directory is a write failure, not a missing blob" c get "$H" -o "$T/no/such/dir/f"
expect_output_contains "cannot write $T/no/such/dir/f: No such file or directory"
cp "$T/.out" "$T/get-nodir.out"   # check writes its own output to .out
check "and does not call the blob missing" sh -c "! grep -q 'not found' '$T/get-nodir.out'"
expect_status 2 "a malformed digest is a usage error" c get not-a-digest -o "$T/x"
expect_output_contains "is not a digest"
expect_status 2 "an unknown command is a usage error" c frobnicate
expect_output_contains "unknown command 'frobnicate'"
expect_status 2 "an unknown option is a usage error" c put --frob "$T/hello.txt"
expect_output_contains "unknown option '--frob'"
expect_status 2 "an option without its value is a usage error" "$CAS" put --cache-dir
expect_output_contains "needs a value"
expect_status 2 "a command option without its value is a usage error" c get "$H" -o
expect_output_contains "option -o needs a value"
expect_status 2 "put --manifest without its value is a usage error" c put -r "$T" --manifest
expect_output_contains "option --manifest needs a value"
expect_status 2 "serve --port-file without its value is a usage error" c serve --no-auth --port-file
expect_output_contains "option --port-file needs a value"
expect_status 2 "a level out of range is a usage error" c --level 99 stats
expect_output_contains "level 99, from the flag, is out of range"
expect_status 2 "a level out of range from the environment says so" env UDCS_LEVEL=0 "$CAS" --cache-dir "$S" put "$T/hello.txt"
expect_output_contains "from the environment"
expect_status 2 "a remote that is not an http URL is a usage error" c --remote ftp://x has "$H"
expect_output_contains "not an http:// or https:// URL"
expect_status 2 "a bad size is a usage error naming the setting" c --max-size 5Q stats
expect_output_contains "max_size"
expect_status 2 "a bad size from the environment names the variable" env UDCS_MAXSIZE=lots "$CAS" --cache-dir "$S" stats
expect_output_contains "UDCS_MAXSIZE"
expect_status 1 "put of a missing file fails" c put "$T/nope.txt"
expect_output_contains "No such file or directory"
expect_status 1 "put of a directory without -r fails" c put "$T"
expect_output_contains "put -r"
expect_status 2 "trim needs --max-size" c trim
expect_status 2 "serve without a token is refused" c serve --listen 127.0.0.1:0
expect_output_contains "--token-file"
check "--help lists the commands" sh -c "'$CAS' --help | grep -q 'verify'"
check "--print-config says where a value came from" sh -c "UDCS_MAXSIZE=7G '$CAS' --print-config | grep max_size | grep -q environment"

# config file precedence: file < environment < flag
mkdir -p "$T/cfg"
printf '[cas]\nmax_size = 1G\nlevel = 5\n' >"$T/cfg/config"
check "the config file is read" sh -c "'$CAS' --config '$T/cfg/config' --print-config | grep level | grep -q 'file'"
check "a flag beats the environment" sh -c "UDCS_LEVEL=7 '$CAS' --config '$T/cfg/config' --level 9 --print-config | grep -E '^level +=' | grep -q ' 9 '"
printf '[cas]\nmax_sise = 1G\n' >"$T/cfg/typo"
expect_status 2 "an unknown key in the config file is refused" "$CAS" --config "$T/cfg/typo" stats
expect_output_contains "unknown key 'max_sise'"

# flip_byte FILE OFFSET: damage one byte for sure (writing a fixed byte may write the
# byte that was there: 1 time in 256 on random data)
flip_byte() {
    local b
    b=$(dd if="$1" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
    printf "\\$(printf %03o $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# corruption: a damaged blob is found, not served, removed and counted
f=$(ls "$S"/cas/*/"$(echo "$N" | cut -c3-)")
chmod u+w "$f"
flip_byte "$f" 100
expect_status 1 "get of a damaged blob fails" c get "$N" -o "$T/bad.out"
expect_output_contains "integrity"
check "the damaged blob was removed" test ! -e "$f"
check "no partial output was left" test ! -e "$T/bad.out"
check "stats --json counts it" sh -c "'$CAS' --cache-dir '$S' stats --json | grep -q '\"corrupt\": 1'"

# verify repairs the whole store
c put "$T/random.bin" "$T/numbers.txt" >/dev/null
R=$(xxh128sum "$T/random.bin" 2>/dev/null | cut -d' ' -f1)
f=$(ls "$S"/cas/*/"$(echo "$R" | cut -c3-)")
chmod u+w "$f"
flip_byte "$f" 5000
expect_status 1 "verify reports damage with status 1" c verify
expect_output_contains "removed damaged"
check "verify is clean afterwards" c verify

# trim
check "trim down to 1 byte empties the store" sh -c "'$CAS' --cache-dir '$S' trim --max-size 1 | grep -q 'entries (0 B) kept'"

# trees: a directory with a symlink, an empty dir and an executable round-trips
mkdir -p "$T/tree/sub/empty"
cp "$T/hello.txt" "$T/tree/a.txt"
cp "$T/numbers.txt" "$T/tree/sub/n.txt"
printf '#!/bin/sh\necho hi\n' >"$T/tree/run.sh"
chmod 755 "$T/tree/run.sh"
ln -s a.txt "$T/tree/link"
c put -r "$T/tree" --manifest "$T/tree.json" >"$T/tree.out" 2>&1
check "put -r stores a tree" grep -q "tree: 3 files" "$T/tree.out"
TD=$(cut -d' ' -f1 "$T/tree.out")
check "get --tree restores it exactly" sh -c "'$CAS' --cache-dir '$S' get --tree $TD -o '$T/tree2' >/dev/null && diff -r --no-dereference '$T/tree' '$T/tree2'"
check "the executable bit survives" test -x "$T/tree2/run.sh"
check "the manifest is JSON listing the entries" grep -q '"path":"sub/n.txt"' "$T/tree.json"
expect_status 1 "get --tree of a plain blob says it is not a tree" c get --tree "$H" -o "$T/t3"
expect_output_contains "not a usable tree manifest"

# a crafted manifest that would write through a symlink is refused before anything is written
EV=$(printf 'evil' | tee "$T/evil.txt" | xxh128sum 2>/dev/null | cut -d' ' -f1)
c put "$T/evil.txt" >/dev/null
printf '{"entries":[{"path":"l","symlink":"%s"},{"digest":"%s/4","mode":420,"path":"l/planted"}],"udcs_tree":1}' \
    "$T/outside" "$EV" >"$T/evil.json"
MD=$(c put "$T/evil.json" | cut -d' ' -f1)
mkdir -p "$T/outside"
expect_status 1 "a manifest writing below its own symlink is refused" c get --tree "$MD" -o "$T/t4"
expect_output_contains "below a symlink"
check "nothing was written through the symlink" test ! -e "$T/outside/planted"
check "nothing was restored at all" test ! -e "$T/t4/l"

done_testing
