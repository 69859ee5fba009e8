#!/usr/bin/env bash
# An origin (CDN) that rate-limits the cache with 429 or 503 and Retry-After (issue 9). The
# cache's trouble upstream is transient: the client must get 503 (a Delivery Optimization client
# holds any 4xx against the cache for that host for 15 minutes, a 5xx only makes it retry and
# alternate with the CDN), with the origin's Retry-After relayed, nothing stored, and a clean
# request later gets the exact bytes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"

size=300000
make_blob r429.bin "$size" >/dev/null
make_blob r503.bin "$size" >/dev/null
start_fault_setup

for c in 429 503; do
    fget "status.$c.retry-after.30.fault.test" "/r$c.bin" "$T/r$c"
    assert_eq 503 "$FG_CODE" "the cache's answer to an origin $c"
    assert_header "$T/r$c.h" Retry-After 30
    fget origin.test "/r$c.bin" "$T/r$c.ok"
    assert_eq 200 "$FG_CODE" "the clean request after the origin's $c"
    assert_prefix_of "$T/r$c.ok" "$ORIGIN_ROOT/r$c.bin" whole
    assert_cache_status "$T/r$c.ok.h" "fwd=miss; stored"
done
