#!/usr/bin/env bash
# mccd killed with SIGKILL in the middle of a download and restarted on the same cache root:
# the object is completed by fetching only the slices it lacks and served intact; a restart with
# the complete object serves it without asking the origin.
source "$(dirname "$0")/lib.sh"
require_persistent_storage # the cache root must outlive mccd

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

MIB=1048576
SLICE=$MIB
size=$((32 * MIB))
sum=$(make_blob obj/crash.bin "$size")
# 32 MiB at 8 MiB/s: four seconds, so that 40% is reached after about 1.6 s
start_origin --rate 8M
MCC_TEST_DISK_SIZE=128MiB start_mccd
url="$MCC_CONTENT/obj/crash.bin?cacheHostOrigin=origin.test"

# the client downloads through mccd; mccd dies once the client holds 40%
curl -sS -o "$T/part" "$url" 2>"$T/curl1.err" &
curl_pid=$!
track_pid "$curl_pid" curl
for ((i = 0; i < 200; i++)); do
    [ "$(stat -c %s "$T/part" 2>/dev/null || echo 0)" -ge $((size * 2 / 5)) ] && break
    kill -0 "$curl_pid" 2>/dev/null || break
    sleep 0.05
done
had=$(stat -c %s "$T/part" 2>/dev/null || echo 0)
[ "$had" -ge $((size * 2 / 5)) ] && [ "$had" -lt "$size" ] ||
    fail "the client had $had bytes when mccd was to be killed"
kill -KILL "$MCCD_PID"
stop_pid "$MCCD_PID" 2
assert_eq 137 "$STOP_RC" "mccd exit status (SIGKILL)"
stop_pid "$curl_pid" 5
assert_ne 0 "$STOP_RC" "the cut download's curl exit status"
# the interrupted download's bytes are a correct prefix
cmp -s "$T/part" <(head -c "$(stat -c %s "$T/part")" "$ORIGIN_ROOT/obj/crash.bin") ||
    fail "the bytes received before the kill differ"
origin_settle
before=$(origin_bytes 'GET /obj/crash.bin ')
lines_before=$(wc -l <"$ORIGIN_LOG")
log "killed mccd with the client at $had bytes; the origin had sent $before"

# restart on the same cache root: the rest only
restart_mccd
code=$(curl -sS -D "$T/h2" -o "$T/full2" -w '%{http_code}' "$url")
assert_eq 200 "$code" "download after the restart"
assert_sha256 "$T/full2" "$sum"
assert_cache_status "$T/h2" "fwd=partial; stored"
after=$(($(origin_bytes 'GET /obj/crash.bin ') - before))
# what the second download asked for: ranges starting at a slice boundary; the first of them
# tells how much had been stored (slices [0, stored) survived the kill)
tail -n +$((lines_before + 1)) "$ORIGIN_LOG" >"$T/origin2.log"
first_req=$(grep -m1 'GET /obj/crash.bin ' "$T/origin2.log") ||
    fail "no origin request after the restart"
[[ "$first_req" =~ range=bytes=([0-9]+)- ]] || fail "the restart asked without a range: $first_req"
stored=${BASH_REMATCH[1]}
assert_eq 0 $((stored % SLICE)) "the resumed range starts at a slice boundary"
log "after the restart: stored $stored bytes, fetched $after more"
# what was stored is what the origin had sent before the kill, less the slice in flight (and
# the last commits the kill may have beaten)
[ "$stored" -ge $(((before / SLICE - 2) * SLICE)) ] ||
    fail "only $stored bytes survived of the $before the origin sent before the kill"
[ "$after" -le $((size - stored + SLICE)) ] ||
    fail "the second download fetched $after bytes, more than $((size - stored)) + one slice"
[ "$after" -ge $((size - stored)) ] || fail "the second download fetched only $after bytes"

# a restart with the whole object: nothing from the origin
stop_pid "$MCCD_PID" 5
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
restart_mccd
code=$(curl -sS -D "$T/h3" -o "$T/full3" -w '%{http_code}' "$url")
assert_eq 200 "$code" "download after the second restart"
assert_sha256 "$T/full3" "$sum"
assert_cache_status "$T/h3" "hit"
assert_eq $((before + after)) "$(origin_bytes 'GET /obj/crash.bin ')" \
    "origin bytes after the second restart"

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
