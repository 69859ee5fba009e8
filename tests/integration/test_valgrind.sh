#!/usr/bin/env bash
# mccd under valgrind with some load: about 200 requests mixing misses, hits, ranges, HEAD, an
# origin 404, a host that is not cacheable and downloads aborted midway, then SIGTERM. Any
# memory error or definitely lost block makes valgrind exit 9: the test fails on that and shows
# valgrind's report. Skipped when valgrind is missing or mccd is built with a sanitizer.
source "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed"
# the runtime's symbol names are in the binary whether it is linked statically or not
if grep -qa -e __asan_init -e __ubsan_handle "$MCCD"; then
    skip "mccd is built with sanitizers (valgrind cannot run it)"
fi

KIB=1024
declare -A sums
for i in 1 2 3 4 5 6; do
    sums[o$i.bin]=$(make_blob "o$i.bin" $((100 * KIB + i * 7919)))
done
sums[big.bin]=$(make_blob big.bin $((2600 * KIB))) # three slices
start_origin

# start_mccd runs $MCCD: a wrapper that execs valgrind keeps the pid start_mccd tracks.
# mccd links jemalloc (MCC_JEMALLOC): the synonym has valgrind replace its malloc as it does libc's.
REAL_MCCD=$MCCD
MCCD=$T/mccd-valgrind
cat >"$MCCD" <<EOF
#!/bin/sh
exec valgrind --quiet --error-exitcode=9 --soname-synonyms='somalloc=*jemalloc*' \
    --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --num-callers=30 --log-file="$T/valgrind.log" "$REAL_MCCD" "\$@"
EOF
chmod +x "$MCCD"
start_mccd

# One request per line: "KIND NAME"; every line's result is checked below.
{
    for i in 1 2 3 4 5 6; do echo "get o$i.bin"; done # misses (some coalesce with the next)
    for r in 1 2 3 4; do
        for i in 1 2 3 4 5 6; do
            echo "get o$i.bin"
            echo "range o$i.bin"
            echo "head o$i.bin"
        done
        echo "get big.bin"
        echo "range big.bin"
        echo "missing none$r.bin"
        echo "refused o1.bin"
        echo "abort big.bin"
        echo "abort o$r.bin"
    done
    for i in $(seq 1 78); do echo "get o$((i % 6 + 1)).bin"; done
    for i in $(seq 1 20); do echo "range big.bin"; done
} >"$T/requests"
total=$(wc -l <"$T/requests")

cat >"$T/one.sh" <<'EOF'
#!/usr/bin/env bash
# Runs one request line ("KIND NAME" on $1 $2); prints "ok" or what went wrong.
kind=$1 name=$2
url="$MCC_CONTENT/$name?cacheHostOrigin=origin.test"
out=$(mktemp "$T/body.XXXXXX")
case $kind in
get)
    code=$(curl -sS -o "$out" -w '%{http_code}' "$url")
    want=$(sha256sum <"$T/origin/$name" | cut -d' ' -f1)
    [ "$code" = 200 ] && [ "$(sha256sum <"$out" | cut -d' ' -f1)" = "$want" ] ||
        echo "get $name: $code or wrong bytes"
    ;;
range)
    code=$(curl -sS -o "$out" -w '%{http_code}' -r 5000-70000 "$url")
    want=$(dd if="$T/origin/$name" bs=1 skip=5000 count=65001 status=none | sha256sum |
        cut -d' ' -f1)
    [ "$code" = 206 ] && [ "$(sha256sum <"$out" | cut -d' ' -f1)" = "$want" ] ||
        echo "range $name: $code or wrong bytes"
    ;;
head)
    code=$(curl -sS -I -o "$out" -w '%{http_code}' "$url")
    [ "$code" = 200 ] && grep -qi "^content-length: $(stat -c %s "$T/origin/$name")" "$out" ||
        echo "head $name: $code or wrong length"
    ;;
missing)
    code=$(curl -sS -o "$out" -w '%{http_code}' "$url")
    [ "$code" = 404 ] || echo "missing $name: $code"
    ;;
refused)
    code=$(curl -sS -o "$out" -w '%{http_code}' \
        "$MCC_CONTENT/$name?cacheHostOrigin=not-cacheable.example")
    [ "$code" = 403 ] || echo "refused $name: $code"
    ;;
abort)
    # reads a few kilobytes, then closes the connection mid-body
    python3 - "$MCC_CONTENT_PORT" "$name" <<'PYEOF' || echo "abort $name: client error"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"GET /%s?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: x\r\n\r\n" %
          sys.argv[2].encode())
got = b""
while len(got) < 4000:
    b = s.recv(4096)
    if not b:
        break
    got += b
s.close()
sys.exit(0 if got.startswith(b"HTTP/1.1 200") else 1)
PYEOF
    ;;
esac
rm -f "$out"
echo ok
EOF
chmod +x "$T/one.sh"
export T MCC_CONTENT MCC_CONTENT_PORT

start=$(date +%s)
# the first six in order (misses), the rest four at a time
head -n 6 "$T/requests" | xargs -n 2 -P 1 "$T/one.sh" >"$T/results"
tail -n +7 "$T/requests" | xargs -n 2 -P 4 "$T/one.sh" >>"$T/results"
log "$total requests through valgrind in $(($(date +%s) - start))s"
bad=$(grep -v '^ok$' "$T/results" || true)
assert_eq "" "$bad" "requests that went wrong"
assert_eq "$total" "$(grep -c '^ok$' "$T/results")" "requests done"

stop_pid "$MCCD_PID" 60
[ "$STOP_KILLED" = 0 ] || fail "mccd under valgrind did not stop within 60s of SIGTERM"
if [ "$STOP_RC" != 0 ]; then
    cat "$T/valgrind.log" >&2
    fail "valgrind: mccd exited $STOP_RC (9: memory errors or definite leaks, above)"
fi
assert_file_exists "$T/valgrind.log" # valgrind did run mccd
if [ -s "$T/valgrind.log" ]; then
    cat "$T/valgrind.log" >&2
    fail "valgrind reported something (above)"
fi
