#!/usr/bin/env bash
# Via and loops: a request that already passed this node is refused with 508; another chain is
# served, and the node name defaults to the host name so nodes of a chain differ by default.
source "$(dirname "$0")/lib.sh"

start_origin
sum=$(make_blob obj.bin 100000)
cat > "$T/60-node.json" <<JSON
{"node": {"name": "node-a"}}
JSON
start_mccd "$T/60-node.json"

url="$MCC_CONTENT/obj.bin?cacheHostOrigin=origin.test"
code=$(curl -s -o "$T/loop.out" -w '%{http_code}' -H 'Via: 1.1 node-b, 1.1 node-a (mcc)' "$url")
assert_eq 508 "$code" "status of a request that came around a loop"
assert_eq 0 "$(origin_requests)" "origin requests caused by the looping request"
assert_contains "$(cat "$MCC_ACCESS_LOG")" " 508 " "access log of the loop"

code=$(curl -s -o "$T/ok.out" -D "$T/ok.h" -w '%{http_code}' -H 'Via: 1.1 node-b' "$url")
assert_eq 200 "$code" "status with another node in Via"
assert_eq "$sum" "$(sha256sum < "$T/ok.out" | cut -d' ' -f1)" "body with another node in Via"
assert_contains "$(cat "$T/ok.h")" "Cache-Status: node-a; fwd=miss; stored" "Cache-Status names the node"

# a name that only starts like ours is not a loop
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Via: HTTP/1.1 node-ab:80' "$url")
assert_eq 200 "$code" "status with a similar node name in Via"
log "ok"
