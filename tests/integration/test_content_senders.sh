#!/usr/bin/env bash
# Large stored bodies are written by sender threads (cache.send_threads): parallel and slow
# readers, ranges across slices, a reader that leaves mid-body, pipelined answers after a
# handed-off body, and a stop while bodies are out; then the same downloads with the threads off.
# Every body is checked by sha256.
source "$(dirname "$0")/lib.sh"
if [ "${MCC_TEST_STORAGE:-disk}" = memory ]; then
    skip "senders write from files; the memory backend has none (its bodies stay on the loop)"
fi

MCC_TEST_FRESHNESS=immutable
MIB=1048576
size=$((24 * MIB + 12345))
big_sum=$(make_blob s/big.bin $size)
small_sum=$(make_blob s/small.bin 5000)
start_origin

with_threads() { # N: starts mccd with cache.send_threads N
    printf '{ "cache": { "send_threads": %d } }\n' "$1" >"$T/threads.json"
    start_mccd "$T/threads.json"
    url="$MCC_CONTENT/s/big.bin?cacheHostOrigin=origin.test"
}

downloads() { # WHAT: parallel, slow and ranged hits of the stored object
    local pids=() i first last
    for i in 1 2 3 4; do
        curl -sS -o "$T/hit$i" "$url" &
        pids+=($!)
    done
    curl -sS --limit-rate 6M -o "$T/slow" "$url" || fail "$1: slow download failed"
    for i in "${pids[@]}"; do
        wait "$i" || fail "$1: a parallel download failed"
    done
    for i in 1 2 3 4; do
        assert_sha256 "$T/hit$i" "$big_sum"
    done
    assert_sha256 "$T/slow" "$big_sum"
    # ranges at odd offsets, most across a slice boundary, some to the end
    for i in $(seq 1 12); do
        first=$(((i * 1987654321) % (size - 1)))
        last=$((first + (i % 3 + 1) * 700000))
        [ "$last" -lt "$size" ] || last=$((size - 1))
        assert_eq 206 "$(curl -sS -o "$T/range" -w '%{http_code}' -r "$first-$last" "$url")" \
            "$1: range $first-$last"
        assert_eq "$(range_sha256 "$ORIGIN_ROOT/s/big.bin" "$first" "$last")" \
            "$(sha256sum <"$T/range" | cut -d' ' -f1)" "$1: bytes of range $first-$last"
    done
}

sender_bytes() {
    curl -sS "$MCC_ADMIN/metrics" | awk '/^mcc_sender_bytes_total / { printf "%d", $2 }'
}

sender_threads() { # mccd's threads named as senders
    cat /proc/"$MCCD_PID"/task/*/comm | grep -c '^mccd-send$' || true
}

cpu_ms() { # METRIC: its value in milliseconds, or "absent"
    curl -sS "$MCC_ADMIN/metrics" |
        awk -v m="$1" '$1 == m { printf "%d", $2 * 1000; found = 1 } END { if (!found) print "absent" }'
}

with_threads 2
assert_eq 200 "$(curl -sS -o "$T/cold" -w '%{http_code}' "$url")" "cold download"
assert_sha256 "$T/cold" "$big_sum"
assert_eq 2 "$(sender_threads)" "sender threads of mccd with cache.send_threads 2"
before=$(sender_bytes)
loop_before=$(cpu_ms mcc_loop_cpu_seconds_total)
senders_before=$(cpu_ms mcc_sender_cpu_seconds_total)
downloads "2 senders"
moved=$(($(sender_bytes) - before))
# five full downloads and twelve ranges of 0.7 to 2.1 MB went through the senders
[ "$moved" -ge $((5 * size + 12 * 700000)) ] ||
    fail "the senders wrote $moved bytes, expected at least $((5 * size + 12 * 700000))"
# their CPU time is reported apart from the loop's, and both grew with the work
loop_after=$(cpu_ms mcc_loop_cpu_seconds_total)
senders_after=$(cpu_ms mcc_sender_cpu_seconds_total)
log "CPU: loop $loop_before -> $loop_after ms, senders $senders_before -> $senders_after ms"
[ "$loop_after" -gt "$loop_before" ] || fail "loop CPU did not grow: $loop_before -> $loop_after"
[ "$senders_after" -gt "$senders_before" ] ||
    fail "sender CPU did not grow: $senders_before -> $senders_after"
proc_ms=$(awk '{ print int(($14 + $15) * 1000 / '"$(getconf CLK_TCK)"') }' "/proc/$MCCD_PID/stat")
[ $((loop_after + senders_after)) -le $((proc_ms + 50)) ] ||
    fail "loop + senders CPU ($loop_after + $senders_after ms) over the process's ($proc_ms ms)"

# a reader that leaves mid-body: the sender's write fails, the connection is closed, the access
# log counts only what left, and the next clients are served
curl -sS --limit-rate 2M --max-time 1 -o /dev/null "$url" 2>/dev/null && fail "cut download finished"
sleep 0.5
kill -0 "$MCCD_PID" || fail "mccd died"
cut_bytes=$(grep ' /s/big.bin 200 ' "$MCC_ACCESS_LOG" | tail -1 | awk '{print $7}')
[ -n "$cut_bytes" ] && [ "$cut_bytes" -lt "$size" ] && [ "$cut_bytes" -gt 0 ] ||
    fail "the cut download logged '$cut_bytes' bytes sent, expected some but fewer than $size"
assert_eq 200 "$(curl -sS -o "$T/after" -w '%{http_code}' "$url")" "download after the cut one"
assert_sha256 "$T/after" "$big_sum"

# pipelined: a handed-off body, then a small one and a range on the same connection
req() { # NAME [EXTRA_HEADER]
    printf 'GET /s/%s?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$1"
    [ -z "${2:-}" ] || printf '%s\r\n' "$2"
    printf '\r\n'
}
curl -sS -o /dev/null "$MCC_CONTENT/s/small.bin?cacheHostOrigin=origin.test"
before=$(sender_bytes)
{
    req big.bin
    req small.bin
    req big.bin 'Range: bytes=3000000-4999999'
    req small.bin 'Connection: close'
} | raw_http "$MCC_CONTENT_PORT" "$T/pipe.raw" 10
python3 - "$T/pipe.raw" "$ORIGIN_ROOT/s" <<'EOF' || fail "pipelined answers are wrong (see above)"
import hashlib, sys
raw, root = open(sys.argv[1], "rb").read(), sys.argv[2]
big, small = open(root + "/big.bin", "rb").read(), open(root + "/small.bin", "rb").read()
want = [(200, big), (200, small), (206, big[3000000:5000000]), (200, small)]
pos = 0
for i, (status, body) in enumerate(want):
    end = raw.index(b"\r\n\r\n", pos)
    head = raw[pos:end].decode("latin-1").split("\r\n")
    got = int(head[0].split()[1])
    length = next(int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:"))
    data = raw[end + 4:end + 4 + length]
    if got != status or hashlib.sha256(data).digest() != hashlib.sha256(body).digest():
        sys.exit("answer %d: status %d, %d bytes, not the expected %d" % (i + 1, got, len(data), status))
    pos = end + 4 + length
if pos != len(raw):
    sys.exit("%d bytes after the last answer" % (len(raw) - pos))
EOF
# the range, third on its connection, went through a sender too
assert_eq $((size + 2000000)) $(($(sender_bytes) - before)) \
    "bytes of the pipelined answers written by senders"

# a stop while a slow download is out: mccd ends the job and exits cleanly
stop_during_download "$url"

# no senders: the loop writes every body, the same bytes
with_threads 0
assert_eq 0 "$(sender_threads)" "sender threads of mccd with cache.send_threads 0"
downloads "no senders"
assert_eq 0 "$(sender_bytes)" "bytes written by senders with cache.send_threads 0"
assert_eq absent "$(cpu_ms mcc_sender_cpu_seconds_total)" "sender CPU with cache.send_threads 0"
[ "$(cpu_ms mcc_loop_cpu_seconds_total)" -gt 0 ] || fail "no loop CPU reported"
log "PASS"
