#!/usr/bin/env python3
"""How long mccd's clients wait while a large stored object is evicted.

Uses bench_cache.py's setup (an nginx origin and mccd on 127.0.0.1, state in a temporary
directory) with a drive only a little larger than the huge object. Each round stores one huge
object, writes the page cache back (sync), then downloads another huge object, which evicts the
first, while one client fetches a small stored object every 2 ms on a kept-alive connection.
Prints the latency of those hits per round, and for reference how long unlinking a huge file
takes on the file system of the temporary directory (what a loop would wait for if it freed the
file itself). A benchmark: it prints, it passes or fails nothing.
  tests/bench/bench_eviction.py --mccd build/mccd --plugin-dir build/plugins-out [--rounds N]
"""
import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import bench_cache as bc


def unlink_ms(path, size, sync):
    """Writes SIZE bytes to PATH (written back first when SYNC), then times its unlink."""
    block = b"\xa5" * bc.MIB
    with open(path, "wb") as f:
        for _ in range(size // bc.MIB):
            f.write(block)
    if sync:
        os.sync()
    t = time.monotonic()
    os.unlink(path)
    return (time.monotonic() - t) * 1000


def hit(c, path):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError("%s: status %d" % (path, r.status))


def one_round(port, old, new):
    """Stores OLD, then fetches NEW (evicting OLD) while timing small hits."""
    small = "/small/s001.bin" + bc.QUERY
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    hit(c, small)
    bc.curl_one(port, old + bc.QUERY)
    os.sync()
    stop, lat = [False], []

    def probe():
        while not stop[0]:
            t = time.monotonic()
            hit(c, small)
            lat.append((time.monotonic() - t) * 1000)
            time.sleep(0.002)

    th = threading.Thread(target=probe)
    th.start()
    try:
        st, n, _, _ = bc.curl_one(port, new + bc.QUERY)
    finally:
        stop[0] = True
        th.join()
    c.close()
    lat.sort()
    return st, n, lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mccd", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--huge", type=bc.size_arg, default=1 << 30)
    args = ap.parse_args()
    # what bench_cache's setup reads: two huge objects do not fit the drive, one does
    args.large, args.small_count, args.slow_rate = 64 * bc.MIB, 2, 64 * bc.MIB
    args.disk = args.huge + args.huge // 4
    setup_rounds, args.rounds = args.rounds, args.rounds + 1
    T = tempfile.mkdtemp(prefix="mcc-bench-evict.")
    os.chmod(T, 0o755)
    try:
        dirty = unlink_ms(os.path.join(T, "u.bin"), args.huge, False)
        clean = unlink_ms(os.path.join(T, "u.bin"), args.huge, True)
        env = bc.setup(args, T)
        port = env["mccd_port"]
        bc.warm(port, ["/small/s001.bin" + bc.QUERY])
        print("unlink of a %d MiB file here: %.1f ms dirty, %.1f ms written back"
              % (args.huge // bc.MIB, dirty, clean))
        print("drive %d MiB; per round: a %d MiB object evicts the one stored before it"
              % (args.disk // bc.MIB, args.huge // bc.MIB))
        for r in range(setup_rounds):
            # the origin's names for the same bytes: cold/mccd-r<N>.bin, one per round
            st, n, lat = one_round(port, "/cold/mccd-r%d.bin" % r, "/cold/mccd-r%d.bin" % (r + 1))
            print("round %d: download %d (%d bytes); %d small hits: median %.2f ms, "
                  "p99 %.2f ms, slowest %.2f ms"
                  % (r + 1, st, n, len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.99)],
                     lat[-1]))
    finally:
        bc.stop_all()
        shutil.rmtree(T, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
