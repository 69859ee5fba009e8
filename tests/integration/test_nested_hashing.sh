#!/usr/bin/env bash
# A parent tier of two caches shared by consistent (rendezvous) hashing of the cache key: 100
# objects split between the parents, none stored on both; with one parent stopped, a fresh child
# gets that parent's objects from the other one and the rest from where they already were.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nested_lib.sh"

n=100
start_origin
declare -A sums
for ((i = 0; i < n; i++)); do
    sums[$i]=$(make_blob "o/$i.bin" 1500)
done

start_level p1 ""
start_level p2 ""
cat >"$T/tier.json" <<EOF
{ "plugins": { "parent": { "config": {
  "parents": [ "127.0.0.1:$P1_PORT", "127.0.0.1:$P2_PORT" ] } } } }
EOF
start_level child1 "127.0.0.1:$P1_PORT" -- "$T/tier.json"

# 1. every object fetched through the child comes from exactly one parent, once from the origin
for ((i = 0; i < n; i++)); do
    assert_eq 200 "$(level_get "$CHILD1_PORT" "/o/$i.bin" "$T/got")" "o/$i.bin through child1"
    assert_sha256 "$T/got" "${sums[$i]}"
done
on1=() on2=()
for ((i = 0; i < n; i++)); do
    a=$(level_lines p1 "/o/$i.bin")
    b=$(level_lines p2 "/o/$i.bin")
    case "$a$b" in
    10) on1+=("$i") ;;
    01) on2+=("$i") ;;
    *) fail "o/$i.bin: $a request(s) at p1, $b at p2; expected one in all" ;;
    esac
done
log "split: ${#on1[@]} objects on p1, ${#on2[@]} on p2"
# a fair split of 100 is far from these bounds (binomial sd 5)
if [ "${#on1[@]}" -lt 25 ] || [ "${#on2[@]}" -lt 25 ]; then
    fail "uneven split ${#on1[@]}/${#on2[@]}"
fi
assert_eq $((n * 1500)) "$(origin_bytes 'GET /o/')" "origin bytes for the objects"

# 2. p2 stopped: a fresh child with the same tier gets p2's share from p1, p1's share still
#    from p1's disk (no new origin transfer for those)
stop_pid "$P2_PID"
start_level child2 "127.0.0.1:$P1_PORT" -- "$T/tier.json"
for ((i = 0; i < n; i++)); do
    assert_eq 200 "$(level_get "$CHILD2_PORT" "/o/$i.bin" "$T/got")" "o/$i.bin with p2 stopped"
    assert_sha256 "$T/got" "${sums[$i]}"
done
origin_settle
declare -A at_origin
while read -r bytes path; do
    at_origin[$path]=$bytes
done < <(awk '$1 == "GET" { for (i = 3; i <= NF; i++) if ($i ~ /^bytes=/) n[$2] += substr($i, 7) }
    END { for (p in n) print n[p], p }' "$ORIGIN_LOG")
for i in "${on1[@]}"; do
    assert_from_disk p1 "/o/$i.bin" 1500
    assert_eq 1500 "${at_origin[/o/$i.bin]:-0}" "origin bytes for o/$i.bin (homed at p1)"
done
for i in "${on2[@]}"; do
    assert_eq 1 "$(level_lines p1 "/o/$i.bin" miss)" "p1 misses for o/$i.bin (homed at p2)"
    assert_eq 3000 "${at_origin[/o/$i.bin]:-0}" "origin bytes for o/$i.bin (homed at p2)"
done
assert_contains "$(cat "$T/child2/mccd.log")" "parent 127.0.0.1:$P2_PORT is down" "child2's log"
