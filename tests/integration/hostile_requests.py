#!/usr/bin/env python3
"""Hostile requests for mccd's content port (used by test_hostile_requests*.sh): sends each case
as raw bytes on its own connection, checks the answer, then checks that a good request still
gets 200 and the right bytes. hostile_requests.py PORT BLOB GROUP: GROUP "sound" holds the
cases mccd handles; "pending" those it does not yet (their test is .sh.pending)."""
import hashlib
import socket
import sys
import time

port, blob, group = int(sys.argv[1]), sys.argv[2], sys.argv[3]
want = hashlib.sha256(open(blob, "rb").read()).hexdigest()
size = len(open(blob, "rb").read())
GOOD_PATH = "/ok.bin?cacheHostOrigin=origin.test"


def exchange(data, idle=1.5, total=10):
    """Sends DATA, returns (responses, closed): the parsed responses that arrived (status,
    headers, body) and whether the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(idle)
    got = bytearray()
    closed = False
    deadline = time.monotonic() + total
    try:
        while time.monotonic() < deadline:
            b = s.recv(65536)
            if not b:
                closed = True
                break
            got += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return parse(bytes(got)), closed


def parse(buf):
    out = []
    while buf.startswith(b"HTTP/"):
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            out.append((int(buf[9:12] or b"0"), {}, b""))
            break
        head = buf[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        hdrs = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, buf[end + 4:end + 4 + n]))
        buf = buf[end + 4 + n:]
    return out


def get(path, extra=b""):
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: mcc\r\n" + extra +
            b"Connection: close\r\n\r\n")


G = GOOD_PATH.encode()
big = b"a" * 20000
cases = [
    # name, request bytes, what is acceptable: "4xx" (any 4xx or closed), or a set of codes
    ("garbage line", b"GARBAGE\r\n\r\n", "4xx"),
    ("method only", b"GET\r\n\r\n", "4xx"),
    ("no version", b"GET " + G + b"\r\nHost: x\r\n\r\n", "4xx"),
    ("version 9.9", b"GET " + G + b" HTTP/9.9\r\nHost: x\r\n\r\n", "4xx"),
    ("bad version", b"GET " + G + b" HTTQ/1.1\r\nHost: x\r\n\r\n", "4xx"),
    ("extra word", b"GET " + G + b" HTTP/1.1 x\r\nHost: x\r\n\r\n", "4xx"),
    ("nul in line", b"GET /ok\x00.bin?cacheHostOrigin=origin.test HTTP/1.1\r\n\r\n", "4xx"),
    ("ctl in target", b"GET /ok\x01.bin?cacheHostOrigin=origin.test HTTP/1.1\r\n\r\n", "4xx"),
    ("lf in escape", get("/ok%0a.bin?cacheHostOrigin=origin.test"), "4xx"),
    ("header no colon", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", "4xx"),
    ("space before colon", b"GET " + G + b" HTTP/1.1\r\nHost : x\r\n\r\n", "4xx"),
    ("binary header name", b"GET " + G + b" HTTP/1.1\r\n\xff\xfe: x\r\n\r\n", "4xx"),
    ("two hosts", b"GET /ok.bin HTTP/1.1\r\nHost: origin.test\r\nHost: evil.test\r\n\r\n", "4xx"),
    ("method PUT", b"PUT " + G + b" HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "4xx"),
    # 501 is the answer RFC 9110 9.1 gives for a method not implemented
    ("method CONNECT", b"CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n",
     "method"),
    ("method TRACE", b"TRACE " + G + b" HTTP/1.1\r\n\r\n", "method"),
    # smuggling shapes: a request hidden in the body must never be answered
    ("CL and TE", b"POST " + G + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled.bin?cacheHostOrigin=origin.test "
     b"HTTP/1.1\r\nHost: x\r\n\r\n", "4xx"),
    ("GET CL and TE", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled.bin?cacheHostOrigin=origin.test "
     b"HTTP/1.1\r\nHost: x\r\n\r\n", "4xx-or-200-once"),
    ("duplicate CL", b"POST " + G + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Content-Length: 50\r\n\r\nhello", "4xx"),
    ("GET duplicate CL", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
     b"Content-Length: 45\r\n\r\nGET /smuggled.bin?cacheHostOrigin=origin.test HTTP/1.1\r\n\r\n",
     "4xx-or-200-once"),
    ("negative CL", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "4xx"),
    ("huge CL", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999"
     b"\r\n\r\n", "4xx"),
    ("TE xchunked", b"POST " + G + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n"
     b"\r\n0\r\n\r\n", "4xx"),
    # sizes
    ("huge header", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n", "4xx"),
    ("many headers", b"GET " + G + b" HTTP/1.1\r\nHost: x\r\n" +
     b"".join(b"X-H%d: v\r\n" % i for i in range(3000)) + b"\r\n", "4xx"),
    ("huge url", get("/" + "a" * 100000 + "?cacheHostOrigin=origin.test"), "4xx"),
    ("huge query", get("/ok.bin?cacheHostOrigin=origin.test&" + "q=1&" * 20000), "4xx"),
    ("deep dots", get("/origin.test/" + "../" * 200 + "etc/passwd"), "4xx"),
    ("encoded dots", get("/ok.bin/%2e%2e/%2e%2e/%2e%2e/etc/passwd?cacheHostOrigin=origin.test"),
     "4xx"),
    # absolute URIs and hosts
    ("userinfo", get("http://user:pw@origin.test/ok.bin"), "4xx"),
    ("port 99999", get("http://origin.test:99999/ok.bin"), "4xx"),
    ("port 0", get("http://origin.test:0/ok.bin"), "4xx"),
    ("port letters", get("http://origin.test:8o/ok.bin"), "4xx"),
    ("at in port", get("http://origin.test:80@evil.test/ok.bin"), "4xx"),
    ("https scheme", get("https://origin.test/ok.bin"), "4xx"),
    ("not cacheable", get("http://evil.test/ok.bin"), {403}),
    ("ipv6 literal", get("http://[::1]:8080/ok.bin"), {403}),
    ("ipv6 unclosed", get("http://[::1/ok.bin"), "4xx"),
    ("ipv6 zone", get("http://[fe80::1%25eth0]/ok.bin"), "4xx"),
    ("bad origin param", get("/ok.bin?cacheHostOrigin=origin.test%2F..%2Fx"), "4xx"),
    ("origin param ipv6", get("/ok.bin?cacheHostOrigin=[::1]"), {403}),
    # ranges: syntax errors are ignored (RFC 9110 14.2), an unsatisfiable set is a 416
    ("range garbage", get(GOOD_PATH, b"Range: bytes=abc\r\n"), {200}),
    ("range reversed", get(GOOD_PATH, b"Range: bytes=9-1\r\n"), {200}),
    ("range unsatisfiable", get(GOOD_PATH, b"Range: bytes=%d-\r\n" % size), {416}),
    ("range suffix 0", get(GOOD_PATH, b"Range: bytes=-0\r\n"), {416}),
    ("range overflow", get(GOOD_PATH, b"Range: bytes=99999999999999999999999-\r\n"), {416}),
    ("range overlapping", get(GOOD_PATH, b"Range: bytes=0-99,50-149,100-199\r\n"), {200, 206}),
    ("range many", get(GOOD_PATH, b"Range: bytes=" +
                       b",".join(b"%d-%d" % (i * 10, i * 10 + 5) for i in range(1000)) + b"\r\n"),
     {200, 206, 416}),
    ("range two headers", get(GOOD_PATH, b"Range: bytes=0-9\r\nRange: bytes=10-19\r\n"),
     {200, 206}),
]

# What mccd does not refuse yet (RFC 9112 5.1 and 6.1-6.3 say it must): a header name with
# whitespace before the colon or bytes outside token, two different Content-Length values (on a
# GET the rest of the body is answered as a second request; a POST is relayed upstream framed
# by the first one), an unknown Transfer-Encoding (its body is read as the next request).
PENDING = {"space before colon", "binary header name", "GET duplicate CL", "duplicate CL",
           "TE xchunked"}

data = open(blob, "rb").read()
failures = 0
ran = 0
for name, req, ok in cases:
    if (name in PENDING) != (group == "pending"):
        continue
    ran += 1
    resps, closed = exchange(req)
    codes = [r[0] for r in resps]
    desc = ",".join(map(str, codes)) + (" closed" if closed else "") or "nothing"
    good = True
    if ok == "method":
        good = len(resps) <= 1 and (closed or len(resps) == 1) and \
            all(c in (400, 405, 501) for c in codes)
    elif ok in ("4xx", "4xx-or-200-once"):
        # one answer at most: a second one would be a smuggled request served
        good = len(resps) <= 1 and (closed or len(resps) == 1)
        if resps and not 400 <= codes[0] < 500:
            good = good and ok == "4xx-or-200-once" and codes[0] == 200 and \
                resps[0][2] == data
    else:
        good = len(resps) == 1 and codes[0] in ok
        if good and codes[0] == 200:
            good = resps[0][2] == data
        if good and codes[0] == 206:
            # the bytes a 206 carries are the ones its Content-Range names
            cr = resps[0][1].get("content-range", "")
            try:
                first, last = map(int, cr.split(" ")[1].split("/")[0].split("-"))
                good = resps[0][2] == data[first:last + 1]
            except (IndexError, ValueError):
                good = False  # a multipart answer would need a parser: we never send one
    # the daemon still serves
    after, _ = exchange(get(GOOD_PATH), idle=5)
    served = len(after) == 1 and after[0][0] == 200 and \
        hashlib.sha256(after[0][2]).hexdigest() == want
    print("%-22s %-18s %s%s" % (name, desc, "ok" if good else "UNEXPECTED",
                                "" if served else "  AND THE NEXT GOOD REQUEST FAILED"))
    if not good or not served:
        failures += 1
print("%d cases, %d failures" % (ran, failures))
sys.exit(1 if failures else 0)
