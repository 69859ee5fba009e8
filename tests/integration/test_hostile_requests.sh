#!/usr/bin/env bash
# Hostile requests on the content port: malformed request lines and headers, smuggling shapes
# (Content-Length with Transfer-Encoding, duplicate Content-Length), huge headers and URLs,
# absolute URIs with userinfo or odd ports, IPv6 literals, bad and overlapping ranges. Each gets
# a clear 4xx (or a closed connection; ranges their RFC 9110 answer), never a second response
# smuggled behind the first, and after each one a good request still gets 200 and the right
# bytes. Raw bytes go out through python3 sockets (curl would fix them up): hostile_requests.py
# has the cases. HOSTILE_GROUP=pending runs the cases mccd does not pass yet (see
# test_hostile_requests_pending.sh.pending).
source "$(dirname "$0")/lib.sh"

SIZE=300000
sum=$(make_blob ok.bin $SIZE)
start_origin
umask 022 # the usual one: the modes below are the ones mccd asks for, not a umask's doing
start_mccd
# warm the cache: the good request of every case is then a hit
assert_eq 200 "$(cache_get origin.test /ok.bin "$T/warm")" "first fetch"
assert_sha256 "$T/warm" "$sum"
# what an attacker with a shell on the gateway (not the mcc user) can read of the cache: nothing
# (files 0640, folders 0750, names are SHA-256 digests, no part of a URL)
files=$(find "$T/cache/cache1" -type f | wc -l)
[ "$files" -ge 2 ] || fail "expected the object's .data and .meta files, found $files files"
assert_eq "" "$(find "$T/cache/cache1" -type f ! -perm 0640)" "cache files not 0640"
assert_eq "" "$(find "$T/cache/cache1" -type d ! -perm 0750)" "cache folders not 0750"
odd=$(find "$T/cache/cache1" -type f | grep -vE '/[0-9a-f]{2}/[0-9a-f]{64}\.(data|meta)$' || true)
assert_eq "" "$odd" "cache file names other than <2 hex>/<64 hex>.data|.meta"

run python3 "$(dirname "$0")/hostile_requests.py" "$MCC_CONTENT_PORT" "$T/origin/ok.bin" \
    "${HOSTILE_GROUP:-sound}"
printf '%s\n' "$RUN_OUT" >&2
[ -z "$RUN_ERR" ] || printf '%s\n' "$RUN_ERR" >&2
assert_rc 0 "hostile requests"
kill -0 "$MCCD_PID" || fail "mccd died"
# nothing of the hostile requests reached the origin: it saw /ok.bin only (the warm-up,
# revalidations: the blob has no validators that make it fresh for long, and the well-formed
# PUT, which the cache relays to the cacheable origin it names)
others=$(origin_settle; grep -vE '^(GET|PUT) /ok.bin ' "$ORIGIN_LOG" || true)
assert_eq "" "$others" "requests the origin saw besides /ok.bin"
