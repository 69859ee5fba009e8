#!/usr/bin/env bash
# A cold 1 MiB range in the middle of a 256 MiB object costs the origin at most two slices more
# than the range, a repeat costs nothing, and a full download afterwards fetches only the rest.
source "$(dirname "$0")/lib.sh"

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

MIB=1048576
SLICE=$MIB
size=$((256 * MIB))
sum=$(make_blob huge.bin "$size")
start_origin
src=$ORIGIN_ROOT/huge.bin
MCC_TEST_DISK_SIZE=512MiB start_mccd
url="$MCC_CONTENT/huge.bin?cacheHostOrigin=origin.test"

# 1 MiB from the middle, not slice-aligned: it touches two slices
first=$((128 * MIB + 300000))
last=$((first + MIB - 1))
code=$(curl -sS -D "$T/h1" -o "$T/r1" -w '%{http_code}' -H "Range: bytes=$first-$last" "$url")
assert_eq 206 "$code" "cold range"
assert_header "$T/h1" Content-Range "bytes $first-$last/$size"
assert_header "$T/h1" Content-Length "$MIB"
assert_cache_status "$T/h1" "fwd=miss; stored"
assert_eq "$(range_sha256 "$src" "$first" "$last")" "$(sha256sum <"$T/r1" | cut -d' ' -f1)" \
    "bytes of the cold range"
# the fetch let the client's first bytes out before it read on (transfer_yield)
assert_contains "$(cat "$T/mccd/mccd.log")" "huge.bin: clients first after" "yield after first bytes"
cold=$(origin_bytes 'GET /huge.bin ')
log "cold range of $MIB bytes cost the origin $cold bytes"
[ "$cold" -ge "$MIB" ] && [ "$cold" -le $((MIB + 2 * SLICE)) ] ||
    fail "a cold $MIB-byte range cost the origin $cold bytes (limit $((MIB + 2 * SLICE)))"

# the same range again, and one inside it: all from the cache
code=$(curl -sS -D "$T/h2" -o "$T/r2" -w '%{http_code}' -H "Range: bytes=$first-$last" "$url")
assert_eq 206 "$code" "repeated range"
assert_cache_status "$T/h2" "hit"
assert_eq "$(sha256sum <"$T/r1" | cut -d' ' -f1)" "$(sha256sum <"$T/r2" | cut -d' ' -f1)" \
    "bytes of the repeated range"
code=$(curl -sS -o "$T/r3" -w '%{http_code}' -H "Range: bytes=$((first + 1000))-$((first + 9999))" \
    "$url")
assert_eq 206 "$code" "range inside the stored one"
assert_eq "$(range_sha256 "$src" $((first + 1000)) $((first + 9999)))" \
    "$(sha256sum <"$T/r3" | cut -d' ' -f1)" "bytes of the inner range"
assert_eq "$cold" "$(origin_bytes 'GET /huge.bin ')" "origin bytes after the repeats"

# the whole object: only what was not stored is fetched (streamed into sha256sum, no copy)
got=$(curl -sS -D "$T/h4" -w '%{stderr}%{http_code}' "$url" 2>"$T/code4" | sha256sum |
    cut -d' ' -f1)
assert_eq 200 "$(cat "$T/code4")" "full download"
assert_eq "$sum" "$got" "sha256 of the full download"
assert_cache_status "$T/h4" "fwd=partial; stored"
total=$(origin_bytes 'GET /huge.bin ')
log "origin sent $total bytes in all for a $size-byte object"
[ "$total" -ge "$size" ] && [ "$total" -le $((size + SLICE)) ] ||
    fail "origin sent $total bytes in all (expected $size..$((size + SLICE)))"
# the requests after the cold one stayed off the stored slices (a full GET without Range would
# have brought them again)
stored_a=$((first / SLICE * SLICE)) stored_b=$(((last / SLICE + 1) * SLICE - 1))
n=0
while read -r line; do
    n=$((n + 1))
    [ "$n" -gt 1 ] || continue # the cold range itself
    [[ "$line" =~ range=bytes=([0-9]+)-([0-9]*)\  ]] || fail "origin asked without a range: $line"
    a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]:-$size}
    [ "$b" -lt "$stored_a" ] || [ "$a" -gt "$stored_b" ] ||
        fail "the full download asked the origin again for stored bytes: $line"
done < <(grep 'GET /huge.bin ' "$ORIGIN_LOG")
[ "$n" -ge 3 ] || fail "expected the cold range and two requests around it, got $n"

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
