#!/usr/bin/env bash
# A three-level chain (bottom -> middle -> top -> origin), each level set up from MCC's environment
# variables: one download stores the object at every level and costs the origin one transfer; a
# stopped middle level leaves the bottom serving what it has and failing the rest fast (502/504),
# unless a level lists the cdn after its parent; the middle level back, downloads work again
# without a restart of the bottom.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nested_lib.sh"

start_origin
size=$((3 * 1024 * 1024 + 12345)) # more than one slice, not slice-aligned
sum_a=$(make_blob pool/a.bin "$size")
sum_b=$(make_blob pool/b.bin 300000)
sum_c=$(make_blob pool/c.bin 200000)
sum_d=$(make_blob pool/d.bin 100000)

start_level top ""
start_level mid "127.0.0.1:$TOP_PORT"
start_level bottom "127.0.0.1:$MID_PORT"

# 1. a download at the bottom goes up the chain once and is stored at every level
assert_eq 200 "$(level_get "$BOTTOM_PORT" /pool/a.bin "$T/a1")" "first download at the bottom"
assert_sha256 "$T/a1" "$sum_a"
assert_eq "$size" "$(origin_path_bytes /pool/a.bin)" "origin bytes for a.bin"
for lv in bottom mid top; do
    assert_eq 1 "$(level_lines "$lv" /pool/a.bin miss)" "$lv: misses for a.bin"
    assert_eq "$size" "$(level_miss_bytes "$lv" /pool/a.bin)" "$lv: bytes from upstream for a.bin"
done
# the middle level asked the top in the Delivery Optimization form, the top asked the origin
# with its own path (cacheHostOrigin stripped before the CDN)
assert_contains "$(cat "$T/mid/mccd.log")" "/pool/a.bin?cacheHostOrigin=origin.test" "mid's plan"
assert_not_contains "$(cat "$ORIGIN_LOG")" "cacheHostOrigin" "origin log"

# 2. a second client at the bottom is served by the bottom alone (from its disk; a revalidation
#    upstream, if freshness asks for one, carries no body)
assert_eq 200 "$(level_get "$BOTTOM_PORT" /pool/a.bin "$T/a2")" "second download at the bottom"
assert_sha256 "$T/a2" "$sum_a"
assert_from_disk bottom /pool/a.bin "$size"
for lv in mid top; do
    assert_eq "$size" "$(level_miss_bytes "$lv" /pool/a.bin)" "$lv: bytes from upstream for a.bin"
    assert_eq 0 "$(level_lines "$lv" /pool/a.bin 'hit|revalidated')" "$lv: a.bin sent from disk"
done
assert_eq "$size" "$(origin_path_bytes /pool/a.bin)" "origin bytes for a.bin after a hit"

# 3. the middle and the top each hold their own copy: asked directly with the level above
#    stopped, they serve it from disk
stop_pid "$TOP_PID"
assert_eq 200 "$(level_get "$MID_PORT" /pool/a.bin "$T/a3")" "a.bin from mid with top stopped"
assert_sha256 "$T/a3" "$sum_a"
assert_from_disk mid /pool/a.bin "$size"
start_level top ""
assert_eq 200 "$(level_get "$TOP_PORT" /pool/a.bin "$T/a4")" "a.bin from the restarted top"
assert_sha256 "$T/a4" "$sum_a"
assert_from_disk top /pool/a.bin "$size"
assert_eq "$size" "$(origin_path_bytes /pool/a.bin)" "origin bytes for a.bin, at the end"

# 4. the middle level stopped: stored objects still come from the bottom, others fail fast
stop_pid "$MID_PID"
assert_eq 200 "$(level_get "$BOTTOM_PORT" /pool/a.bin "$T/a5")" "a.bin with mid stopped"
assert_sha256 "$T/a5" "$sum_a"
for i in 1 2 3; do
    t0=$(date +%s%N)
    st=$(level_get "$BOTTOM_PORT" /pool/b.bin "$T/b-fail")
    ms=$((($(date +%s%N) - t0) / 1000000))
    case "$st" in
    502 | 504) ;;
    *) fail "b.bin with mid stopped (try $i): status $st, expected 502 or 504" ;;
    esac
    [ "$ms" -lt 6000 ] || fail "b.bin with mid stopped (try $i) took ${ms}ms"
    log "b.bin with mid stopped: $st in ${ms}ms"
done
assert_contains "$(cat "$T/bottom/mccd.log")" "parent 127.0.0.1:$MID_PORT is down" "bottom's log"
assert_eq 0 "$(origin_requests 'GET /pool/b.bin')" "origin requests for b.bin with mid stopped"

# 4b. a level configured to go direct when its parents are down ("cdn" listed after "parent")
cat >"$T/direct.json" <<EOF
{ "cache": { "upstreams": [ "parent", "cdn" ] },
  "plugins": { "hosts": { "config": {
    "custom": [ { "host": "origin.test", "connect_to": "$ORIGIN_ADDR" } ] } } } }
EOF
start_level direct "127.0.0.1:$MID_PORT" -- "$T/direct.json"
assert_eq 200 "$(level_get "$DIRECT_PORT" /pool/d.bin "$T/d1")" "d.bin, direct with mid stopped"
assert_sha256 "$T/d1" "$sum_d"
assert_eq 100000 "$(origin_path_bytes /pool/d.bin)" "origin bytes for d.bin"

# 5. the middle level back on the same port: within a few probe intervals downloads work again
start_level mid "127.0.0.1:$TOP_PORT"
t0=$(date +%s)
st=000
for ((i = 0; i < 40; i++)); do
    st=$(level_get "$BOTTOM_PORT" /pool/b.bin "$T/b1")
    [ "$st" = 200 ] && break
    sleep 0.5
done
assert_eq 200 "$st" "b.bin after mid came back"
assert_sha256 "$T/b1" "$sum_b"
log "b.bin served again $(($(date +%s) - t0))s after mid came back"
assert_contains "$(cat "$T/bottom/mccd.log")" "parent 127.0.0.1:$MID_PORT is up again" \
    "bottom's log"
assert_eq 200 "$(level_get "$BOTTOM_PORT" /pool/c.bin "$T/c1")" "c.bin after mid came back"
assert_sha256 "$T/c1" "$sum_c"
assert_eq 300000 "$(origin_path_bytes /pool/b.bin)" "origin bytes for b.bin"
