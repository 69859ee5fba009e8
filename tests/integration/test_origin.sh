#!/usr/bin/env bash
# The test origins themselves (mcc-test-origin and nginx): exact bytes, Range, validators, the
# request log the other tests sum, pacing and faults. Other tests rely on all of this.
source "$(dirname "$0")/lib.sh"

sum=$(make_blob dir/blob.bin 1000000)
make_blob empty.bin 0 >/dev/null
start_origin
base=http://$ORIGIN_ADDR

# whole file, HEAD, validators
curl -sS -D "$T/h1" -o "$T/full" "$base/dir/blob.bin"
assert_sha256 "$T/full" "$sum"
headers=$(tr -d '\r' <"$T/h1")
assert_contains "$headers" "HTTP/1.1 200" "GET headers"
assert_contains "$headers" "Content-Length: 1000000" "GET headers"
assert_contains "$headers" "Accept-Ranges: bytes" "GET headers"
etag=$(sed -n 's/^ETag: //p' <<<"$headers")
[[ "$etag" =~ ^\"[^\"]+\"$ ]] || fail "ETag not quoted: '$etag'"
lastmod=$(sed -n 's/^Last-Modified: //p' <<<"$headers")
assert_ne "" "$lastmod" "Last-Modified"
head=$(curl -sS -I "$base/dir/blob.bin" | tr -d '\r')
assert_contains "$head" "Content-Length: 1000000" "HEAD headers"
assert_contains "$head" "ETag: $etag" "HEAD headers"

# ranges: bounded, open-ended, suffix, unsatisfiable
curl -sS -D "$T/h2" -o "$T/part" -r 1000-1999 "$base/dir/blob.bin"
assert_contains "$(tr -d '\r' <"$T/h2")" "Content-Range: bytes 1000-1999/1000000" "206 headers"
assert_contains "$(tr -d '\r' <"$T/h2")" "HTTP/1.1 206" "206 status"
cmp -s "$T/part" <(tail -c +1001 "$ORIGIN_ROOT/dir/blob.bin" | head -c 1000) ||
    fail "bytes 1000-1999 differ"
assert_eq 999000 "$(curl -sS -o /dev/null -w '%{size_download}' -r 1000- "$base/dir/blob.bin")" \
    "open-ended range size"
assert_eq 10 "$(curl -sS -o /dev/null -w '%{size_download}' -r -10 "$base/dir/blob.bin")" \
    "suffix range size"
curl -sS -D "$T/h3" -o /dev/null -r 1000000- "$base/dir/blob.bin"
assert_contains "$(tr -d '\r' <"$T/h3")" "HTTP/1.1 416" "unsatisfiable range"
assert_contains "$(tr -d '\r' <"$T/h3")" "Content-Range: bytes */1000000" "416 Content-Range"

# conditionals
assert_status 304 "$base/dir/blob.bin" -H "If-None-Match: $etag"
assert_status 200 "$base/dir/blob.bin" -H 'If-None-Match: "other"'
assert_status 304 "$base/dir/blob.bin" -H "If-Modified-Since: $lastmod"
assert_status 206 "$base/dir/blob.bin" -r 0-9 -H "If-Range: $etag"
assert_status 200 "$base/dir/blob.bin" -r 0-9 -H 'If-Range: "stale"'
assert_status 404 "$base/missing.bin"
assert_status 404 "$base/dir"
assert_status 404 "$base/%2e%2e/%2e%2e/etc/passwd" --path-as-is
assert_status 200 "$base/empty.bin"

# the log: one line per request, bytes exactly what was sent
# the first GET and the one with a non-matching If-None-Match
assert_eq 2 "$(origin_requests 'GET /dir/blob.bin range=- status=200 bytes=1000000 ')" \
    "log lines of full GETs"
assert_eq 1 "$(origin_requests 'range=bytes=1000-1999 status=206 bytes=1000 ')" \
    "log line of the ranged GET"
# full 1000000 + 1000 + 999000 + 10 + 200 (If-None-Match other) + 206 (10) + 200 (If-Range stale)
assert_eq $((1000000 + 1000 + 999000 + 10 + 1000000 + 10 + 1000000)) "$(origin_bytes)" \
    "body bytes in the origin log"
stop_pid "$ORIGIN_PID"
assert_eq 0 "$STOP_RC" "origin exit status after SIGTERM"

# pacing: 256 KiB at 512 KiB/s takes about half a second
: >"$ORIGIN_LOG"
make_blob paced.bin 262144 >/dev/null
start_origin --rate 512K
t=$(curl -sS -o "$T/paced" -w '%{time_total}' "http://$ORIGIN_ADDR/paced.bin")
cmp -s "$T/paced" "$ORIGIN_ROOT/paced.bin" || fail "paced body differs"
awk -v t="$t" 'BEGIN { exit !(t >= 0.4 && t < 3) }' || fail "256 KiB at 512 KiB/s took ${t}s"
stop_pid "$ORIGIN_PID"

# faults: a reset after exactly N bytes, and 200 for a ranged request
: >"$ORIGIN_LOG"
start_origin --fault reset-after=300000
rc=0
got=$(curl -sS -o "$T/cut" -w '%{size_download}' "http://$ORIGIN_ADDR/dir/blob.bin" 2>/dev/null) ||
    rc=$?
assert_eq 56 "$rc" "curl exit status on a reset (recv failure)"
assert_eq 300000 "$got" "bytes before the reset"
cmp -s "$T/cut" <(head -c 300000 "$ORIGIN_ROOT/dir/blob.bin") || fail "bytes before reset differ"
assert_eq 1 "$(origin_requests 'bytes=300000 end=reset')" "log line of the reset"
stop_pid "$ORIGIN_PID"

start_origin --fault ignore-range
code=$(curl -sS -o "$T/ign" -w '%{http_code}' -r 0-99 "http://$ORIGIN_ADDR/dir/blob.bin")
assert_eq 200 "$code" "status of a ranged GET under ignore-range"
assert_sha256 "$T/ign" "$sum"
stop_pid "$ORIGIN_PID"

# nginx as origin: same bytes, same log format for origin_bytes
: >"$ORIGIN_LOG"
start_nginx_origin
curl -sS -o "$T/ng" "http://$ORIGIN_ADDR/dir/blob.bin"
assert_sha256 "$T/ng" "$sum"
curl -sS -o "$T/ngp" -r 0-99 "http://$ORIGIN_ADDR/dir/blob.bin"
assert_eq 100 "$(stat -c %s "$T/ngp")" "nginx ranged body"
# nginx writes its access log line when the request ends; allow it a moment
for ((i = 0; i < 40; i++)); do
    [ "$(origin_requests 'GET /dir/blob.bin')" = 2 ] && break
    sleep 0.05
done
assert_eq $((1000000 + 100)) "$(origin_bytes)" "body bytes in the nginx log"
assert_eq 1 "$(origin_requests 'range=bytes=0-99 status=206 bytes=100')" "nginx log of the range"
