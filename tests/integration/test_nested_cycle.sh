#!/usr/bin/env bash
# Loops and hops: two nodes that name each other as parents end a request with 508 after one
# round (no storm), and along a working chain every level shows itself in Cache-Status, the
# level nearest the origin first (RFC 9211).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nested_lib.sh"

start_origin
sum=$(make_blob pool/x.bin 300000)

# A and B are each other's parent: B's ports are chosen before A starts
mkdir -p "$T/b"
echo "$(free_port) $(free_port)" >"$T/b/ports"
read -r b_port _ <"$T/b/ports"
start_level a "127.0.0.1:$b_port"
start_level b "127.0.0.1:$A_PORT"

assert_eq 508 "$(level_get "$A_PORT" /pool/x.bin "$T/loop.out")" "status of a request in a cycle"
sleep 0.5
# one round: the client's request at A, A's at B, B's back at A (refused there); nothing more
assert_eq 2 "$(level_lines a /pool/x.bin)" "requests A served for x.bin"
assert_eq 1 "$(level_lines b /pool/x.bin)" "requests B served for x.bin"
assert_contains "$(cat "$T/a/mccd.log")" "loop:" "A logs the loop"
assert_eq 0 "$(origin_requests)" "origin requests of the cycle"
stop_pid "$A_PID"
stop_pid "$B_PID"

# a chain bottom -> top -> origin: each level appears in Cache-Status, nearest the origin first
start_level top ""
start_level bottom "127.0.0.1:$TOP_PORT"
hdrs=$(curl -s -D - -o "$T/x.out" "http://127.0.0.1:$BOTTOM_PORT/pool/x.bin?cacheHostOrigin=origin.test")
assert_sha256 "$T/x.out" "$sum"
top_name=$(nested_guid top)
bottom_name=$(nested_guid bottom)
cs=$(printf '%s\n' "$hdrs" | tr -d '\r' | grep -i '^Cache-Status:')
assert_contains "$cs" "$top_name; fwd=miss; stored, $bottom_name; fwd=miss; stored" \
    "Cache-Status through two levels"
log "ok"
