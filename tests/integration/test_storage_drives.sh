#!/usr/bin/env bash
# Three small drives (JSON sizes 2, 4 and 6 MiB): objects spread over them by weight; one drive
# renamed away while serving: the others' objects are still hits, its objects are fetched again
# and stored on the other drives, the drive is reported down, and back up once it returns; a
# burst of writes never takes a drive over its size.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"

KIB=1024
N=60
start_origin
for ((i = 0; i < N; i++)); do
    # distinct lengths tell the objects apart in the .meta headers
    make_blob "small/o$i.bin" $((40 * KIB + i)) >"$T/sum.$i"
done
cat >"$T/drives.json" <<JSON
{
  "cache": { "slice_size": "64KiB" },
  "plugins": { "disk": { "config": {
    "probe_interval": "200ms",
    "drives": [ { "path": "a", "size": "2MiB" }, { "path": "b", "size": "4MiB" },
                { "path": "c", "size": "6MiB" } ]
  } } }
}
JSON
start_mccd "$T/drives.json"

get_all() { # TAG: downloads every small object, checks its bytes
    local i code
    for ((i = 0; i < N; i++)); do
        code=$(cache_get origin.test "/small/o$i.bin" "$T/got.$1.$i")
        assert_eq 200 "$code" "o$i ($1)"
        assert_sha256 "$T/got.$1.$i" "$(cat "$T/sum.$i")"
    done
}
get_all first
storage_objects "$T/cache" >"$T/placed"
for d in a b c; do
    eval "n_$d=$(awk -v d=$d '$1 == d' "$T/placed" | wc -l)"
done
log "placed: a $n_a, b $n_b, c $n_c"
assert_eq $N $((n_a + n_b + n_c)) "objects stored"
# expected 10, 20, 30 (the drives' hash seeds come from their paths, which are random here:
# the bounds are more than 3 standard deviations wide)
[ "$n_a" -ge 1 ] && [ "$n_a" -le 20 ] || fail "drive a holds $n_a of $N (weight 1/6)"
[ "$n_c" -ge 18 ] && [ "$n_c" -le 42 ] || fail "drive c holds $n_c of $N (weight 1/2)"
[ "$n_c" -gt "$n_a" ] || fail "drive c ($n_c) should hold more than drive a ($n_a)"

# c goes away while mccd serves; nothing fails, a's and b's objects are hits
up=$(storage_metric mcc_storage_drive_up "drive=\"$T/cache/c\"")
assert_eq 1 "$up" "c's drive_up before"
mv "$T/cache/c" "$T/cache/c.gone"
before=$(origin_bytes)
get_all second
fetched=$(($(origin_bytes) - before))
on_c=$(awk '$1 == "c" { s += $2 } END { print s + 0 }' "$T/placed")
log "with c gone the origin sent $fetched bytes; c held $on_c"
assert_eq "$on_c" "$fetched" "origin bytes with c gone (c's objects only)"
assert_eq 0 "$(storage_metric mcc_storage_drive_up "drive=\"$T/cache/c\"")" "c's drive_up"
assert_eq 1 "$(storage_metric mcc_storage_drive_up "drive=\"$T/cache/a\"")" "a's drive_up"
assert_contains "$(cat "$T/mccd/mccd.log")" "$T/cache/c: drive out of service"
[ ! -e "$T/cache/c" ] || fail "mccd made the vanished drive's directory again"
assert_eq $N "$(storage_objects "$T/cache" | awk '$1 == "a" || $1 == "b"' | wc -l)" \
    "objects on a and b after c's were stored again"
before=$(origin_bytes)
get_all third
assert_eq "$before" "$(origin_bytes)" "origin bytes of a third round (all hits)"

# c comes back: the probe sees it
mv "$T/cache/c.gone" "$T/cache/c"
for ((i = 0; i < 50; i++)); do
    [ "$(storage_metric mcc_storage_drive_up "drive=\"$T/cache/c\"")" = 1 ] && break
    sleep 0.1
done
assert_eq 1 "$(storage_metric mcc_storage_drive_up "drive=\"$T/cache/c\"")" "c's drive_up back"

# a burst, four clients at once, 40 objects of 300 KiB (12 MiB into 12 MiB of drives): no drive
# is ever over its size (sampled while it runs, and at the end)
for ((i = 0; i < 40; i++)); do
    make_blob "big/b$i.bin" $((300 * KIB + i)) >"$T/bsum.$i"
done
burst() { # FIRST
    local i
    for ((i = $1; i < 40; i += 4)); do
        [ "$(cache_get origin.test "/big/b$i.bin" "$T/bgot.$i")" = 200 ] || echo "b$i" >>"$T/failed"
    done
}
pids=()
for k in 0 1 2 3; do
    burst $k &
    pids+=($!)
    track_pid $! burst
done
sizes="a:$((2 * 1024 * KIB)) b:$((4 * 1024 * KIB)) c:$((6 * 1024 * KIB))"
samples=0
# a walk of the drives is not a snapshot: an object evicted after its folder was counted and one
# stored in a folder not yet reached would both count. mccd is stopped (SIGSTOP, every thread)
# while the drives are walked, so each sample is one instant of the files
while kill -0 "${pids[@]}" 2>/dev/null && [ $samples -lt 300 ]; do
    kill -STOP "$MCCD_PID"
    for ds in $sizes; do
        used=$(storage_file_bytes "$T/cache/${ds%%:*}")
        [ "$used" -le "${ds#*:}" ] || {
            kill -CONT "$MCCD_PID"
            fail "drive ${ds%%:*}: $used bytes on disk, size ${ds#*:}"
        }
    done
    kill -CONT "$MCCD_PID"
    samples=$((samples + 1))
    sleep 0.05
done
for p in "${pids[@]}"; do
    wait "$p" || true
    untrack_pid "$p"
done
[ ! -s "$T/failed" ] || fail "burst downloads failed: $(tr '\n' ' ' <"$T/failed")"
for ((i = 0; i < 40; i++)); do
    assert_sha256 "$T/bgot.$i" "$(cat "$T/bsum.$i")"
done
# the reaper frees the evicted files' blocks soon after
for ((i = 0; i < 50; i++)); do
    [ -z "$(find "$T/cache" -name '*.reap' -print -quit)" ] && break
    sleep 0.1
done
assert_eq "" "$(find "$T/cache" -name '*.reap')" "tombstones the reaper left after the burst"
for ds in $sizes; do
    used=$(storage_file_bytes "$T/cache/${ds%%:*}")
    log "drive ${ds%%:*}: $used of ${ds#*:} bytes after the burst ($samples samples)"
    [ "$used" -le "${ds#*:}" ] || fail "drive ${ds%%:*}: $used bytes on disk, size ${ds#*:}"
done
