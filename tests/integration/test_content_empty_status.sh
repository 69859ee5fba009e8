#!/usr/bin/env bash
# PENDING (daemon bug): the first GET of a 0-byte object is fetched from the origin but answered
# "Cache-Status: mcc; hit" and logged as a hit. daemon/cache/serve.c serve_start() computes the
# status from stored slices only: a 0-byte object has none, so have == need == 0 reads as "hit".
# Rename to .sh once fixed.
source "$(dirname "$0")/lib.sh"

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

make_blob empty.bin 0 >/dev/null
start_origin
start_mccd
url="$MCC_CONTENT/empty.bin?cacheHostOrigin=origin.test"
code=$(curl -sS -D "$T/h1" -o "$T/b1" -w '%{http_code}' "$url")
assert_eq 200 "$code" "cold GET of a 0-byte object"
assert_header "$T/h1" Content-Length 0
assert_eq 1 "$(origin_requests 'GET /empty.bin ')" "origin requests"
assert_cache_status "$T/h1" "fwd=miss; stored"
code=$(curl -sS -D "$T/h2" -o "$T/b2" -w '%{http_code}' "$url")
assert_eq 200 "$code" "warm GET of a 0-byte object"
assert_cache_status "$T/h2" "hit"
assert_eq 1 "$(origin_requests 'GET /empty.bin ')" "origin requests after the warm GET"
grep -q ' GET origin.test /empty.bin 200 0 miss ' "$MCC_ACCESS_LOG" ||
    fail "the cold GET is not logged as a miss: $(cat "$MCC_ACCESS_LOG")"
