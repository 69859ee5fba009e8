#!/usr/bin/env python3
"""A scriptable HTTP origin for the HTTP caching tests: answers come from a JSON routes file that
is read again for every request, so a test can change them between steps.

Routes file: {"/path": ROUTE, ...} (the path without its query), ROUTE an object:
  status              200 by default
  headers             {"Name": "value"}; a value "now", "now+N" or "now-N" becomes the HTTP date
                      of the answer's time plus or minus N seconds (Date, Expires, Last-Modified)
  headers_304         headers merged over "headers" in a 304 answer (an origin that changes
                      Cache-Control when it revalidates)
  body                text; or body_size N: N deterministic bytes from body_seed (default: path)
  ignore_conditional  true: If-None-Match / If-Modified-Since never give a 304
  no_range            true: Range is ignored (200 with the whole body)
  methods             {"POST": {"status": 200, "body": "...", "headers": {...}}, ...}: answers
                      for other methods (405 when the method is not listed)
A path with no route answers 404. Every request is logged before its answer is sent, as one JSON
line: method, target, path, selected request headers, status, body bytes.

  scripted_origin.py --routes FILE --log FILE [--listen 127.0.0.1:PORT] [--port-file FILE]
  scripted_origin.py --routes FILE --emit PATH     (writes the body of PATH's route to stdout)
"""
import argparse
import email.utils
import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOGGED_HEADERS = ("If-None-Match", "If-Modified-Since", "Range", "If-Range", "Cache-Control",
                  "Authorization", "Via", "Accept-Language", "Pragma")
REASONS = {200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
           304: "Not Modified", 404: "Not Found", 405: "Method Not Allowed",
           416: "Range Not Satisfiable", 500: "Internal Server Error", 503: "Service Unavailable"}
NOW_RE = re.compile(r"^now(?:([+-])(\d+))?$")


def load_routes(path):
    # a test replaces the file by rename, so a read sees either version whole
    with open(path, "rb") as f:
        return json.load(f)


def route_body(path, route):
    if "body" in route:
        return route["body"].encode()
    n = int(route.get("body_size", 0))
    seed = str(route.get("body_seed", path)).encode()
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + b"/" + str(counter).encode()).digest()
        counter += 1
    return bytes(out[:n])


def expand(value, now):
    m = NOW_RE.match(str(value).strip())
    if m is None:
        return str(value)
    delta = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
    return email.utils.formatdate(now + delta, usegmt=True)


def http_date(text):
    try:
        d = email.utils.parsedate_to_datetime(text)
        return int(d.timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def strip_weak(tag):
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_listed(header, etag):
    """If-None-Match with the weak comparison (RFC 9110 13.1.2)."""
    if etag is None:
        return False
    for item in header.split(","):
        item = item.strip()
        if item == "*" or (item and strip_weak(item) == strip_weak(etag)):
            return True
    return False


def parse_range(value, length):
    """(first, last), "unsatisfiable", or None (no usable single range: answer 200)."""
    m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", value or "")
    if m is None or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0 or length == 0:
            return "unsatisfiable"
        return (max(0, length - n), length - 1)
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) != "" else length - 1
    if last < first:
        return None
    if first >= length:
        return "unsatisfiable"
    return (first, min(last, length - 1))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-origin/1"

    def log_message(self, fmt, *args):
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def record(self, status, nbytes):
        entry = {"method": self.command, "target": self.path,
                 "path": self.path.split("?", 1)[0], "status": status, "bytes": nbytes,
                 "time": round(time.time(), 3)}
        for name in LOGGED_HEADERS:
            v = self.headers.get(name)
            if v is not None:
                entry[name] = v
        with self.server.log_lock:
            with open(self.server.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def send(self, status, headers, body, head=False):
        """Logs, then writes the answer; BODY is sent unless HEAD."""
        sent = 0 if head or status == 304 else len(body)
        self.record(status, sent)
        self.send_response(status, REASONS.get(status, "Status"))
        names = {k.lower() for k in headers}
        for k, v in headers.items():
            self.send_header(k, v)
        if status != 304 and "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        if "date" not in names:
            self.send_header("Date", email.utils.formatdate(time.time(), usegmt=True))
        self.end_headers()
        if sent:
            self.wfile.write(body)

    def drain_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            n -= len(chunk)

    def answer(self):
        now = time.time()
        path = self.path.split("?", 1)[0]
        self.drain_body()
        try:
            routes = load_routes(self.server.routes_path)
        except (OSError, ValueError) as e:
            self.send(500, {"Content-Type": "text/plain"}, ("bad routes: %s\n" % e).encode())
            return
        route = routes.get(path)
        if route is None:
            self.send(404, {"Content-Type": "text/plain"}, b"no route\n", self.command == "HEAD")
            return
        if self.command not in ("GET", "HEAD"):
            m = route.get("methods", {}).get(self.command)
            if m is None:
                self.send(405, {"Allow": "GET, HEAD"}, b"")
                return
            hdrs = {k: expand(v, now) for k, v in m.get("headers", {}).items()}
            self.send(int(m.get("status", 200)), hdrs, m.get("body", "").encode())
            return

        if "delay_ms" in route:
            time.sleep(int(route["delay_ms"]) / 1000.0)
        status = int(route.get("status", 200))
        headers = {k: expand(v, now) for k, v in route.get("headers", {}).items()}
        body = route_body(path, route)
        head = self.command == "HEAD"
        lower = {k.lower(): v for k, v in headers.items()}
        etag, lm = lower.get("etag"), lower.get("last-modified")

        if status == 200 and not route.get("ignore_conditional", False):
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            not_modified = False
            if inm is not None:
                not_modified = etag_listed(inm, etag)
            elif ims is not None and lm is not None:
                a, b = http_date(lm), http_date(ims)
                not_modified = a is not None and b is not None and a <= b
            if not_modified:
                h304 = {k: v for k, v in headers.items()
                        if k.lower() in ("etag", "cache-control", "expires", "date", "vary",
                                         "last-modified", "age")}
                h304.update({k: expand(v, now) for k, v in route.get("headers_304", {}).items()})
                self.send(304, h304, b"")
                return

        rng = self.headers.get("Range")
        if status == 200 and rng is not None and not route.get("no_range", False):
            if_range = self.headers.get("If-Range")
            applies = True
            if if_range is not None:
                if if_range.startswith('"'):
                    applies = etag is not None and not etag.startswith("W/") and if_range == etag
                else:
                    applies = lm is not None and http_date(if_range) == http_date(lm)
            r = parse_range(rng, len(body)) if applies else None
            if r == "unsatisfiable":
                headers["Content-Range"] = "bytes */%d" % len(body)
                self.send(416, headers, b"", head)
                return
            if r is not None:
                first, last = r
                headers["Content-Range"] = "bytes %d-%d/%d" % (first, last, len(body))
                self.send(206, headers, body[first:last + 1], head)
                return
        self.send(status, headers, body, head)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = answer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--routes", required=True)
    ap.add_argument("--log")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--emit", metavar="PATH")
    a = ap.parse_args()
    if a.emit is not None:
        sys.stdout.buffer.write(route_body(a.emit, load_routes(a.routes)[a.emit]))
        return 0
    if a.log is None:
        ap.error("--log is required")
    host, _, port = a.listen.rpartition(":")
    if host != "127.0.0.1":
        ap.error("--listen must be 127.0.0.1:PORT")
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.routes_path = a.routes
    srv.log_path = a.log
    srv.log_lock = threading.Lock()
    open(a.log, "a").close()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
