#!/usr/bin/env bash
# Coalescing across levels: three children, each with two clients, ask one parent for the same
# cold object at once; the origin sends it once, the parent once per child at most.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nested_lib.sh"

start_origin --rate 1M # about 2 s for the object: every request arrives while it is in flight
size=$((2 * 1024 * 1024 + 777))
sum=$(make_blob big/x.bin "$size")

start_level top ""
for c in c1 c2 c3; do
    start_level "$c" "127.0.0.1:$TOP_PORT"
done

pids=()
for c in c1 c2 c3; do
    port_var=${c^^}_PORT
    for k in 1 2; do
        level_get "${!port_var}" /big/x.bin "$T/$c-$k.out" >"$T/$c-$k.status" &
        pids+=($!)
    done
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a client failed"
done
for c in c1 c2 c3; do
    for k in 1 2; do
        assert_eq 200 "$(cat "$T/$c-$k.status")" "$c client $k"
        assert_sha256 "$T/$c-$k.out" "$sum"
    done
    assert_eq 2 "$(level_lines "$c" /big/x.bin)" "$c: requests for x.bin"
done
# each child fetched the body from the parent at most once, the parent from the origin once
# (revalidations, if freshness asks for them, carry no body)
reqs=$(level_lines top /big/x.bin miss)
if [ "$reqs" -lt 1 ] || [ "$reqs" -gt 3 ]; then
    fail "top: $reqs requests for x.bin, expected 1 to 3"
fi
log "top served x.bin $reqs time(s)"
assert_eq 1 "$(origin_requests 'GET /big/x.bin .*status=200')" "origin 200s for x.bin"
assert_eq "$size" "$(origin_path_bytes /big/x.bin)" "origin bytes for x.bin"
