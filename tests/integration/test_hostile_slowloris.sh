#!/usr/bin/env bash
# Slowloris: a client that sends its request headers a byte a second loses its connection once
# limits.client_timeout has passed without a complete request (evhttp's own timeout restarts
# with every byte; daemon/http/conns.c keeps the deadline), and the daemon goes on serving.
source "$(dirname "$0")/lib.sh"

TIMEOUT_S=3
sum=$(make_blob ok.bin 10000)
start_origin
cat >"$T/70-timeout.json" <<EOF
{ "limits": { "client_timeout": "${TIMEOUT_S}s" } }
EOF
start_mccd "$T/70-timeout.json"

run timeout 30 python3 - "$MCC_CONTENT_PORT" "$TIMEOUT_S" <<'PYEOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
head = b"GET /ok.bin?cacheHostOrigin=origin.test HTTP/1.1\r\n" + b"X-Slow: " + b"z" * 100
s = socket.create_connection(("127.0.0.1", port), timeout=5)
t0 = time.monotonic()
for i in range(len(head)):
    try:
        s.send(head[i:i + 1])
        s.setblocking(False)
        if s.recv(1) == b"":
            break
    except BlockingIOError:
        pass
    except OSError:
        break
    finally:
        s.setblocking(True)
    if time.monotonic() - t0 > 3 * limit + 5:
        print("still open after %.0fs of trickling" % (time.monotonic() - t0))
        sys.exit(1)
    time.sleep(1)
print("closed after %.1fs" % (time.monotonic() - t0))
sys.exit(0 if time.monotonic() - t0 <= limit + 3 else 1)
PYEOF
log "$RUN_OUT"
assert_rc 0 "slowloris connection: $RUN_OUT"
assert_eq 200 "$(cache_get origin.test /ok.bin "$T/ok")" "a good request"
assert_sha256 "$T/ok" "$sum"
