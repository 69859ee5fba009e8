#!/usr/bin/env bash
# The fault simulator itself (mcc-test-origin's per-request faults, issue 9), without mccd: each
# fault chosen by the fault= query parameter or the Host labels does what --help says, exactly.
source "$(dirname "$0")/lib.sh"

sum=$(make_blob a.bin 100000)
sum2=$(make_blob a.bin.v2 50000)
start_origin --fault-by-query --fault-by-host
base=http://$ORIGIN_ADDR

# GET PATH with curl options; sets C_CODE C_SIZE C_TIME C_RC, headers in $T/h
c() {
    local w
    C_RC=0
    w=$(curl -sS -o "$T/b" -D "$T/h" -w '%{http_code} %{size_download} %{time_total}' -m 10 "$@" \
        2>/dev/null) || C_RC=$?
    read -r C_CODE C_SIZE C_TIME <<<"$w"
}
hdr() { tr -d '\r' <"$T/h"; }

c "$base/a.bin?fault=status=429,retry-after=7"
assert_eq "429 0" "$C_CODE $C_SIZE" "status=429"
assert_contains "$(hdr)" "Retry-After: 7" "retry-after"
c -H 'Host: status.503.retry-after.3.fault.test' "$base/a.bin"
assert_eq 503 "$C_CODE" "status by Host"
assert_contains "$(hdr)" "Retry-After: 3" "retry-after by Host"
c -H 'Host: origin.test' "$base/a.bin"
assert_eq 200 "$C_CODE" "a Host naming no fault"
assert_sha256 "$T/b" "$sum"
c -L --max-redirs 3 "$base/a.bin?fault=redirect-loop"
assert_eq 47 "$C_RC" "curl on a redirect loop (too many redirects)"
assert_eq 4 "$(origin_requests 'fault=redirect-loop .*status=302')" "302s of the loop"
c "$base/a.bin?fault=garbage=2000"
assert_ne 0 "$C_RC" "curl on garbage"
c "$base/a.bin?fault=bad-status"
assert_ne 0 "$C_RC" "curl on a bad status line"
assert_eq 1 "$(origin_requests 'status=0 bytes=2000 end=garbage')" "log of garbage"
c "$base/a.bin?fault=big-headers=64K"
assert_eq 200 "$C_CODE" "big-headers"
[ "$(stat -c %s "$T/h")" -ge 65536 ] || fail "big-headers: $(stat -c %s "$T/h") header bytes"
c "$base/a.bin?fault=long-body=10"
assert_eq 1 "$(origin_requests 'fault=long-body=10 .*bytes=100010 end=ok')" "log of long-body"
c -r 100-199 "$base/a.bin?fault=wrong-start=1000"
assert_contains "$(hdr)" "Content-Range: bytes 1100-1199/100000" "wrong-start"
cmp -s "$T/b" <(tail -c +1101 "$ORIGIN_ROOT/a.bin" | head -c 100) || fail "wrong-start bytes"
c -r 100-199 "$base/a.bin?fault=wrong-total=5"
assert_contains "$(hdr)" "Content-Range: bytes 100-199/5" "wrong-total"
c "$base/a.bin?fault=close-after=3000"
assert_eq "18 3000" "$C_RC $C_SIZE" "close-after: curl exit and bytes"
cmp -s "$T/b" <(head -c 3000 "$ORIGIN_ROOT/a.bin") || fail "close-after bytes"
# change-after counts per path; keep-validators keeps FILE's ETag for FILE.v2
etags=()
for i in 1 2 3; do
    c "$base/a.bin?fault=change-after=2"
    etags+=("$(hdr | sed -n 's/^ETag: //p')")
    [ "$i" -lt 3 ] && assert_sha256 "$T/b" "$sum"
done
assert_sha256 "$T/b" "$sum2"
etag1=${etags[0]} etag3=${etags[2]}
assert_ne "$etag1" "$etag3" "ETag of version 2"
c "$base/a.bin?fault=change-after=0,keep-validators"
assert_sha256 "$T/b" "$sum2"
assert_contains "$(hdr)" "ETag: $etag1" "keep-validators"
# timing: drip, stall-headers, stall-after
c "$base/a.bin?fault=drip=100000"
assert_sha256 "$T/b" "$sum"
awk -v t="$C_TIME" 'BEGIN { exit !(t >= 0.8 && t < 3) }' || fail "drip: ${C_TIME}s"
c "$base/a.bin?fault=stall-headers=700"
assert_sha256 "$T/b" "$sum"
awk -v t="$C_TIME" 'BEGIN { exit !(t >= 0.65 && t < 3) }' || fail "stall-headers: ${C_TIME}s"
c -m 1 "$base/a.bin?fault=stall-after=5000"
assert_eq "28 5000" "$C_RC $C_SIZE" "stall-after: curl exit (timeout) and bytes"
for ((i = 0; i < 20; i++)); do # the origin notices the peer's close within its poll
    [ "$(origin_requests 'fault=stall-after=5000 .*bytes=5000 end=')" = 1 ] && break
    sleep 0.1
done
assert_eq 1 "$(origin_requests 'fault=stall-after=5000 .*bytes=5000 end=')" "log of the stall"
# a bad fault spec is an error, not a silent clean answer
c "$base/a.bin?fault=nonsense"
assert_eq 500 "$C_CODE" "an unknown fault"
# without --fault-by-query the parameter is just a query
stop_pid "$ORIGIN_PID"
start_origin
c "http://$ORIGIN_ADDR/a.bin?fault=status=503"
assert_eq 200 "$C_CODE" "fault= without --fault-by-query"
stop_pid "$ORIGIN_PID"
assert_eq 0 "$STOP_RC" "origin exit status"
