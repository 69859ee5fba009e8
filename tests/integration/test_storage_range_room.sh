#!/usr/bin/env bash
# A range of a large object takes the drive room of the slices it stores, not of the whole
# object: on a drive with little room left it evicts nothing, and the objects stored before it
# are still hits. Downloading the whole large object afterwards makes room slice by slice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"

MCC_TEST_FRESHNESS=immutable
MIB=1048576
declare -A sums
for i in 1 2 3 4; do
    sums[$i]=$(make_blob "small$i.bin" "$MIB")
done
big_size=$((28 * MIB))
big_sum=$(make_blob big.bin "$big_size")
start_origin
# 32 MiB: the four small objects and the whole large one do not fit together
MCC_TEST_DISK_SIZE=32MiB start_mccd

for i in 1 2 3 4; do
    assert_eq 200 "$(cache_get origin.test "/small$i.bin" "$T/s$i")" "small$i, cold"
    assert_sha256 "$T/s$i" "${sums[$i]}"
done
small_bytes=$(origin_bytes 'GET /small')
assert_eq $((4 * MIB)) "$small_bytes" "origin bytes of the small objects"

# 1 MiB in the middle of the large object, not slice-aligned: two slices stored
first=$((14 * MIB + 4096))
last=$((first + MIB - 1))
assert_eq 206 "$(cache_get origin.test /big.bin "$T/r1" -H "Range: bytes=$first-$last")" \
    "cold range of the large object"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/big.bin" "$first" "$last")" \
    "$(sha256sum <"$T/r1" | cut -d' ' -f1)" "bytes of the range"
assert_eq 0 "$(storage_metric mcc_storage_evictions_total)" "evictions after the range"
used=$(storage_metric mcc_storage_used_bytes)
log "drive usage after 4 small objects and one range: $used bytes"
[ "${used%.*}" -le $((7 * MIB)) ] || fail "usage $used after 4 MiB and a 2-slice range"

# the small objects are hits: the origin sees nothing more of them
for i in 1 2 3 4; do
    assert_eq 200 "$(cache_get origin.test "/small$i.bin" "$T/h$i" -D "$T/hh$i")" "small$i again"
    assert_sha256 "$T/h$i" "${sums[$i]}"
    assert_cache_status "$T/hh$i" "hit"
done
assert_eq "$small_bytes" "$(origin_bytes 'GET /small')" "origin bytes of the small objects after"

# the whole large object: stored slice by slice, room made as it goes
got=$(curl -sS -w '%{stderr}%{http_code}' "$MCC_CONTENT/big.bin?cacheHostOrigin=origin.test" \
    2>"$T/code" | sha256sum | cut -d' ' -f1)
assert_eq 200 "$(cat "$T/code")" "full download of the large object"
assert_eq "$big_sum" "$got" "sha256 of the large object"
evicted=$(storage_metric mcc_storage_evictions_total)
used=$(storage_metric mcc_storage_used_bytes)
log "after the whole large object: $evicted evictions, $used bytes used"
[ "${evicted%.*}" -ge 1 ] || fail "the large object was stored without evicting anything"
[ "${used%.*}" -le $((32 * MIB)) ] || fail "usage $used above the drive's 32 MiB"
log "ok"
