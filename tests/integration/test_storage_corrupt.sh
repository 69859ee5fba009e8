#!/usr/bin/env bash
# A byte flipped in a stored slice on disk: the next download is still correct, only that slice
# is fetched again, and the failure is counted (mcc_storage_checksum_failures_total) and logged.
# Then the background scrub finds a second flip without any request.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"

KIB=1024
SLICE=$((64 * KIB))
size=$((8 * SLICE + 1000))
sum=$(make_blob obj/c.bin "$size")
start_origin
cat >"$T/slices.json" <<JSON
{ "cache": { "slice_size": "64KiB" }, "plugins": { "disk": { "config": { "scrub_rate": 0 } } } }
JSON
start_mccd "$T/slices.json"
assert_eq 200 "$(cache_get origin.test /obj/c.bin "$T/one")" "first download"
assert_sha256 "$T/one" "$sum"
sent=$(origin_bytes)
assert_eq "$size" "$sent" "origin bytes of the first download"
stop_pid "$MCCD_PID" 5

data=$(find "$T/cache" -name '*.data' | head -n 1)
[ -n "$data" ] || fail "no .data file stored"
flip() { # FILE OFFSET
    python3 - "$1" "$2" <<'PYEOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x40]))
PYEOF
}
flip "$data" $((3 * SLICE + 12345))

restart_mccd
assert_eq 0 "$(storage_metric mcc_storage_checksum_failures_total)" "failures before"
assert_eq 200 "$(cache_get origin.test /obj/c.bin "$T/two")" "download after the flip"
assert_sha256 "$T/two" "$sum"
again=$(($(origin_bytes) - sent))
assert_eq "$SLICE" "$again" "origin bytes after the flip (slice 3 only)"
assert_contains "$(tail -n 5 "$ORIGIN_LOG")" "range=bytes=$((3 * SLICE))-$((4 * SLICE - 1))"
assert_eq 1 "$(storage_metric mcc_storage_checksum_failures_total)" "failures counted"
assert_contains "$(cat "$T/mccd/mccd.log")" "slice 3 checksum mismatch: dropped"
assert_eq 200 "$(cache_get origin.test /obj/c.bin "$T/three")" "third download"
assert_sha256 "$T/three" "$sum"
assert_eq $((sent + SLICE)) "$(origin_bytes)" "origin bytes of a third download (a hit)"

# the scrub (fast here) finds a flip in slice 6 with no request at all
stop_pid "$MCCD_PID" 5
flip "$data" $((6 * SLICE + 7))
cat >"$T/scrub.json" <<JSON
{ "plugins": { "disk": { "config": { "scrub_rate": "16MiB" } } } }
JSON
cp "$T/scrub.json" "$MCC_CONF_DIR/70-scrub.json"
restart_mccd
for ((i = 0; i < 40; i++)); do
    [ "$(storage_metric mcc_storage_checksum_failures_total)" = 1 ] && break
    sleep 0.1
done
assert_eq 1 "$(storage_metric mcc_storage_checksum_failures_total)" "failures found by the scrub"
assert_eq "$((size - SLICE))" "$(storage_objects "$T/cache" | awk '{ print $3 }')" \
    "bytes still present after the scrub dropped slice 6"
assert_eq 200 "$(cache_get origin.test /obj/c.bin "$T/four")" "download after the scrub"
assert_sha256 "$T/four" "$sum"
assert_eq $((sent + 2 * SLICE)) "$(origin_bytes)" "origin bytes (slice 6 fetched again)"
