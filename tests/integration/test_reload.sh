#!/usr/bin/env bash
# SIGHUP reloads conf.d: a new custom host takes effect without a restart, an invalid fragment
# is refused while the running configuration keeps serving, and a download in flight goes on.
source "$(dirname "$0")/lib.sh"

start_origin --rate 4M
big=$(make_blob big.bin $((12 * 1024 * 1024)))
small=$(make_blob small.bin 70000)
start_mccd
pid=$MCCD_PID

hup_and_wait() { # TEXT WHAT: SIGHUP, then up to 5 s for TEXT in the log
    kill -HUP "$pid"
    for _ in $(seq 50); do
        grep -qF -- "$1" "$T/mccd/mccd.log" && break
        sleep 0.1
    done
    assert_contains "$(cat "$T/mccd/mccd.log")" "$1" "$2"
}

# a host the configuration does not know yet is refused
assert_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' "$MCC_CONTENT/small.bin?cacheHostOrigin=new.test")" \
    "new.test before the reload"

# a slow download (about 3 s at 4 MiB/s) is in flight across the reloads
curl -s -o "$T/big.out" "$MCC_CONTENT/big.bin?cacheHostOrigin=origin.test" &
dl=$!
sleep 0.5

cat > "$MCC_CONF_DIR/70-new-host.json" <<JSON
{"plugins": {"hosts": {"config": {"custom": [
  {"host": "origin.test", "connect_to": "$ORIGIN_ADDR"},
  {"host": "new.test", "connect_to": "$ORIGIN_ADDR"}]}}}}
JSON
hup_and_wait "configuration reloaded" "log after a valid reload"
code=$(curl -s -o "$T/small.out" -w '%{http_code}' "$MCC_CONTENT/small.bin?cacheHostOrigin=new.test")
assert_eq 200 "$code" "new.test after the reload"
assert_eq "$small" "$(sha256sum < "$T/small.out" | cut -d' ' -f1)" "body through new.test"

# a start-time setting changed by a reload is named, and keeps its running value
threads=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
echo '{"cache": {"send_threads": 7}}' > "$MCC_CONF_DIR/75-threads.json"
hup_and_wait "cache.send_threads changed; it takes effect at the next restart" \
    "log of a restart-only key"
assert_eq "$threads" "$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)" \
    "mccd's threads after the reload"

# an invalid fragment is refused, naming file and key; the running configuration stays
echo '{"cache": {"slice_size": "3MiB"}}' > "$MCC_CONF_DIR/80-bad.json"
hup_and_wait "reload refused" "log after an invalid reload"
assert_contains "$(grep 'reload refused' "$T/mccd/mccd.log")" "80-bad.json: cache.slice_size" \
    "the refusal names file and key"
code=$(curl -s -o /dev/null -w '%{http_code}' "$MCC_CONTENT/small.bin?cacheHostOrigin=new.test")
assert_eq 200 "$code" "new.test still served after the refused reload"
kill -0 "$pid" || fail "mccd exited"

wait "$dl" || fail "the download in flight failed (curl exit $?)"
assert_eq "$big" "$(sha256sum < "$T/big.out" | cut -d' ' -f1)" "download across two reloads"
log "ok"
