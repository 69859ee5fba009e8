#!/usr/bin/env bash
# An object that changes upstream between two of its slices is never mixed: a client gets bytes
# of one version only (cut short when its length was promised), and the next request gets the
# new version whole. An object bigger than the disk passes through unstored.
source "$(dirname "$0")/lib.sh"

MCC_TEST_FRESHNESS=immutable # not revalidated: the change is only seen by a later slice fetch
MIB=1048576
size=$((4 * MIB))
make_blob same.bin "$size" >/dev/null
make_blob grow.bin "$size" >/dev/null
big_sum=$(make_blob big.bin $((80 * MIB)))
start_origin
start_mccd # a 64 MiB disk
url() { echo "$MCC_CONTENT/$1?cacheHostOrigin=origin.test"; }

# Fails unless FILE is a prefix of exactly one of the versions given (all of it when complete).
check_one_version() { # FILE VERSION...
    local f=$1 n v
    shift
    n=$(stat -c %s "$f")
    for v in "$@"; do
        [ "$n" -le "$(stat -c %s "$v")" ] || continue
        cmp -s "$f" <(head -c "$n" "$v") && return 0
    done
    fail "$f ($n bytes) is not a prefix of any one version: bytes of two versions mixed"
}

for name in same.bin grow.bin; do
    cp "$ORIGIN_ROOT/$name" "$T/$name.v1"
    # the first slice of version 1 is stored
    code=$(curl -sS -o "$T/$name.r" -w '%{http_code}' -r 0-1000 "$(url "$name")")
    assert_eq 206 "$code" "$name: cold range"
    cmp -s "$T/$name.r" <(head -c 1001 "$T/$name.v1") || fail "$name: bytes of the cold range"
    # version 2 replaces it upstream: new content (new ETag), for grow.bin a new length too
    sleep 1.1 # a new Last-Modified second as well
    len2=$size
    [ "$name" = grow.bin ] && len2=$((size + 123457))
    sum2=$(make_blob "$name" "$len2")
    cp "$ORIGIN_ROOT/$name" "$T/$name.v2"
    rc=0
    curl -sS -o "$T/$name.1" "$(url "$name")" 2>"$T/$name.err" || rc=$?
    log "$name: the GET across the change: curl exit $rc, $(stat -c %s "$T/$name.1") bytes"
    [ "$rc" = 0 ] || [ "$rc" = 18 ] || fail "$name: curl exit $rc: $(cat "$T/$name.err")"
    check_one_version "$T/$name.1" "$T/$name.v1" "$T/$name.v2"
    # the next request: version 2, whole
    code=$(curl -sS -o "$T/$name.2" -D "$T/$name.h" -w '%{http_code}' "$(url "$name")")
    assert_eq 200 "$code" "$name: GET after the change"
    assert_header "$T/$name.h" Content-Length "$len2"
    assert_sha256 "$T/$name.2" "$sum2"
    # and it stays: a hit
    code=$(curl -sS -o "$T/$name.3" -D "$T/$name.h3" -w '%{http_code}' "$(url "$name")")
    assert_eq 200 "$code" "$name: GET of the stored version 2"
    assert_sha256 "$T/$name.3" "$sum2"
    assert_cache_status "$T/$name.h3" hit
done

# bigger than the 64 MiB disk: served whole from the origin, not stored
for round in 1 2; do
    code=$(curl -sS -o "$T/big" -D "$T/big.h" -w '%{http_code}' "$(url big.bin)")
    assert_eq 200 "$code" "object bigger than the disk, GET $round"
    assert_sha256 "$T/big" "$big_sum"
    assert_header "$T/big.h" Content-Length $((80 * MIB))
    assert_cache_status "$T/big.h" "fwd=miss"
done
assert_eq 0 "$(find "$T/cache" -type f -size +60M | wc -l)" "files over 60 MiB in the cache"

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
