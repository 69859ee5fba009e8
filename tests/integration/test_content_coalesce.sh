#!/usr/bin/env bash
# 16 clients ask for the same cold 64 MiB object at once through a paced origin: the origin sends
# it once, every client gets the right bytes, and all of them start receiving together (none
# waits for the transfer to finish).
source "$(dirname "$0")/lib.sh"

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

MIB=1048576
SLICE=$MIB
CLIENTS=16
size=$((64 * MIB))
sum=$(make_blob big/object.bin "$size")
# 64 MiB at 16 MiB/s: a transfer of about four seconds
start_origin --rate 16M
MCC_TEST_DISK_SIZE=256MiB start_mccd
url="$MCC_CONTENT/big/object.bin?cacheHostOrigin=origin.test"

# Each client hashes what it receives on the fly (no 16 copies on disk) and reports when it
# started (ns since the epoch), its time to the first response byte, status and size.
pids=()
for ((i = 0; i < CLIENTS; i++)); do
    (
        start=$(date +%s%N)
        curl -sS -w '%{stderr}%{time_starttransfer} %{http_code} %{size_download} %{time_total}\n' \
            -H 'User-Agent: Microsoft-Delivery-Optimization-Lite/10.0.0.1' "$url" \
            2>"$T/client$i.w" | sha256sum | cut -d' ' -f1 >"$T/client$i.sum"
        echo "$start" >"$T/client$i.start"
    ) &
    pids+=($!)
    track_pid "$!" "client $i"
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a client subshell failed"
    untrack_pid "$p"
done

firsts=()
longest=0
for ((i = 0; i < CLIENTS; i++)); do
    read -r ttfb code got total <"$T/client$i.w" ||
        fail "client $i: no curl report: $(cat "$T/client$i.w")"
    assert_eq 200 "$code" "client $i status"
    assert_eq "$size" "$got" "client $i bytes"
    assert_eq "$sum" "$(cat "$T/client$i.sum")" "client $i sha256"
    start=$(cat "$T/client$i.start")
    # when the first byte arrived, in ms since the epoch
    firsts+=("$(awk -v s="$start" -v t="$ttfb" 'BEGIN { printf "%.0f", s / 1e6 + t * 1000 }')")
    log "client $i: time to first byte ${ttfb}s, done after ${total}s"
    longest=$(awk -v a="$longest" -v b="$total" 'BEGIN { print (b > a ? b : a) }')
done
# the pacing made this a real race: the transfer was still running while clients joined
awk -v t="$longest" 'BEGIN { exit !(t >= 3) }' || fail "the download took only ${longest}s"

min=$(printf '%s\n' "${firsts[@]}" | sort -n | head -n 1)
max=$(printf '%s\n' "${firsts[@]}" | sort -n | tail -n 1)
log "first bytes arrived within $((max - min)) ms of each other"
[ $((max - min)) -lt 1000 ] || fail "first bytes spread over $((max - min)) ms (limit 1000)"

# the origin sent the object once (within a slice: a transfer may be cut at a slice boundary)
bytes=$(origin_bytes 'GET /big/object.bin ')
log "origin sent $bytes bytes in $(origin_requests 'GET /big/object.bin ') request(s)"
[ "$bytes" -ge "$size" ] && [ "$bytes" -le $((size + SLICE)) ] ||
    fail "origin sent $bytes bytes for a $size-byte object (expected $size..$((size + SLICE)))"
grep -q 'status=200\|status=206' "$ORIGIN_LOG" || fail "no successful origin transfer logged"

grep -q ' 200 67108864 miss ' "$MCC_ACCESS_LOG" || fail "no miss in the access log"

# and a late client is served from the cache alone
code=$(curl -sS -o "$T/late" -w '%{http_code}' "$url")
assert_eq 200 "$code" "late client status"
assert_sha256 "$T/late" "$sum"
assert_eq "$bytes" "$(origin_bytes 'GET /big/object.bin ')" "origin bytes after the late client"

# --- a slow client does not hold the transfer up; a resume far ahead gets its own transfer ----
size2=$((32 * MIB))
sum2=$(make_blob big/second.bin "$size2")
url2="$MCC_CONTENT/big/second.bin?cacheHostOrigin=origin.test"
curl -sS -o "$T/slow" --limit-rate 1M "$url2" 2>/dev/null &
slow_pid=$!
track_pid "$slow_pid" "slow client"
sleep 0.3
curl -sS -o "$T/fast" -w '%{time_total}' "$url2" >"$T/fast.t" &
fast_pid=$!
track_pid "$fast_pid" "fast client"
sleep 0.3
# a resume 24 MiB in, while the transfer is a few MiB in: fetched on its own, not waited for
ahead=$((24 * MIB + 5))
code=$(curl -sS -o "$T/ahead" -w '%{http_code} %{time_total}' -H "Range: bytes=$ahead-" "$url2")
log "resume at $ahead: $code"
assert_eq 206 "${code% *}" "resume far ahead"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/big/second.bin" "$ahead" $((size2 - 1)))" \
    "$(sha256sum <"$T/ahead" | cut -d' ' -f1)" "bytes of the resume far ahead"
wait "$fast_pid" || fail "the fast client failed"
untrack_pid "$fast_pid"
assert_sha256 "$T/fast" "$sum2"
log "fast client done after $(cat "$T/fast.t")s, the slow one had $(stat -c %s "$T/slow") bytes"
kill -0 "$slow_pid" 2>/dev/null || fail "the slow client (1 MiB/s) finished before the fast one"
# 32 MiB at 16 MiB/s: the fast client was not paced by the slow one (1 MiB/s)
awk -v t="$(cat "$T/fast.t")" 'BEGIN { exit !(t < 8) }' ||
    fail "the fast client took $(cat "$T/fast.t")s"
stop_pid "$slow_pid" 2
cmp -s "$T/slow" <(head -c "$(stat -c %s "$T/slow")" "$ORIGIN_ROOT/big/second.bin") ||
    fail "the slow client's bytes differ"
bytes=$(origin_bytes 'GET /big/second.bin ')
log "origin sent $bytes bytes of second.bin in $(origin_requests 'GET /big/second.bin ') requests"
[ "$bytes" -ge "$size2" ] && [ "$bytes" -le $((size2 + SLICE)) ] ||
    fail "origin sent $bytes bytes for a $size2-byte object"
[ "$(origin_requests 'GET /big/second.bin range=bytes=25165824-')" -eq 1 ] ||
    fail "the resume far ahead did not get its own transfer from its slice: $(cat "$ORIGIN_LOG")"

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
