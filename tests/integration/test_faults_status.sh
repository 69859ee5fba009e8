#!/usr/bin/env bash
# An origin that misbehaves before the body (issue 9): 503 with Retry-After, redirect loops,
# garbage or a broken status line instead of HTTP, oversized headers, a stall before the headers.
# The cache answers 5xx (never a 4xx a Delivery Optimization client would hold against it for
# 15 minutes), quickly, stores nothing, and a later clean request gets the exact bytes, fetched
# once. 429 is checked by test_faults_429.sh(.pending).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"

MIB=1048576
size=$((2 * MIB + 4321))
names=(s503 loop garbage badstatus pad64k pad1m stall)
for n in "${names[@]}"; do
    make_blob "$n.bin" "$size" >/dev/null
done
start_fault_setup

# CASE HOST NAME EXPECTED-STATUS MAX-SECONDS: the faulty request, then a clean one.
check_case() {
    local host=$1 name=$2 want=$3 max=$4 before
    fget "$host" "/$name.bin" "$T/$name.f"
    case " $want " in
    *" $FG_CODE "*) ;;
    *) fail "$name via $host: status $FG_CODE, expected one of: $want" ;;
    esac
    assert_time_between "$FG_TIME" 0 "$max" "$name via $host"
    if [ "$FG_CODE" != 200 ]; then
        assert_not_contains "$(tr -d '\r' <"$T/$name.f.h")" "stored" "Cache-Status of $name"
    fi
    kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died on $name"
    before=$(path_bytes "/$name.bin")
    fget origin.test "/$name.bin" "$T/$name.ok"
    assert_eq 200 "$FG_CODE" "$name: the clean request after the fault"
    assert_prefix_of "$T/$name.ok" "$ORIGIN_ROOT/$name.bin" whole
    if [ "$want" = 200 ]; then
        assert_cache_status "$T/$name.ok.h" hit
        assert_eq "$before" "$(path_bytes "/$name.bin")" "$name: origin bytes of the hit"
    else
        # nothing of the failed attempt was kept: the whole object came from the origin once
        assert_cache_status "$T/$name.ok.h" "fwd=miss; stored"
        assert_eq "$size" $(($(path_bytes "/$name.bin") - before)) "$name: origin bytes after"
    fi
}

# 503 passes through as 503 (the client retries and alternates with the CDN)
check_case status.503.retry-after.30.fault.test s503 503 2
# a redirect to itself: libcurl follows max_redirects (5) times, then 502
check_case redirect-loop.fault.test loop 502 3
assert_eq 6 "$(origin_requests 'GET /loop.bin range=- status=302')" "requests of the redirect loop"
# bytes that are not HTTP, and "HTTP/1.1 abc"
check_case garbage.3000.fault.test garbage 502 3
check_case bad-status.fault.test badstatus 502 3
# 64 KiB of headers is within libcurl's limits: served and stored, the pad is not relayed
check_case big-headers.65536.fault.test pad64k 200 3
assert_prefix_of "$T/pad64k.f" "$ORIGIN_ROOT/pad64k.bin" whole
assert_not_contains "$(cat "$T/pad64k.f.h")" "X-Pad-" "headers relayed to the client"
# 1 MiB of headers is not: 502
check_case big-headers.1048576.fault.test pad1m 502 3
# no status line for 10 s: 504 (or 502) after the 2 s low-speed time, not the origin's 10 s
check_case stall-headers.10000.fault.test stall "504 502" 5
assert_time_between "$FG_TIME" 0 1 "the clean request after the stall"

stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
