#!/usr/bin/env bash
# Requests answered by the front itself (400, 403, 405) are logged like any other, with the time
# they were answered.
source "$(dirname "$0")/lib.sh"

start_origin
start_mccd
assert_status 403 "$MCC_CONTENT/x.bin?cacheHostOrigin=not-cacheable.example"
assert_status 405 "$MCC_CONTENT/x.bin?cacheHostOrigin=origin.test" -X DELETE
printf 'GET /../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
    raw_http "$MCC_CONTENT_PORT" "$T/bad.raw"
assert_contains "$(head -n 1 "$T/bad.raw")" "400" "answer to /../etc/passwd"
today=$(date -u +%Y-%m-%d)
for status in 403 405 400; do
    line=$(grep " $status 0 " "$MCC_ACCESS_LOG" | head -n 1) ||
        fail "no access-log line for the $status: $(cat "$MCC_ACCESS_LOG")"
    assert_contains "${line:0:10}" "$today" "time of the $status access-log line ($line)"
done

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
