#!/usr/bin/env bash
# The outbound proxy (UPSTREAM_PROXY) at two levels, with tinyproxy: the child reaches its parent
# through it and the parent reaches the origin through it (ISA-95 level 3 style); the proxy's log
# shows both requests. A dead proxy, or a proxy that cannot reach the parent, answers 502/504,
# never 4xx.
source "$(dirname "$0")/lib.sh"

command -v tinyproxy >/dev/null 2>&1 || skip "tinyproxy is not installed"

start_origin
NESTED_HOST=127.0.0.1:$ORIGIN_PORT # a name the proxy resolves by itself
source "$(dirname "$0")/nested_lib.sh"
sum_a=$(make_blob p/a.bin 1500000)
make_blob p/b.bin 4000 >/dev/null
make_blob p/c.bin 4000 >/dev/null

PROXY_PORT=$(free_port)
PROXY_LOG=$T/tinyproxy/requests.log
start_proxy() {
    mkdir -p "$T/tinyproxy"
    cat >"$T/tinyproxy/tinyproxy.conf" <<EOF
Port $PROXY_PORT
Listen 127.0.0.1
Allow 127.0.0.1
Timeout 30
MaxClients 20
LogFile "$PROXY_LOG"
LogLevel Info
PidFile "$T/tinyproxy/tinyproxy.pid"
EOF
    tinyproxy -d -c "$T/tinyproxy/tinyproxy.conf" >>"$T/tinyproxy/tinyproxy.log" 2>&1 &
    PROXY_PID=$!
    track_pid "$PROXY_PID" tinyproxy
    wait_port "$PROXY_PORT" "$PROXY_PID" tinyproxy "$T/tinyproxy/tinyproxy.log"
    log "tinyproxy (pid $PROXY_PID) on 127.0.0.1:$PROXY_PORT"
}
start_proxy

start_level top "" UPSTREAM_PROXY="127.0.0.1:$PROXY_PORT"
start_level child "127.0.0.1:$TOP_PORT" UPSTREAM_PROXY="127.0.0.1:$PROXY_PORT"

# 1. both hops go through the proxy
assert_eq 200 "$(level_get "$CHILD_PORT" /p/a.bin "$T/a1")" "a.bin through child and proxy"
assert_sha256 "$T/a1" "$sum_a"
assert_eq 1500000 "$(origin_bytes 'GET /p/a.bin')" "origin bytes for a.bin"
plog=$(cat "$PROXY_LOG")
assert_contains "$plog" "GET http://127.0.0.1:$TOP_PORT/p/a.bin?cacheHostOrigin=$NESTED_HOST " \
    "proxy log: the child asking the parent"
assert_contains "$plog" "GET http://$NESTED_HOST/p/a.bin " "proxy log: the parent asking the origin"

# 2. the parent stopped behind a working proxy: the proxy's error becomes 502/504 at the child
stop_pid "$TOP_PID"
st=$(level_get "$CHILD_PORT" /p/c.bin "$T/c")
case "$st" in
502 | 504) log "c.bin with the parent down behind the proxy: $st" ;;
*) fail "c.bin with the parent down behind the proxy: status $st, expected 502 or 504" ;;
esac
assert_eq 0 "$(origin_requests 'GET /p/c.bin')" "origin requests for c.bin"
assert_contains "$(cat "$PROXY_LOG")" "GET http://127.0.0.1:$TOP_PORT/p/c.bin" "proxy log for c.bin"
start_level top "" UPSTREAM_PROXY="127.0.0.1:$PROXY_PORT"

# 3. a dead proxy: 502/504 at either level, quickly
stop_pid "$PROXY_PID"
for port in "$CHILD_PORT" "$TOP_PORT"; do
    t0=$(date +%s%N)
    st=$(level_get "$port" /p/b.bin "$T/b")
    ms=$((($(date +%s%N) - t0) / 1000000))
    case "$st" in
    502 | 504) log "b.bin with the proxy down at :$port: $st in ${ms}ms" ;;
    *) fail "b.bin with the proxy down at :$port: status $st, expected 502 or 504" ;;
    esac
    [ "$ms" -lt 6000 ] || fail "b.bin with the proxy down took ${ms}ms"
done
# what is stored is still served
assert_eq 200 "$(level_get "$CHILD_PORT" /p/a.bin "$T/a2")" "a.bin from child with the proxy down"
assert_sha256 "$T/a2" "$sum_a"

