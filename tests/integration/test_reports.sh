#!/usr/bin/env bash
# Reports end to end: after a known sequence of downloads (full, ranged, partly cached, aborted)
# /summary's lifetime hit and miss bytes equal what the clients received from cache and
# from upstream, to the byte; the 1 s report period rolls over and its history adds up to the
# lifetime; /metrics agrees and passes `promtool check metrics`; /healthz and /readyz answer.
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null 2>&1 ||
    skip "promtool (Debian's prometheus package) is not installed"

# VALUE of the Python expression EXPR over the JSON document in FILE (bound to j).
jget() { # FILE EXPR
    python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
if isinstance(v, (dict, list, bool)):
    v = json.dumps(v)
elif isinstance(v, float) and v == int(v):
    v = int(v)
print(v)' "$1" "$2"
}

# Sum of the hit= (or miss=) fields of the access log lines matching PATTERN.
log_sum() { # hit|miss PATTERN
    { grep -e "$2" "$MCC_ACCESS_LOG" || true; } |
        sed -n "s/.* $1=\([0-9]*\).*/\1/p" | awk '{ s += $1 } END { print s + 0 }'
}

# Waits until the access log has N lines (a request is logged when its response ends).
wait_log_lines() { # N
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(wc -l <"$MCC_ACCESS_LOG")" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "access log has $(wc -l <"$MCC_ACCESS_LOG") lines, expected $1"
}

sha_a=$(make_blob a.bin 3000000)
sha_b=$(make_blob b.bin 5000000)
make_blob c.bin 12582912 >/dev/null
start_origin
cat >"$T/period.json" <<'EOF'
{ "summary": { "period": "1s" } }
EOF
start_mccd "$T/period.json"
A=$MCC_ADMIN

# --- health -------------------------------------------------------------------------------------
assert_eq "ok" "$(curl -sS "$A/healthz")" "/healthz"
assert_eq "ready" "$(curl -sS "$A/readyz")" "/readyz"

# --- before any traffic: zeros, ratio 0 --------------------------------------------------------
curl -sS "$A/summary" >"$T/s0.json"
assert_eq 0 "$(jget "$T/s0.json" 'j["lifetime"]["egressBytes"]')" "lifetime egress before traffic"
assert_eq 0 "$(jget "$T/s0.json" 'j["lifetime"]["hitRatioBytes"]')" "ratio with nothing sent"
assert_ne "" "$(jget "$T/s0.json" 'j["nodeId"]')" "nodeId"

# --- the known sequence -------------------------------------------------------------------------
exp_hit=0
exp_miss=0
got_bytes=0
get() { # HOST PATH OUT [curl options]: downloads, adds what the client got to got_bytes
    local code
    code=$(cache_get "$@")
    case "$code" in 200 | 206) ;; *) fail "$2: status $code" ;; esac
    got_bytes=$((got_bytes + $(stat -c %s "$3")))
}

get origin.test /a.bin "$T/a1" # full, miss
assert_sha256 "$T/a1" "$sha_a"
exp_miss=$((exp_miss + 3000000))
get origin.test /a.bin "$T/a2" # full, hit
assert_sha256 "$T/a2" "$sha_a"
exp_hit=$((exp_hit + 3000000))
get origin.test /a.bin "$T/a3" -r 1000-1999999 # ranged, hit
cmp -s "$T/a3" <(tail -c +1001 "$ORIGIN_ROOT/a.bin" | head -c 1999000) ||
    fail "range of a.bin differs"
exp_hit=$((exp_hit + 1999000))
get origin.test /b.bin "$T/b1" -r 0-1048575 # ranged miss: exactly slice 0
cmp -s "$T/b1" <(head -c 1048576 "$ORIGIN_ROOT/b.bin") || fail "first slice of b.bin differs"
exp_miss=$((exp_miss + 1048576))
get origin.test /b.bin "$T/b2" # partly cached: slice 0 from disk, the rest fetched
assert_sha256 "$T/b2" "$sha_b"
exp_hit=$((exp_hit + 1048576))
exp_miss=$((exp_miss + 5000000 - 1048576))
wait_log_lines 5
assert_eq "$exp_hit" "$(log_sum hit .)" "access log hit bytes of the known requests"
assert_eq "$exp_miss" "$(log_sum miss .)" "access log miss bytes of the known requests"
assert_eq "$((exp_hit + exp_miss))" "$got_bytes" "bytes the clients received"

# Aborted downloads: the client reads part of the body and closes. What it read must be counted;
# what the cache handed to the kernel beyond that (socket buffers) may be counted too.
abort_get() { # PATH BYTES: prints the body bytes the client read before it closed
    python3 - "$MCC_CONTENT_PORT" "$1" "$2" <<'EOF'
import socket, sys, time
port, path, want = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
s.connect(("127.0.0.1", port))
req = "GET %s?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path
s.sendall(req.encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("closed before the headers")
    buf += chunk
body = len(buf.split(b"\r\n\r\n", 1)[1])
while body < want:
    chunk = s.recv(min(65536, want - body))
    if not chunk:
        break
    body += len(chunk)
time.sleep(0.3)  # the cache fills the socket buffers meanwhile and stalls mid-chunk
s.close()
print(body)
EOF
}
get origin.test /c.bin "$T/c1" # full miss: c.bin is now stored
rm -f "$T/c1"
# an aborted hit, early in the second 4 MiB sendfile chunk (MCC_TEST_ABORT_AT moves it)
read_hit=$(abort_get /c.bin "${MCC_TEST_ABORT_AT:-5000000}")
wait_log_lines 7
line=$(tail -n 1 "$MCC_ACCESS_LOG")
counted=$(sed -n 's/.* hit=\([0-9]*\) miss=\([0-9]*\).*/\1/p' <<<"$line")
log "aborted hit: client read $read_hit bytes, cache counted $counted: $line"
[ "$counted" -le 12582912 ] || fail "aborted hit counted $counted bytes of a 12582912-byte object"
if [ "$counted" -lt "$read_hit" ]; then
    fail "aborted hit miscounted: the client read $read_hit bytes, the cache counted $counted"
fi

# --- lifetime: what the clients received, to the byte ------------------------------------------
all_hit=$(log_sum hit .)
all_miss=$(log_sum miss .)
curl -sS "$A/summary" >"$T/s1.json"
assert_eq "$all_hit" "$(jget "$T/s1.json" 'j["lifetime"]["hitBytes"]')" "lifetime hitBytes"
assert_eq "$all_miss" "$(jget "$T/s1.json" 'j["lifetime"]["missBytes"]')" "lifetime missBytes"
assert_eq "$((all_hit + all_miss))" "$(jget "$T/s1.json" 'j["lifetime"]["egressBytes"]')" \
    "lifetime egressBytes"
assert_eq "$(python3 -c "print(round($all_hit / ($all_hit + $all_miss), 6))")" \
    "$(jget "$T/s1.json" 'j["lifetime"]["hitRatioBytes"]')" "lifetime hitRatioBytes"
assert_eq 7 "$(jget "$T/s1.json" 'j["lifetime"]["requests"]')" "lifetime requests"
# the miss bytes sent are the bytes the origin sent (nothing fetched twice, nothing lost)
assert_eq "$(origin_bytes)" "$((exp_miss + 12582912))" "origin body bytes"

# --- periods: they roll over every second, and their history adds up to the lifetime ----------
for ((i = 0; i < 60; i++)); do # traffic has stopped: an idle period must close
    curl -sS "$A/summary" >"$T/s2.json"
    [ "$(jget "$T/s2.json" 'j["period"]["totalEgressBytes"]')" = 0 ] && break
    sleep 0.1
done
assert_eq 0 "$(jget "$T/s2.json" 'j["period"]["totalEgressBytes"]')" "an idle period"
assert_eq 1 "$(jget "$T/s2.json" 'j["period"]["seconds"]')" "period length"
end1=$(jget "$T/s2.json" 'j["period"]["end"]')
sleep 1.3
curl -sS "$A/summary" >"$T/s3.json"
end2=$(jget "$T/s3.json" 'j["period"]["end"]')
[[ "$end2" > "$end1" ]] || fail "the period did not roll over: end $end1 then $end2"
curl -sS "$A/summary/history" >"$T/h.json"
assert_eq "$all_hit" "$(jget "$T/h.json" 'sum(p["hitBytes"] for p in j["periods"])')" \
    "hit bytes of all periods"
assert_eq "$all_miss" "$(jget "$T/h.json" 'sum(p["missBytes"] for p in j["periods"])')" \
    "miss bytes of all periods"
busy=$(jget "$T/h.json" 'max(j["periods"], key=lambda p: p["hitBytes"] + p["missBytes"])')
log "busiest period: $busy"
[ "$(jget "$T/h.json" 'len(j["periods"])')" -ge 3 ] || fail "fewer than 3 periods in the history"

# per-second figures of a period are its totals divided by its length
python3 - "$T/h.json" <<'EOF' || fail "a period's figures do not add up"
import json, sys
for p in json.load(open(sys.argv[1]))["periods"]:
    e = p["hitBytes"] + p["missBytes"]
    r = round(p["hitBytes"] / e, 6) if e else 0
    assert p["hitRatioBytes"] == r, p
EOF

# --- /metrics: valid, and the same numbers -----------------------------------------------------
curl -sS -D "$T/m.hdr" "$A/metrics" >"$T/metrics.txt"
assert_contains "$(cat "$T/m.hdr")" "text/plain; version=0.0.4" "metrics content type"
run promtool check metrics <"$T/metrics.txt"
assert_rc 0 "promtool check metrics"
m() { # SERIES: its value in the scrape
    awk -v s="$1" '$1 == s { print $2 }' "$T/metrics.txt"
}
assert_eq "$all_hit" "$(m 'mcc_sent_bytes_total{source="hit"}')" "sent hit bytes metric"
assert_eq "$all_miss" "$(m 'mcc_sent_bytes_total{source="miss"}')" "sent miss bytes metric"
version=$("$MCCD" --version | awk '{print $2}')
assert_eq 1 "$(m "mcc_build_info{version=\"$version\",abi=\"1.0\"}")" "build info"
drive=$T/cache/cache1
# a drive's use is counted in 4 KiB blocks of both files of each object: at least the three
# objects' lengths, at most three blocks more per object
used=$(m "mcc_storage_used_bytes{drive=\"$drive\"}")
lengths=$((3000000 + 5000000 + 12582912))
[ "$used" -ge "$lengths" ] && [ "$used" -le $((lengths + 3 * 3 * 4096)) ] ||
    fail "used bytes of the drive: $used, expected $lengths .. $((lengths + 3 * 3 * 4096))"
assert_eq 3 "$(m "mcc_storage_objects{drive=\"$drive\"}")" "objects stored"
assert_eq "$((64 * 1048576))" "$(m "mcc_storage_capacity_bytes{drive=\"$drive\"}")" "capacity"
assert_eq 0 "$(m "mcc_storage_evictions_total{drive=\"$drive\"}")" "evictions"
assert_eq 0 "$(m mcc_upstream_transfers_in_flight)" "transfers in flight when idle"
assert_eq 0 "$(m mcc_storage_checksum_failures_total)" "checksum failures"
for family in mcc_requests_total mcc_request_duration_seconds_bucket \
    mcc_coalesced_requests_total mcc_upstream_received_bytes_total mcc_storage_drive_writable; do
    grep -q "^$family" "$T/metrics.txt" || fail "no $family in /metrics"
done
coalesced=$(m mcc_coalesced_requests_total)
[ "$coalesced" = 0 ] ||
    log "NOTE: $coalesced coalesced requests counted for one-at-a-time downloads"
assert_eq 7 "$(awk '/^mcc_requests_total\{status_class="2xx",cache="/ { s += $2 } END { print s }' \
    "$T/metrics.txt")" "2xx requests in /metrics"
