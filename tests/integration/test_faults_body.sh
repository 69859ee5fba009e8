#!/usr/bin/env bash
# An origin that breaks the body (issue 9): a reset or a close (a body shorter than its
# Content-Length) on every attempt, a stall mid-body, more bytes than Content-Length, a slow drip.
# Every byte a client gets is right (a prefix of the object when its connection was closed
# early: the length was promised), nothing incomplete is committed, and a later clean request
# gets the exact bytes and fetches only what is missing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"

MIB=1048576
SLICE=$MIB
for n in reset close stall long; do
    make_blob "$n.bin" $((6 * MIB + 4321)) >/dev/null
done
make_blob drip.bin $((MIB + 999)) >/dev/null
start_fault_setup

# After a faulty request that left GOT bytes at the client: a clean request gets the whole object
# and the origin sends at most what was not stored (slices the client got whole were committed).
check_clean_rest() { # NAME GOT
    local name=$1 got=$2 size before after
    size=$(stat -c %s "$ORIGIN_ROOT/$name.bin")
    before=$(path_bytes "/$name.bin")
    fget origin.test "/$name.bin" "$T/$name.ok"
    assert_eq 200 "$FG_CODE" "$name: the clean request"
    assert_prefix_of "$T/$name.ok" "$ORIGIN_ROOT/$name.bin" whole
    after=$(($(path_bytes "/$name.bin") - before))
    log "$name: the clean request fetched $after of $size bytes (the client had $got)"
    [ "$after" -le $((size - got / SLICE * SLICE)) ] ||
        fail "$name: the clean request fetched $after bytes, more than the" \
            "$((size - got / SLICE * SLICE)) not yet stored"
    if [ "$after" -gt 0 ]; then
        # the rest is asked from a slice boundary
        grep "GET /$name.bin " "$ORIGIN_LOG" | tail -n 1 | grep -Eq 'range=bytes=[0-9]+-' ||
            fail "$name: the rest was not asked as a range: $(tail -n 1 "$ORIGIN_LOG")"
    fi
}

# A fault on every attempt: the client's connection closes early (or, when mccd's retries
# outlast it, completes); its bytes are right either way.
check_broken() { # HOST NAME MAX-SECONDS
    local host=$1 name=$2
    fget "$host" "/$name.bin" "$T/$name.f"
    if [ "$FG_RC" = 0 ]; then
        assert_eq 200 "$FG_CODE" "$name via $host"
        assert_prefix_of "$T/$name.f" "$ORIGIN_ROOT/$name.bin" whole
    else
        assert_cut "$name via $host"
        assert_prefix_of "$T/$name.f" "$ORIGIN_ROOT/$name.bin"
    fi
    assert_time_between "$FG_TIME" 0 "$3" "$name via $host"
    check_clean_rest "$name" "$(stat -c %s "$T/$name.f")"
}

# resets (RST) and closes (FIN) after 1.5 MB of every upstream response
check_broken reset-after.1500000.fault.test reset 5
assert_ne 0 "$(origin_requests 'GET /reset.bin .* end=reset')" "resets of reset.bin"
check_broken close-after.1500000.fault.test close 5
assert_ne 0 "$(origin_requests 'GET /close.bin .* end=fault-close')" "closes of close.bin"

# a stall mid-body (the origin keeps the connection open and sends nothing): the low-speed
# limit ends each attempt, and the client is not left hanging
check_broken stall-after.300000.fault.test stall 30
assert_ne 0 "$(origin_requests 'GET /stall.bin .* bytes=300000 end=')" "stalls of stall.bin"

# 10 bytes past Content-Length: the extra bytes never reach a client or the store
fget long-body.10.fault.test /long.bin "$T/long.f"
assert_eq 200 "$FG_CODE" "long-body"
assert_prefix_of "$T/long.f" "$ORIGIN_ROOT/long.bin" whole
fget origin.test /long.bin "$T/long.hit"
assert_prefix_of "$T/long.hit" "$ORIGIN_ROOT/long.bin" whole
assert_cache_status "$T/long.hit.h" hit

# a drip of 400 KB/s, above the low-speed limit: slow, complete, and a second client that joins
# midway gets the same bytes
curl -sS -o "$T/drip.1" -w '%{http_code} %{time_total}' \
    "$MCC_CONTENT/drip.bin?cacheHostOrigin=drip.409600.fault.test" >"$T/drip.1.w" &
dripper=$!
sleep 1
fget origin.test /drip.bin "$T/drip.2"
wait "$dripper" || fail "the dripping request failed"
read -r code secs <"$T/drip.1.w" || true # no newline after -w
assert_eq 200 "$code" "the dripped object"
assert_time_between "$secs" 2 6 "1 MiB at 400 KB/s"
assert_prefix_of "$T/drip.1" "$ORIGIN_ROOT/drip.bin" whole
assert_eq 200 "$FG_CODE" "the request that joined the drip"
assert_prefix_of "$T/drip.2" "$ORIGIN_ROOT/drip.bin" whole
assert_eq 1 "$(origin_requests 'GET /drip.bin ')" "origin requests of the dripped object"

stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
