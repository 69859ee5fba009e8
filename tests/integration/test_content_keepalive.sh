#!/usr/bin/env bash
# Several requests on one keep-alive connection: curl reusing its connection across misses,
# hits, ranges and a 404, and a raw pipelined burst whose answers must come back in order with
# the right bodies, a slow miss first.
source "$(dirname "$0")/lib.sh"

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

MIB=1048576
a_sum=$(make_blob ka/a.bin $((3 * MIB / 2)))
b_sum=$(make_blob ka/b.bin 300000)
make_blob ka/c.bin $((2 * MIB + 1000)) >/dev/null
make_blob ka/d.bin 5000 >/dev/null
make_blob ka/e.bin 250000 >/dev/null
# paced, so that a miss is still streaming while the requests behind it could be answered
start_origin --rate 4M
start_mccd
do_url() { echo "$MCC_CONTENT/ka/$1?cacheHostOrigin=origin.test"; }

# --- curl, one connection for five requests ----------------------------------------------------
w='%{num_connects} %{http_code} %{size_download}\n'
curl -sS -w "$w" -o "$T/1" "$(do_url a.bin)" -o "$T/2" "$(do_url a.bin)" \
    -o "$T/3" "$(do_url missing.bin)" \
    --next -sS -w "$w" -r 1000-1999 -o "$T/4" "$(do_url b.bin)" \
    --next -sS -w "$w" -o "$T/5" "$(do_url b.bin)" >"$T/curl.out"
mapfile -t lines <"$T/curl.out"
assert_eq 5 "${#lines[@]}" "curl reports"
assert_eq "1 200 $((3 * MIB / 2))" "${lines[0]}" "cold a.bin (connects status size)"
assert_eq "0 200 $((3 * MIB / 2))" "${lines[1]}" "warm a.bin on the same connection"
assert_eq 404 "$(cut -d' ' -f2 <<<"${lines[2]}")" "missing.bin"
assert_eq 0 "$(cut -d' ' -f1 <<<"${lines[2]}")" "connections opened for missing.bin"
assert_eq "0 206 1000" "${lines[3]}" "range of b.bin on the same connection"
assert_eq "0 200 300000" "${lines[4]}" "b.bin on the same connection"
assert_sha256 "$T/1" "$a_sum"
assert_sha256 "$T/2" "$a_sum"
assert_eq "$(range_sha256 "$ORIGIN_ROOT/ka/b.bin" 1000 1999)" \
    "$(sha256sum <"$T/4" | cut -d' ' -f1)" "bytes of the b.bin range"
assert_sha256 "$T/5" "$b_sum"

# --- a pipelined burst in one write: cold c.bin (slow), a hit, a range, a HEAD, a cold d.bin ---
req() { # METHOD NAME [EXTRA_HEADER]
    printf '%s /ka/%s?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$1" "$2"
    printf 'User-Agent: Microsoft-Delivery-Optimization-Lite/10.0.0.1\r\nAccept: */*\r\n'
    [ -z "${3:-}" ] || printf '%s\r\n' "$3"
    printf '\r\n'
}
{
    req GET c.bin
    req GET a.bin
    req GET b.bin 'Range: bytes=100-299'
    req HEAD a.bin
    req GET d.bin 'Connection: close'
} | raw_http "$MCC_CONTENT_PORT" "$T/pipe.raw" 10

# Splits the stream by Content-Length (no body for HEAD) and checks each answer against the file.
python3 - "$T/pipe.raw" "$ORIGIN_ROOT/ka" <<'EOF' || fail "pipelined answers are wrong (see above)"
import hashlib, sys
raw = open(sys.argv[1], "rb").read()
root = sys.argv[2]
expect = [  # method, file, status, range (first, last) or None
    ("GET", "c.bin", 200, None),
    ("GET", "a.bin", 200, None),
    ("GET", "b.bin", 206, (100, 299)),
    ("HEAD", "a.bin", 200, None),
    ("GET", "d.bin", 200, None),
]
pos = 0
for i, (method, name, status, rng) in enumerate(expect):
    end = raw.find(b"\r\n\r\n", pos)
    if end < 0:
        sys.exit(f"answer {i} ({method} {name}): no header block; {len(raw) - pos} bytes left")
    lines = raw[pos:end].decode("latin-1").split("\r\n")
    pos = end + 4
    code = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(": ")
        if k in headers:
            sys.exit(f"answer {i}: header {k} twice")
        headers[k] = v
    if code != status:
        sys.exit(f"answer {i} ({method} {name}): status {code}, expected {status}")
    if "Transfer-Encoding" in headers or "Content-Length" not in headers:
        sys.exit(f"answer {i}: no Content-Length or chunked: {headers}")
    data = open(f"{root}/{name}", "rb").read()
    want = data[rng[0]:rng[1] + 1] if rng else data
    if int(headers["Content-Length"]) != len(want):
        sys.exit(f"answer {i} ({name}): Content-Length {headers['Content-Length']}, "
                 f"want {len(want)}")
    if method == "HEAD":
        continue
    body = raw[pos:pos + len(want)]
    pos += len(want)
    if hashlib.sha256(body).hexdigest() != hashlib.sha256(want).hexdigest():
        sys.exit(f"answer {i} ({method} {name}): body differs ({len(body)} bytes)")
    print(f"answer {i}: {method} {name} {code} {len(body)} bytes ok")
if pos != len(raw):
    sys.exit(f"{len(raw) - pos} stray bytes after the last answer")
EOF
assert_eq 1 "$(origin_requests 'GET /ka/c.bin ')" "origin requests for c.bin"
assert_eq 1 "$(origin_requests 'GET /ka/a.bin ')" "origin requests for a.bin"

# 64 pipelined GETs of a stored 250,000-byte object (written straight to the socket when it has
# room) to a client that reads nothing for a second: 16 MB is more than the socket buffers
# hold, so some answers are written partly at once and finish through libevent
curl -sS -o /dev/null "$(do_url e.bin)"
python3 - "$MCC_CONTENT_PORT" "$ORIGIN_ROOT/ka/e.bin" <<'EOF' || fail "late-read pipeline is wrong"
import hashlib, socket, sys, time
port, want = int(sys.argv[1]), open(sys.argv[2], "rb").read()
req = (b"GET /ka/e.bin?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       b"User-Agent: Microsoft-Delivery-Optimization-Lite/10.0.0.1\r\n\r\n")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(req * 64)
time.sleep(1)
raw = bytearray()
need = 64 * len(want)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    b = s.recv(1 << 20)
    if not b:
        break
    raw += b
    if raw.count(b"HTTP/1.1 200 OK\r\n") == 64 and len(raw) >= need + 64 * 200:
        # every header block seen: read until the last body is complete
        last = raw.rfind(b"\r\n\r\n")
        if len(raw) - (last + 4) >= len(want):
            break
pos, digest = 0, hashlib.sha256(want).digest()
for i in range(64):
    end = raw.find(b"\r\n\r\n", pos)
    if end < 0:
        sys.exit(f"answer {i}: no header block ({len(raw)} bytes in all)")
    head = raw[pos:end].decode("latin-1")
    if not head.startswith("HTTP/1.1 200 ") or f"Content-Length: {len(want)}" not in head:
        sys.exit(f"answer {i}: {head[:200]!r}")
    body = bytes(raw[end + 4:end + 4 + len(want)])
    if hashlib.sha256(body).digest() != digest:
        sys.exit(f"answer {i}: body differs ({len(body)} bytes)")
    pos = end + 4 + len(want)
if pos != len(raw):
    sys.exit(f"{len(raw) - pos} stray bytes after the last answer")
print("64 late-read answers ok")
EOF

# small hits have a header block mccd writes itself unless the request has a Connection header:
# HTTP/1.0 without keep-alive gets its body and a closed connection; HTTP/1.0 with keep-alive
# and HTTP/1.1 with close go through libevent's writer, which answers with Connection headers
python3 - "$MCC_CONTENT_PORT" "$ORIGIN_ROOT/ka/d.bin" <<'EOF' || fail "HTTP/1.0 and Connection answers are wrong"
import socket, sys, time
port, want = int(sys.argv[1]), open(sys.argv[2], "rb").read()
def exchange(reqs, expect_close):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"".join(reqs))
    raw, t0 = b"", time.monotonic()
    s.settimeout(2)
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            raw += b
    except socket.timeout:
        if expect_close:
            sys.exit(f"connection left open after {reqs[-1][:40]!r}")
    pos, heads = 0, []
    for _ in reqs:
        end = raw.index(b"\r\n\r\n", pos)
        head = raw[pos:end].decode("latin-1")
        if head[:9] not in ("HTTP/1.0 ", "HTTP/1.1 ") or head[9:13] != "200 " or \
                raw[end + 4:end + 4 + len(want)] != want:
            sys.exit(f"bad answer: {head!r}")
        heads.append(head.lower())
        pos = end + 4 + len(want)
    if pos != len(raw):
        sys.exit(f"{len(raw) - pos} stray bytes")
    return heads
r = b"GET /ka/d.bin?cacheHostOrigin=origin.test HTTP/1.0\r\n"
exchange([r + b"\r\n"], True)
heads = exchange([r + b"Connection: keep-alive\r\n\r\n"] * 2 + [r + b"\r\n"], True)
if "connection: keep-alive" not in heads[0]:
    sys.exit("HTTP/1.0 keep-alive answered without Connection: keep-alive")
heads = exchange([b"GET /ka/d.bin?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n"], True)
if "connection: close" not in heads[0]:
    sys.exit("Connection: close answered without Connection: close")
print("HTTP/1.0 and Connection answers ok")
EOF

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
