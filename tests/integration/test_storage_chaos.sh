#!/usr/bin/env bash
# Chaos: 50 rounds of four concurrent downloads through mccd from a paced origin, mccd killed
# with SIGKILL at a random moment of each and started again on the same cache. Every byte a
# client received was right, the origin never sent more for an object in a round than the
# slices then missing on disk, and in the end every object downloads with the right SHA-256.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"

MIB=1048576
ROUNDS=${MCC_CHAOS_ROUNDS:-50}
NOBJ=4
for ((i = 0; i < NOBJ; i++)); do
    len[i]=$(((2 * i + 3) * MIB + 1000 * i)) # 3, 5, 7, 9 MiB: told apart by length on disk
    sum[i]=$(make_blob "chaos/o$i.bin" "${len[i]}")
done
start_origin --rate 2M
cat >"$T/chaos.json" <<JSON
{ "cache": { "slice_size": "256KiB" } }
JSON
start_mccd "$T/chaos.json"

# present bytes on disk of object I (by its length), 0 when not stored
present_of() { # I
    awk -v l="${len[$1]}" '$2 == l { p = $3 } END { print p + 0 }' "$T/stored"
}

# bytes the origin sent for object I in the log lines after line FROM
sent_of() { # I FROM
    tail -n +$(($2 + 1)) "$ORIGIN_LOG" | { grep -F "GET /chaos/o$1.bin " || true; } |
        sed -n 's/.* bytes=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

busy_rounds=0
for ((r = 1; r <= ROUNDS; r++)); do
    storage_objects "$T/cache" >"$T/stored"
    [ "$r" -eq 1 ] || restart_mccd
    from=$(wc -l <"$ORIGIN_LOG")
    pids=()
    for ((i = 0; i < NOBJ; i++)); do
        curl -sS -o "$T/part.$i" "$MCC_CONTENT/chaos/o$i.bin?cacheHostOrigin=origin.test" \
            2>/dev/null &
        pids+=($!)
        track_pid $! curl
    done
    sleep "0.$((RANDOM % 5 + 1))$((RANDOM % 10))"
    kill -KILL "$MCCD_PID"
    stop_pid "$MCCD_PID" 2
    for p in "${pids[@]}"; do
        stop_pid "$p" 2
    done
    origin_settle
    busy=0
    for ((i = 0; i < NOBJ; i++)); do
        got=$(stat -c %s "$T/part.$i" 2>/dev/null || echo 0)
        [ "$got" -le "${len[i]}" ] || fail "round $r: o$i: $got bytes of ${len[i]}"
        [ "$got" -eq 0 ] || cmp -s -n "$got" "$T/part.$i" "$ORIGIN_ROOT/chaos/o$i.bin" ||
            fail "round $r: o$i: the $got bytes received differ from the origin's"
        sent=$(sent_of "$i" "$from")
        missing=$((len[i] - $(present_of "$i")))
        [ "$sent" -le "$missing" ] ||
            fail "round $r: the origin sent $sent bytes of o$i with $missing missing on disk"
        [ "$sent" -gt 0 ] && busy=1
        rm -f "$T/part.$i"
    done
    busy_rounds=$((busy_rounds + busy))
done
log "$ROUNDS rounds, $busy_rounds with downloads from the origin in flight"
[ "$busy_rounds" -ge 5 ] || fail "only $busy_rounds rounds had downloads in flight"

storage_objects "$T/cache" >"$T/stored"
restart_mccd
from=$(wc -l <"$ORIGIN_LOG")
for ((i = 0; i < NOBJ; i++)); do
    assert_eq 200 "$(cache_get origin.test "/chaos/o$i.bin" "$T/final.$i")" "final o$i"
    assert_sha256 "$T/final.$i" "${sum[i]}"
done
origin_settle
for ((i = 0; i < NOBJ; i++)); do
    sent=$(sent_of "$i" "$from")
    missing=$((len[i] - $(present_of "$i")))
    log "o$i: ${len[i]} bytes, $missing missing before the last start, origin sent $sent"
    [ "$sent" -le "$missing" ] || fail "final: the origin sent $sent bytes of o$i, $missing missing"
done
