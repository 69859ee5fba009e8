#!/usr/bin/env bash
# mccd starts on loopback ports with a temp cache root, answers /healthz, exits 0 on SIGTERM
# within 5 s and leaves its ports free.
source "$(dirname "$0")/lib.sh"

start_mccd
assert_status 200 "$MCC_ADMIN/healthz"
body=$(curl -sS "$MCC_ADMIN/healthz")
assert_ne "" "$body" "/healthz body"
port_listening "$MCC_CONTENT_PORT" || fail "content port $MCC_CONTENT_PORT not listening"
port_listening "$MCC_ADMIN_PORT" || fail "admin port $MCC_ADMIN_PORT not listening"
# the content port speaks HTTP too (whatever it answers to a host it does not cache)
code=$(curl -s -o /dev/null -w '%{http_code}' "$MCC_CONTENT/" || true)
[[ "$code" =~ ^[1-5][0-9][0-9]$ ]] || fail "content port: no HTTP answer ($code)"

start=$(date +%s%N)
stop_pid "$MCCD_PID" 5 TERM
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq 0 "$STOP_KILLED" "mccd needed SIGKILL after SIGTERM (5 s)"
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
log "mccd stopped in ${elapsed_ms} ms"
port_listening "$MCC_CONTENT_PORT" && fail "content port $MCC_CONTENT_PORT still listening"
port_listening "$MCC_ADMIN_PORT" && fail "admin port $MCC_ADMIN_PORT still listening"
grep -q "mccd" "$T/mccd/mccd.log" || fail "mccd logged nothing"

# the same ports can be bound again right away
start_mccd_again() {
    "$MCCD" --conf-dir "$MCC_CONF_DIR" >"$T/mccd/mccd2.log" 2>&1 &
    MCCD_PID=$!
    track_pid "$MCCD_PID" mccd
    wait_port "$MCC_ADMIN_PORT" "$MCCD_PID" mccd "$T/mccd/mccd2.log"
}
start_mccd_again
assert_status 200 "$MCC_ADMIN/healthz"
stop_pid "$MCCD_PID" 5 INT
assert_eq 0 "$STOP_KILLED" "mccd needed SIGKILL after SIGINT"
assert_eq 0 "$STOP_RC" "mccd exit status after SIGINT"
