#!/usr/bin/env bash
# More than one event loop (cache.loops): concurrent keep-alive clients are answered by every
# loop with the right bytes, clients of one cold object on different loops share one upstream
# transfer, a stop with a download out is clean, and cache.loops 1 runs one loop. Every body is
# checked by sha256.
source "$(dirname "$0")/lib.sh"

MCC_TEST_FRESHNESS=immutable
MIB=1048576
for i in $(seq 0 23); do
    make_blob "small/s$i.bin" $((20000 + i * 997)) >/dev/null
done
big_size=$((16 * MIB + 4321))
big_sum=$(make_blob big/object.bin "$big_size")
make_blob big/ranges.bin $((16 * MIB)) >/dev/null
# 16 MiB at 8 MiB/s: clients that start together all join the one transfer
start_origin --rate 8M

with_loops() { # N: starts mccd with cache.loops N
    printf '{ "cache": { "loops": %d } }\n' "$1" >"$T/loops.json"
    start_mccd "$T/loops.json"
}

loop_threads() { # mccd's threads named as extra loops
    cat /proc/"$MCCD_PID"/task/*/comm | grep -c '^mccd-loop' || true
}

thread_ticks() { # NAME: CPU ticks of mccd's threads named NAME, summed
    local t sum=0
    for t in /proc/"$MCCD_PID"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ] || continue
        sum=$((sum + $(awk '{ print $14 + $15 }' "$t/stat")))
    done
    echo "$sum"
}

# CLIENTS keep-alive connections, opened together, each asking for every small object ROUNDS
# times and checking each body against the origin's file.
clients() { # CLIENTS ROUNDS
    python3 - "$MCC_CONTENT_PORT" "$ORIGIN_ROOT/small" "$1" "$2" <<'EOF'
import hashlib, http.client, os, sys, threading
port, root, clients, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = sorted(os.listdir(root))
want = {n: hashlib.sha256(open(os.path.join(root, n), "rb").read()).hexdigest() for n in names}
errors = []
barrier = threading.Barrier(clients)

def client(k):
    try:
        barrier.wait()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for r in range(rounds):
            for n in names[k % len(names):] + names[:k % len(names)]:
                c.request("GET", "/small/%s?cacheHostOrigin=origin.test" % n)
                resp = c.getresponse()
                body = resp.read()
                if resp.status != 200 or hashlib.sha256(body).hexdigest() != want[n]:
                    errors.append("client %d: %s: status %d, %d bytes" % (k, n, resp.status, len(body)))
                    return
        c.close()
    except Exception as e:
        errors.append("client %d: %r" % (k, e))

threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    sys.exit("; ".join(errors[:5]))
EOF
}

with_loops 2
assert_eq 1 "$(loop_threads)" "extra loop threads of mccd with cache.loops 2"
clients 4 1 || fail "first fetches (misses) were wrong"

# every loop answers: the load is repeated (at most three times) until both loops' threads used
# CPU for it, as whichever loop is free accepts the next connection
both=0
for attempt in 1 2 3; do
    main0=$(thread_ticks mccd)
    loop0=$(thread_ticks mccd-loop1)
    clients 16 8 || fail "hits on 16 connections were wrong"
    main1=$(thread_ticks mccd)
    loop1=$(thread_ticks mccd-loop1)
    log "attempt $attempt: CPU ticks of the first loop +$((main1 - main0)), the second +$((loop1 - loop0))"
    if [ $((main1 - main0)) -gt 0 ] && [ $((loop1 - loop0)) -gt 0 ]; then
        both=1
        break
    fi
done
assert_eq 1 "$both" "both loops answered clients"
# the loop CPU series counts both loops' threads, and no more than the process used
metric_ms() { # METRIC: its value in milliseconds, or "absent"
    curl -sS "$MCC_ADMIN/metrics" |
        awk -v m="$1" '$1 == m { printf "%d", $2 * 1000; found = 1 } END { if (!found) print "absent" }'
}
tick_ms=$((1000 / $(getconf CLK_TCK)))
loops_ms=$((($(thread_ticks mccd) + $(thread_ticks mccd-loop1)) * tick_ms))
reported=$(metric_ms mcc_loop_cpu_seconds_total)
proc_ms=$(($(awk '{ print $14 + $15 }' "/proc/$MCCD_PID/stat") * tick_ms))
log "loop CPU: $reported ms reported, threads $loops_ms ms, process $proc_ms ms"
[ "$reported" -ge $((loops_ms - 50)) ] && [ "$reported" -le $((proc_ms + 50)) ] ||
    fail "mcc_loop_cpu_seconds_total is $reported ms; the loops' threads used $loops_ms ms"
[ "$(metric_ms mcc_lock_wait_seconds_total)" != absent ] || fail "no lock wait series"

hits=$(grep -c ' /small/s[0-9]*.bin 200 ' "$MCC_ACCESS_LOG" || true)
[ "$hits" -ge $((4 * 24 + 16 * 8 * 24)) ] || fail "the access log has $hits small answers"

# twelve clients of one cold object, on new connections spread over the loops: one upstream
# transfer, every body right
url="$MCC_CONTENT/big/object.bin?cacheHostOrigin=origin.test"
downloads() { # N NAME: N parallel downloads of the big object, each body checked
    local pids=() i p
    for i in $(seq 1 "$1"); do
        curl -sS -o "$T/$2$i" "$url" &
        pids+=($!)
        track_pid "$!" "$2 $i"
    done
    for p in "${pids[@]}"; do
        wait "$p" || fail "$2: a download failed"
        untrack_pid "$p"
    done
    for i in $(seq 1 "$1"); do
        assert_sha256 "$T/$2$i" "$big_sum"
    done
}
downloads 12 cold
sent=$(origin_bytes /big/object.bin)
[ "$sent" -le $((big_size + MIB)) ] ||
    fail "the origin sent $sent bytes for a $big_size-byte object (twelve clients, one transfer)"

# a cold range whose client is on another loop than the transfer: the fetch's pause after its
# first bytes lasts long enough for that loop to write them (transfer_yield). Which loop accepts
# a new connection is up to the kernel: one slice after another on new connections until one
# lands there
rurl="$MCC_CONTENT/big/ranges.bin?cacheHostOrigin=origin.test"
elsewhere=0
for i in $(seq 0 15); do
    first=$((i * MIB + 100)) last=$((i * MIB + 50099))
    assert_eq 206 "$(curl -sS -o "$T/cold$i" -w '%{http_code}' -r "$first-$last" "$rurl")" \
        "cold range $first-$last"
    assert_eq "$(range_sha256 "$ORIGIN_ROOT/big/ranges.bin" "$first" "$last")" \
        "$(sha256sum <"$T/cold$i" | cut -d' ' -f1)" "bytes of cold range $first-$last"
    if grep -q 'ranges.bin: clients first after [0-9]* bytes (one on another loop)' \
        "$T/mccd/mccd.log"; then
        elsewhere=1
        break
    fi
done
assert_eq 1 "$elsewhere" "a cold range answered on another loop than its transfer's"

# the object is stored now: parallel full downloads and ranges, written by the sender threads
# and handed back to the loop of each client's connection
downloads 6 hit &
hits_pid=$!
for i in $(seq 1 8); do
    first=$(((i * 1987654321) % (big_size - 2 * MIB)))
    last=$((first + MIB + i * 1000))
    assert_eq 206 "$(curl -sS -o "$T/range$i" -w '%{http_code}' -r "$first-$last" "$url")" \
        "range $first-$last"
    assert_eq "$(range_sha256 "$ORIGIN_ROOT/big/object.bin" "$first" "$last")" \
        "$(sha256sum <"$T/range$i" | cut -d' ' -f1)" "bytes of range $first-$last"
done
wait "$hits_pid" || fail "the stored downloads were wrong"
assert_eq "$sent" "$(origin_bytes /big/object.bin)" "origin bytes after the stored downloads"

# a stop with a slow download out on some loop: mccd exits by itself, status 0
stop_during_download "$url"

# one loop: no extra thread, the same answers
with_loops 1
assert_eq 0 "$(loop_threads)" "extra loop threads of mccd with cache.loops 1"
clients 8 2 || fail "hits with one loop were wrong"
assert_eq 0 "$(metric_ms mcc_lock_wait_seconds_total)" "lock wait with one loop"
log "PASS"
