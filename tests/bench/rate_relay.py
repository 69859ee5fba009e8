#!/usr/bin/env python3
"""A TCP relay whose answers share one rate limit: the benchmark's slow origin link.

    rate_relay.py LISTEN_PORT TARGET_PORT BYTES_PER_SECOND

Relays every connection to 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. Bytes coming back
from the target, on all connections together, pass one token bucket: a link of that speed, the
same for a cache that fetches one long range and for one that fetches 1 MiB slices (nginx's own
limit_rate is per request and lets the first second's worth through at once, so slice requests
escape it). Requests go upstream unpaced. Runs until killed.
"""
import asyncio
import sys
import time

CHUNK = 64 << 10


class Bucket:
    def __init__(self, rate):
        self.rate = float(rate)
        self.burst = max(CHUNK, self.rate / 50)  # 20 ms worth
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n):
        async with self.lock:  # first come, first served
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)


async def pump(reader, writer, bucket):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            if bucket is not None:
                await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def main():
    listen, target, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    bucket = Bucket(rate)

    async def handle(creader, cwriter):
        try:
            oreader, owriter = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pump(creader, owriter, None), pump(oreader, cwriter, bucket))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__.strip().split("\n")[2].strip(), file=sys.stderr)
        sys.exit(2)
    asyncio.run(main())
