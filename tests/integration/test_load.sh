#!/usr/bin/env bash
# A short bounded load (issue 9, part 5): 200 concurrent wrk connections for 20 s mixing hits,
# ranges and misses, while curl downloads checked by sha256 run beside them and the origin resets
# or drips some objects. Ends with zero wrong bytes, every wrk answer a 200/206, descriptors back
# to the baseline (idle upstream connections that libcurl keeps for reuse aside, at most its pool
# of 64) and a bounded RSS: mccd streams objects through bounded buffers, so 200 clients must
# not cost more than about 2 x 200 x 64 KiB of buffers above the baseline: 100 MiB is the limit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"

command -v wrk >/dev/null 2>&1 || skip "wrk is not installed"
DURATION=${MCC_LOAD_SECONDS:-20}
CONNS=200
OBJS=30
OBJ_SIZE=524288
RSS_LIMIT_KIB=$((100 * 1024))
# a sanitizer build keeps freed memory in quarantine and shadows all of it: its RSS says
# nothing about mccd's own bounds, so the bound is checked on plain builds only
if grep -qa -e __asan_init "$MCCD"; then
    RSS_LIMIT_KIB=$((1024 * 1024))
fi
FETCH_POOL=64 # FETCH_MAX_CONNECTS in daemon/fetch/fetch.c

for ((i = 1; i <= OBJS; i++)); do
    make_blob "obj$i.bin" "$OBJ_SIZE" >/dev/null
done
make_blob small.bin 8192 >/dev/null
make_blob reset.bin $((1024 * 1024)) >/dev/null
make_blob drip.bin 262144 >/dev/null
start_fault_setup

# descriptors other than the files of idle stored objects (kept open by design, see fd_census)
fds() { fd_census "$MCCD_PID" | cut -d' ' -f1; }
status_kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$MCCD_PID/status"; }
upstream_conns() { # mccd's TCP connections to the origin (libcurl's pool)
    ss -Htnp "( dport = :$ORIGIN_PORT )" 2>/dev/null | grep -c "pid=$MCCD_PID," || true
}
report() { # WHEN
    log "$1: fds=$(fds) upstream=$(upstream_conns) VmRSS=$(status_kib VmRSS) kB" \
        "VmHWM=$(status_kib VmHWM) kB"
}

# warm up the paths used (one hit, one miss, one range), then the baseline
fget origin.test /obj1.bin "$T/warm"
assert_prefix_of "$T/warm" "$ORIGIN_ROOT/obj1.bin" whole
fget origin.test /obj1.bin "$T/warm" -r 10-20
sleep 0.5
base_fds=$(fds)
base_up=$(upstream_conns)
base_rss=$(status_kib VmRSS)
report "before the load"

cat >"$T/mix.lua" <<LUA
-- 60% whole objects (hits after their first miss), 25% ranges, 15% misses (new keys)
local objs, size, n = $OBJS, $OBJ_SIZE, 0
local tag = tostring(math.random(1000000))
request = function()
    local r, i = math.random(100), math.random(objs)
    local path = "/obj" .. i .. ".bin?cacheHostOrigin=origin.test"
    if r <= 60 then
        return wrk.format("GET", path)
    elseif r <= 85 then
        local a = math.random(0, size - 1)
        local b = math.min(size - 1, a + math.random(0, 100000))
        return wrk.format("GET", path, { Range = "bytes=" .. a .. "-" .. b })
    end
    n = n + 1
    return wrk.format("GET", "/small.bin?cacheHostOrigin=origin.test&m=" .. tag .. "-" .. n)
end
LUA
wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$T/mix.lua" "$MCC_CONTENT" \
    >"$T/wrk.out" 2>&1 &
wrk_pid=$!
track_pid "$wrk_pid" wrk

# beside the load: clean downloads and ranges checked by sha256, objects reset after 300 KB or
# dripped at 200 KB/s upstream (a new key each time, so that each goes upstream with its fault)
checks=0 cuts=0 k=0
deadline=$((SECONDS + DURATION - 2))
while [ "$SECONDS" -lt "$deadline" ] && [ "$k" -lt 200 ]; do
    k=$((k + 1))
    i=$((RANDOM % OBJS + 1))
    fget origin.test "/obj$i.bin" "$T/c"
    assert_eq 200 "$FG_CODE" "clean download under load"
    assert_prefix_of "$T/c" "$ORIGIN_ROOT/obj$i.bin" whole
    a=$((RANDOM * 8 % OBJ_SIZE))
    b=$((a + 9999 < OBJ_SIZE ? a + 9999 : OBJ_SIZE - 1))
    fget origin.test "/obj$i.bin" "$T/r" -r "$a-$b"
    assert_eq 206 "$FG_CODE" "range under load"
    assert_eq "$(range_sha256 "$ORIGIN_ROOT/obj$i.bin" "$a" "$b")" \
        "$(sha256sum <"$T/r" | cut -d' ' -f1)" "bytes $a-$b of obj$i.bin under load"
    for f in reset-after.300000:reset drip.204800:drip; do
        fget "${f%%:*}.fault.test" "/${f#*:}.bin?k=$k" "$T/f"
        if [ "$FG_RC" = 0 ]; then
            assert_eq 200 "$FG_CODE" "$f under load"
            assert_prefix_of "$T/f" "$ORIGIN_ROOT/${f#*:}.bin" whole
        else
            assert_cut "$f under load"
            assert_prefix_of "$T/f" "$ORIGIN_ROOT/${f#*:}.bin"
            cuts=$((cuts + 1))
        fi
    done
    checks=$((checks + 4))
done
wait "$wrk_pid" || fail "wrk failed: $(cat "$T/wrk.out")"
untrack_pid "$wrk_pid"
cat "$T/wrk.out" >&2
log "checked $checks downloads under load by sha256 ($cuts closed early, all bytes right)"
[ "$checks" -ge 8 ] || fail "only $checks checked downloads during the load"
grep -q "requests in" "$T/wrk.out" || fail "wrk did not report"
assert_not_contains "$(cat "$T/wrk.out")" "Non-2xx" "wrk answers"
assert_not_contains "$(cat "$T/wrk.out")" "Socket errors" "wrk connections"
kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died under load"
report "right after the load"

# descriptors settle once the clients' connections are closed and the last transfers have
# ended (a transfer whose client left goes on to its slice's end, holding its object's files)
settled() {
    local census
    census=$(fd_census "$MCCD_PID")
    [ $((${census%% *} - $(upstream_conns))) -le $((base_fds - base_up + 2)) ] &&
        [ "$(echo "$census" | cut -d' ' -f2)" -le 256 ]
}
for ((i = 0; i < 50; i++)); do
    settled && break
    sleep 0.2
done
report "after the load"
after_fds=$(fds)
after_up=$(upstream_conns)
other=$((after_fds - after_up)) base_other=$((base_fds - base_up))
if [ "$other" -gt $((base_other + 2)) ] || [ "$other" -lt $((base_other - 2)) ]; then
    fail "descriptors other than upstream connections: $other after the load," \
        "$base_other before (+-2)"
fi
[ "$after_up" -le "$FETCH_POOL" ] || fail "$after_up upstream connections kept, pool is $FETCH_POOL"
read -r _ cache_fds dup_fds < <(fd_census "$MCCD_PID")
log "stored objects' files open at rest: $cache_fds ($dup_fds open twice)"
[ "$dup_fds" -eq 0 ] || fail "$dup_fds stored files open more than once with no request in flight"
[ "$cache_fds" -le 256 ] || fail "$cache_fds stored files open: more than 2 x open_files (128)"
hwm=$(status_kib VmHWM)
[ "$hwm" -lt "$RSS_LIMIT_KIB" ] || fail "peak RSS $hwm kB, limit $RSS_LIMIT_KIB kB"
[ "$(status_kib VmRSS)" -lt "$RSS_LIMIT_KIB" ] || fail "RSS after the load over $RSS_LIMIT_KIB kB"
log "RSS: $base_rss kB before, peak $hwm kB (limit $RSS_LIMIT_KIB kB)"

# and it still serves right bytes
fget origin.test /obj2.bin "$T/end"
assert_prefix_of "$T/end" "$ORIGIN_ROOT/obj2.bin" whole
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
