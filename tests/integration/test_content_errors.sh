#!/usr/bin/env bash
# What clients get when things go wrong: 403 for a host that is not cacheable, 502/504 within
# the connect timeout for an origin that cannot be reached, an origin 404 passed through and not
# stored, 400 for malformed targets (and the daemon keeps serving), a body broken off upstream
# (the client's connection closes short, the next request fetches only what is missing), and an
# origin that answers ranges with 200.
source "$(dirname "$0")/lib.sh"

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

MIB=1048576
SLICE=$MIB

# An origin whose listen backlog is full: connections to it hang in SYN-SENT (a silent host).
# Sets SILENT_PORT.
start_silent_listener() {
    python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
held = []
for _ in range(4):  # fill the accept queue; later SYNs are dropped
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.3)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % port)
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
' "$T/silent.port" &
    track_pid "$!" "silent listener"
    for ((i = 0; i < 100; i++)); do
        [ -s "$T/silent.port" ] && break
        sleep 0.05
    done
    SILENT_PORT=$(cat "$T/silent.port") || fail "silent listener did not start"
}

# Configuration: origin.test at the origin, dead.test at a closed port, silent.test at the
# silent listener; a 2 s connect timeout.
write_hosts_fragment() { # FILE
    cat >"$1" <<EOF
{
  "fetch": { "connect_timeout": "2s" },
  "plugins": { "hosts": { "config": { "custom": [
    { "host": "origin.test", "canonical": "origin", "connect_to": "$ORIGIN_ADDR",
      "freshness": "immutable" },
    { "host": "dead.test", "canonical": "dead", "connect_to": "127.0.0.1:$DEAD_PORT" },
    { "host": "silent.test", "canonical": "silent", "connect_to": "127.0.0.1:$SILENT_PORT" }
  ] } } }
}
EOF
}

# GET through mccd in the Delivery Optimization form; prints "status seconds".
timed_get() { # HOST PATH OUT [curl options...]
    local host=$1 path=$2 out=$3
    shift 3
    curl -sS -o "$out" -D "$out.h" -w '%{http_code} %{time_total}\n' "$@" \
        "$MCC_CONTENT$path?cacheHostOrigin=$host"
}

ok_sum=$(make_blob ok.bin 100000)
start_origin
DEAD_PORT=$(free_port)
start_silent_listener
write_hosts_fragment "$T/70-hosts.json"
start_mccd "$T/70-hosts.json"

# --- not cacheable: 403 with a short text body, nothing asked upstream -------------------------
read -r code _ < <(timed_get not-cacheable.example /x.bin "$T/f403")
assert_eq 403 "$code" "a host that is not cacheable"
assert_header "$T/f403.h" Content-Type text/plain
body=$(cat "$T/f403")
assert_ne "" "$body" "403 body"
[ "${#body}" -lt 200 ] || fail "403 body is not short: ${#body} bytes"
assert_status 403 "$MCC_CONTENT/some/path.bin" # no origin named at all

# --- unreachable origins: 502 at once for a refused connection, 502/504 within the timeout ----
read -r code secs < <(timed_get dead.test /x.bin "$T/f502")
log "refused origin: $code after ${secs}s"
assert_eq 502 "$code" "an origin that refuses connections"
awk -v t="$secs" 'BEGIN { exit !(t < 4) }' || fail "502 took ${secs}s"
read -r code secs < <(timed_get silent.test /x.bin "$T/f504")
log "silent origin: $code after ${secs}s (connect timeout 2s)"
[ "$code" = 502 ] || [ "$code" = 504 ] || fail "a silent origin answered $code, expected 502/504"
awk -v t="$secs" 'BEGIN { exit !(t >= 1.5 && t < 4) }' ||
    fail "the silent origin's answer took ${secs}s (connect timeout 2s, limit 4s)"

# --- an origin 404 passes through and is not remembered ----------------------------------------
read -r code _ < <(timed_get origin.test /later.bin "$T/f404")
assert_eq 404 "$code" "a file the origin does not have"
read -r code _ < <(timed_get origin.test /later.bin "$T/f404b")
assert_eq 404 "$code" "the same file again"
assert_eq 2 "$(origin_requests 'GET /later.bin ')" "origin requests for the missing file"
later_sum=$(make_blob later.bin 70000)
read -r code _ < <(timed_get origin.test /later.bin "$T/later")
assert_eq 200 "$code" "the file once the origin has it"
assert_sha256 "$T/later" "$later_sum"

# --- malformed requests: 400, the daemon keeps serving ----------------------------------------
bad_targets=(
    '/../etc/passwd'
    '/../etc/passwd?cacheHostOrigin=origin.test'
    '/a/../../etc/passwd?cacheHostOrigin=origin.test'
    '/%2e%2e/%2e%2e/etc/passwd?cacheHostOrigin=origin.test'
    '/ok%zz.bin?cacheHostOrigin=origin.test'
    '/ok%2.bin?cacheHostOrigin=origin.test'
    '/ok%00.bin?cacheHostOrigin=origin.test'
    'http://user@origin.test/ok.bin'
)
for target in "${bad_targets[@]}"; do
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$target" |
        raw_http "$MCC_CONTENT_PORT" "$T/bad.raw"
    status=$(head -n 1 "$T/bad.raw" | tr -d '\r')
    assert_eq "HTTP/1.1 400 Bad Request" "$status" "answer to GET $target"
    kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died on GET $target"
done
assert_eq 0 "$(origin_requests 'passwd')" "origin requests for passwd"
read -r code _ < <(timed_get origin.test /ok.bin "$T/ok")
assert_eq 200 "$code" "a good request after the bad ones"
assert_sha256 "$T/ok" "$ok_sum"

# --- a body broken off upstream -------------------------------------------------------------
size=$((8 * MIB))
cut=$((5 * MIB / 2))

# Restarts origin and mccd with the origin resetting the first COUNT GETs after CUT bytes.
restart_with_resets() { # COUNT
    stop_pid "$MCCD_PID" 10
    assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
    stop_pid "$ORIGIN_PID"
    : >"$ORIGIN_LOG"
    start_origin --fault "reset-after=$cut" --fault-count "$1"
    write_hosts_fragment "$T/70-hosts.json"
    start_mccd "$T/70-hosts.json"
}

# Checks that the origin's requests for NAME after the first SKIP of them started where the
# stored slices end and fetched only the rest (within a slice); sets STORED.
check_rest_fetched() { # NAME SKIP
    local rest bytes
    rest=$(grep "GET /$1 " "$ORIGIN_LOG" | tail -n +$(($2 + 1)))
    [[ "$rest" =~ range=bytes=([0-9]+)- ]] ||
        fail "the fetch of the rest asked without a range: $rest"
    STORED=${BASH_REMATCH[1]}
    bytes=$(sed -n 's/.* bytes=\([0-9]*\) .*/\1/p' <<<"$rest" |
        awk '{ s += $1 } END { print s + 0 }')
    log "$1: $STORED bytes kept, $bytes fetched afterwards"
    assert_eq 0 $((STORED % SLICE)) "start of the fetch of the rest of $1"
    [ "$bytes" -le $((size - STORED + SLICE)) ] && [ "$bytes" -ge $((size - STORED)) ] ||
        fail "fetched $bytes bytes of $1 afterwards, expected" \
            "$((size - STORED))..$((size - STORED + SLICE))"
}

# one reset: mccd fetches the rest within the same response, the client sees nothing of it
heal_sum=$(make_blob heal.bin "$size")
restart_with_resets 1
code=$(curl -sS -o "$T/heal" -w '%{http_code}' "$MCC_CONTENT/heal.bin?cacheHostOrigin=origin.test")
assert_eq 200 "$code" "download through one upstream reset"
assert_sha256 "$T/heal" "$heal_sum"
assert_eq 1 "$(origin_requests "GET /heal.bin .* bytes=$cut end=reset")" "the origin's reset"
check_rest_fetched heal.bin 1
[ "$STORED" -ge $(((cut / SLICE - 1) * SLICE)) ] || fail "only $STORED bytes kept of $cut"

# resets on every retry: the client's connection closes before the promised length, and the
# next request completes the object fetching only what is missing
reset_sum=$(make_blob reset.bin "$size")
restart_with_resets 3
rc=0
curl -sS -o "$T/cut" "$MCC_CONTENT/reset.bin?cacheHostOrigin=origin.test" 2>"$T/cut.err" || rc=$?
assert_eq 18 "$rc" "curl exit status for a body cut short ($(cat "$T/cut.err"))"
got=$(stat -c %s "$T/cut")
[ "$got" -lt "$size" ] || fail "the cut download has all $got bytes"
cmp -s "$T/cut" <(head -c "$got" "$ORIGIN_ROOT/reset.bin") || fail "bytes before the cut differ"
assert_eq 3 "$(origin_requests "GET /reset.bin .* bytes=$cut end=reset")" "the origin's resets"
code=$(curl -sS -o "$T/whole" -D "$T/whole.h" -w '%{http_code}' \
    "$MCC_CONTENT/reset.bin?cacheHostOrigin=origin.test")
assert_eq 200 "$code" "the download after the cut"
assert_sha256 "$T/whole" "$reset_sum"
assert_cache_status "$T/whole.h" "fwd=partial; stored"
check_rest_fetched reset.bin 3
[ "$STORED" -ge "$got" ] || [ "$STORED" -ge $((got / SLICE * SLICE)) ] ||
    fail "only $STORED bytes kept, the client had received $got"

stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
stop_pid "$ORIGIN_PID"

# --- an origin that answers every range with 200 -----------------------------------------------
: >"$ORIGIN_LOG"
size=$((6 * MIB + 12345))
ign_sum=$(make_blob ignore.bin "$size")
start_origin --fault ignore-range
write_hosts_fragment "$T/70-hosts.json"
start_mccd "$T/70-hosts.json"
first=3000000 last=4500000
code=$(curl -sS -o "$T/ign" -D "$T/ign.h" -w '%{http_code}' -H "Range: bytes=$first-$last" \
    "$MCC_CONTENT/ignore.bin?cacheHostOrigin=origin.test")
assert_eq 206 "$code" "a cold range from an origin that ignores ranges"
assert_header "$T/ign.h" Content-Range "bytes $first-$last/$size"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/ignore.bin" "$first" "$last")" \
    "$(sha256sum <"$T/ign" | cut -d' ' -f1)" "bytes of the range"
grep -q 'GET /ignore.bin range=bytes=.* status=200 ' "$ORIGIN_LOG" ||
    fail "the origin did not answer a ranged request with 200: $(cat "$ORIGIN_LOG")"
code=$(curl -sS -o "$T/ignall" -w '%{http_code}' \
    "$MCC_CONTENT/ignore.bin?cacheHostOrigin=origin.test")
assert_eq 200 "$code" "the whole object afterwards"
assert_sha256 "$T/ignall" "$ign_sum"
code=$(curl -sS -o "$T/ign2" -w '%{http_code}' -H 'Range: bytes=-5000' \
    "$MCC_CONTENT/ignore.bin?cacheHostOrigin=origin.test")
assert_eq 206 "$code" "a suffix range of the stored object"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/ignore.bin" $((size - 5000)) $((size - 1)))" \
    "$(sha256sum <"$T/ign2" | cut -d' ' -f1)" "bytes of the suffix range"

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
