#!/usr/bin/env bash
# Out of file descriptors: mccd stops accepting for a moment instead of spinning or dying, goes on
# serving the connections it has, and accepts again once descriptors are free; none is leaked.
source "$(dirname "$0")/lib.sh"

command -v prlimit >/dev/null 2>&1 || skip "prlimit (util-linux) is not installed"
start_origin
sum=$(make_blob obj.bin 200000)
start_mccd
url="$MCC_CONTENT/obj.bin?cacheHostOrigin=origin.test"
assert_eq 200 "$(curl -s -o "$T/a.out" -w '%{http_code}' "$url")" "before"
assert_sha256 "$T/a.out" "$sum"
base_fds=$(ls /proc/"$MCCD_PID"/fd | wc -l)

prlimit --pid "$MCCD_PID" --nofile=$((base_fds + 40)):$((base_fds + 40))
# 120 idle connections: more than the daemon may hold; they stay open until told to go
python3 - "$MCC_CONTENT_PORT" "$T/hold" <<'PY' &
import os, socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(120):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
open(flag, "w").close()
deadline = time.time() + 20
while os.path.exists(flag) and time.time() < deadline:
    time.sleep(0.05)
for s in socks:
    s.close()
PY
holder=$!
track_pid "$holder" "idle connections"
for _ in $(seq 100); do [ -e "$T/hold" ] && break; sleep 0.05; done
sleep 0.5
grep -q "not accepting" "$T/mccd/mccd.log" || fail "no log of the listener pausing"
kill -0 "$MCCD_PID" || fail "mccd died out of descriptors"
# the daemon does not spin while it cannot accept
cpu1=$(awk '{print $14 + $15}' /proc/"$MCCD_PID"/stat)
sleep 1
cpu2=$(awk '{print $14 + $15}' /proc/"$MCCD_PID"/stat)
[ $((cpu2 - cpu1)) -lt 50 ] || fail "mccd used $((cpu2 - cpu1)) ticks in 1 s while out of descriptors"

rm -f "$T/hold"
wait "$holder" 2>/dev/null || true
untrack_pid "$holder"
ok=0
for _ in $(seq 40); do
    code=$(curl -s -m 2 -o "$T/b.out" -w '%{http_code}' "$url" || true)
    [ "$code" = 200 ] && { ok=1; break; }
    sleep 0.1
done
[ "$ok" = 1 ] || fail "mccd does not accept again after descriptors were freed"
assert_sha256 "$T/b.out" "$sum"
sleep 0.5
fds=$(ls /proc/"$MCCD_PID"/fd | wc -l)
[ "$fds" -le $((base_fds + 2)) ] || fail "descriptors: $fds now, $base_fds before"
log "ok: $base_fds descriptors before, $fds after"
