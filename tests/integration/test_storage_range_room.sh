#!/usr/bin/env bash
# A range of a large object takes the storage room of the slices it stores, not of the whole
# object: with little room left it evicts nothing, and the objects stored before it are still
# hits. Downloading the whole large object afterwards makes room slice by slice. On the disk
# backend, then on the memory backend.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"

MCC_TEST_FRESHNESS=immutable
MIB=1048576
BIG=$((28 * MIB))
declare -A sums
for b in disk memory; do
    for i in 1 2 3 4; do
        sums[$b$i]=$(make_blob "$b/small$i.bin" "$MIB")
    done
    sums[${b}big]=$(make_blob "$b/big.bin" "$BIG")
done
start_origin

scenario() { # BACKEND USED_METRIC EVICTIONS_METRIC
    local b=$1 used_m=$2 evict_m=$3 i used evicted got
    # 32 MiB: the four small objects and the whole large one do not fit together
    MCC_TEST_STORAGE=$b MCC_TEST_DISK_SIZE=32MiB start_mccd
    for i in 1 2 3 4; do
        assert_eq 200 "$(cache_get origin.test "/$b/small$i.bin" "$T/s$i")" "$b: small$i, cold"
        assert_sha256 "$T/s$i" "${sums[$b$i]}"
    done
    local small_bytes
    small_bytes=$(origin_bytes "GET /$b/small")
    assert_eq $((4 * MIB)) "$small_bytes" "$b: origin bytes of the small objects"

    # 1 MiB in the middle of the large object, not slice-aligned: two slices stored
    local first=$((14 * MIB + 4096))
    local last=$((first + MIB - 1))
    assert_eq 206 "$(cache_get origin.test "/$b/big.bin" "$T/r1" -H "Range: bytes=$first-$last")" \
        "$b: cold range of the large object"
    assert_eq "$(range_sha256 "$ORIGIN_ROOT/$b/big.bin" "$first" "$last")" \
        "$(sha256sum <"$T/r1" | cut -d' ' -f1)" "$b: bytes of the range"
    assert_eq 0 "$(storage_metric "$evict_m")" "$b: evictions after the range"
    used=$(storage_metric "$used_m")
    log "$b: usage after 4 small objects and one range: $used bytes"
    [ "${used%.*}" -le $((7 * MIB)) ] || fail "$b: usage $used after 4 MiB and a 2-slice range"

    # the small objects are hits: the origin sees nothing more of them
    for i in 1 2 3 4; do
        assert_eq 200 "$(cache_get origin.test "/$b/small$i.bin" "$T/h$i" -D "$T/hh$i")" \
            "$b: small$i again"
        assert_sha256 "$T/h$i" "${sums[$b$i]}"
        assert_cache_status "$T/hh$i" "hit"
    done
    assert_eq "$small_bytes" "$(origin_bytes "GET /$b/small")" "$b: small objects' origin bytes"

    # the whole large object: stored slice by slice, room made as it goes
    got=$(curl -sS -w '%{stderr}%{http_code}' \
        "$MCC_CONTENT/$b/big.bin?cacheHostOrigin=origin.test" 2>"$T/code" |
        sha256sum | cut -d' ' -f1)
    assert_eq 200 "$(cat "$T/code")" "$b: full download of the large object"
    assert_eq "${sums[${b}big]}" "$got" "$b: sha256 of the large object"
    evicted=$(storage_metric "$evict_m")
    used=$(storage_metric "$used_m")
    log "$b: after the whole large object: $evicted evictions, $used bytes used"
    [ "${evicted%.*}" -ge 1 ] || fail "$b: the large object was stored without evicting anything"
    [ "${used%.*}" -le $((32 * MIB)) ] || fail "$b: usage $used above the 32 MiB limit"
    stop_pid "$MCCD_PID"
}

scenario disk mcc_storage_used_bytes mcc_storage_evictions_total
scenario memory mcc_storage_memory_bytes mcc_storage_memory_evictions_total
log "ok"
