#!/usr/bin/env bash
# limits.max_connections: connections beyond it are answered 503 and closed (or closed at once),
# the ones within it are served as usual, and once clients leave, new ones are served again.
source "$(dirname "$0")/lib.sh"

start_origin
sum=$(make_blob obj.bin 50000)
echo '{ "limits": { "max_connections": 20 } }' >"$T/70-limit.json"
start_mccd "$T/70-limit.json"
url="$MCC_CONTENT/obj.bin?cacheHostOrigin=origin.test"
assert_eq 200 "$(curl -s -o "$T/a" -w '%{http_code}' "$url")" "before"

# 20 idle connections take every place; the 21st and later are refused while they stay
cat >"$T/hold.py" <<'PY'
import os, socket, sys, time
port, flag, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
idle = []
for _ in range(20):
    idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
time.sleep(0.3)
answers = []
for _ in range(5):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /obj.bin?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = s.recv(64)
    except OSError:
        data = b""
    answers.append(data.split(b"\r\n")[0].decode("latin-1") or "closed")
    s.close()
open(out, "w").write("\n".join(answers) + "\n")
open(flag, "w").close()
deadline = time.time() + 20
while os.path.exists(flag) and time.time() < deadline:
    time.sleep(0.05)
for s in idle:
    s.close()
PY
python3 "$T/hold.py" "$MCC_CONTENT_PORT" "$T/hold" "$T/answers" &
holder=$!
track_pid "$holder" "idle connections"
for _ in $(seq 200); do [ -e "$T/hold" ] && break; sleep 0.05; done
[ -e "$T/hold" ] || fail "the idle connections were not set up"
log "answers over the limit: $(tr '\n' ' ' <"$T/answers")"
while read -r line; do
    case "$line" in
    "HTTP/1.1 503"* | closed) ;;
    *) fail "a connection over the limit got: $line" ;;
    esac
done <"$T/answers"

rm -f "$T/hold"
wait "$holder" 2>/dev/null || true
untrack_pid "$holder"
ok=0
for _ in $(seq 30); do
    [ "$(curl -s -m 2 -o "$T/b" -w '%{http_code}' "$url" || true)" = 200 ] && { ok=1; break; }
    sleep 0.1
done
[ "$ok" = 1 ] || fail "not served again after the idle connections left"
assert_sha256 "$T/b" "$sum"
log "ok"
