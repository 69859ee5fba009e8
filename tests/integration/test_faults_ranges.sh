#!/usr/bin/env bash
# An origin that answers ranges wrongly or changes the object between two slices (issue 9): a 206
# for another start, a Content-Range total that is impossible or a lie, a new version (new ETag;
# or a new length under the same ETag) between two slices, and a new version on the retry after
# a reset. Never bytes of two versions in one response, never a byte at the wrong offset;
# a 502 when the answer cannot be used; the next requests get one version whole.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"

MIB=1048576
size=$((3 * MIB + 777))
for n in start total lie etag length heal; do
    make_blob "$n.bin" "$size" >/dev/null
done
make_blob etag.bin.v2 "$size" >/dev/null # same length, new ETag
make_blob length.bin.v2 $((size + 99999)) >/dev/null # new length, same ETag: keep-validators
make_blob heal.bin.v2 $((size - 5000)) >/dev/null
start_fault_setup

# Fails unless OUT is a prefix of exactly one version (all of it when curl completed).
assert_one_version() { # OUT V1 V2 WHAT
    local n v
    n=$(stat -c %s "$1")
    for v in "$2" "$3"; do
        [ "$n" -le "$(stat -c %s "$v")" ] || continue
        cmp -s "$1" <(head -c "$n" "$v") || continue
        if [ "$FG_RC" = 0 ]; then
            assert_eq "$(stat -c %s "$v")" "$n" "$4: a complete answer has all of ${v##*/}"
        fi
        log "$4: $n bytes of $(basename "$v")"
        return 0
    done
    fail "$4: $n bytes that are no prefix of either version: two versions mixed"
}

# A range whose answer starts 1000 bytes later than asked: 502, nothing stored
fget wrong-start.1000.fault.test /start.bin "$T/start.f" -r 0-999
assert_eq 502 "$FG_CODE" "a 206 for another start"
fget wrong-start.1000.fault.test /start.bin "$T/start.f2" -r 2500000-2500999
assert_eq 502 "$FG_CODE" "a 206 for another start, later in the object"
fget origin.test /start.bin "$T/start.ok" -r 0-999
assert_eq 206 "$FG_CODE" "the clean range"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/start.bin" 0 999)" \
    "$(sha256sum <"$T/start.ok" | cut -d' ' -f1)" "bytes of the clean range"
fget origin.test /start.bin "$T/start.all"
assert_prefix_of "$T/start.all" "$ORIGIN_ROOT/start.bin" whole

# Content-Range total 5, below the range's own end: 502
fget wrong-total.5.fault.test /total.bin "$T/total.f" -r 0-999
assert_eq 502 "$FG_CODE" "a 206 whose total is below its end"
fget origin.test /total.bin "$T/total.ok"
assert_eq 200 "$FG_CODE" "the clean request after the impossible total"
assert_prefix_of "$T/total.ok" "$ORIGIN_ROOT/total.bin" whole
assert_cache_status "$T/total.ok.h" "fwd=miss; stored"

# a total that is a plausible lie (twice the size) cannot be seen at once; the bytes stay right,
# and the next requests find the truth (the length differs) and serve the real object
fget wrong-total.$((2 * size)).fault.test /lie.bin "$T/lie.f" -r 0-999
assert_eq 206 "$FG_CODE" "a range whose total is a lie"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/lie.bin" 0 999)" \
    "$(sha256sum <"$T/lie.f" | cut -d' ' -f1)" "bytes of the range under a lying total"
fget origin.test /lie.bin "$T/lie.1"
assert_one_version "$T/lie.1" "$ORIGIN_ROOT/lie.bin" "$ORIGIN_ROOT/lie.bin" "after the lie"
fget origin.test /lie.bin "$T/lie.2"
assert_eq 200 "$FG_CODE" "the second clean request after the lie"
assert_prefix_of "$T/lie.2" "$ORIGIN_ROOT/lie.bin" whole

# a new version between two slices: slice 0 of v1 is stored by a range, the rest comes as v2
for name in etag length; do
    host=change-after.1.fault.test
    [ "$name" = length ] && host=change-after.1.keep-validators.fault.test
    fget "$host" "/$name.bin" "$T/$name.r" -r 0-999
    assert_eq 206 "$FG_CODE" "$name: the cold range"
    cmp -s "$T/$name.r" <(head -c 1000 "$ORIGIN_ROOT/$name.bin") || fail "$name: range bytes"
    fget "$host" "/$name.bin" "$T/$name.1"
    assert_one_version "$T/$name.1" "$ORIGIN_ROOT/$name.bin" "$ORIGIN_ROOT/$name.bin.v2" \
        "$name: across the change"
    fget "$host" "/$name.bin" "$T/$name.2"
    assert_eq 200 "$FG_CODE" "$name: the request after the change"
    assert_prefix_of "$T/$name.2" "$ORIGIN_ROOT/$name.bin.v2" whole
    fget "$host" "/$name.bin" "$T/$name.3"
    assert_prefix_of "$T/$name.3" "$ORIGIN_ROOT/$name.bin.v2" whole
    assert_cache_status "$T/$name.3.h" hit
done

# a reset after 1.5 MB, and the retry finds version 2: the heal must not stitch v2 onto v1
host=reset-after.1500000.change-after.1.fault.test
fget "$host" /heal.bin "$T/heal.1"
assert_one_version "$T/heal.1" "$ORIGIN_ROOT/heal.bin" "$ORIGIN_ROOT/heal.bin.v2" \
    "heal across a version change"
for i in 2 3; do
    fget "$host" /heal.bin "$T/heal.$i"
    assert_one_version "$T/heal.$i" "$ORIGIN_ROOT/heal.bin" "$ORIGIN_ROOT/heal.bin.v2" \
        "heal.bin, request $i"
    [ "$FG_RC" = 0 ] && break
done
assert_eq 0 "$FG_RC" "heal.bin: a complete response within three requests"
assert_prefix_of "$T/heal.$i" "$ORIGIN_ROOT/heal.bin.v2" whole

stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
