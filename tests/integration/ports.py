"""Loopback TCP ports for the integration tests, safe when ctest runs tests in parallel.

  ports.py reserve OWNER_PID   prints a port nothing listens on and no other test holds
  ports.py release OWNER_PID   gives back every port OWNER_PID holds

Ports come from outside the kernel's ephemeral range, so an outgoing connection of another test
can never be sitting on one when a server binds it. A port is held by an atomic mkdir in a
directory shared by all tests; a holder that died without releasing is reclaimed."""

import os
import random
import shutil
import socket
import sys

DIR = os.path.join(os.environ.get("TMPDIR") or "/tmp", "mcc-test-ports")


def candidates():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    ports = [p for p in range(10000, 65536) if p < low or p > high]
    random.shuffle(ports)
    return ports


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reclaim_if_stale(path):
    """Removes a reservation whose holder is gone. True when the port may be tried again."""
    try:
        with open(os.path.join(path, "pid")) as f:
            pid = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return False  # being written right now, or unreadable: leave it
    if pid > 0 and alive(pid):
        return False
    dead = "%s.dead.%d" % (path, os.getpid())
    try:
        os.rename(path, dead)  # only one reclaimer wins
    except OSError:
        return False
    shutil.rmtree(dead, ignore_errors=True)
    return True


def bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def reserve(owner):
    os.makedirs(DIR, exist_ok=True)
    for port in candidates()[:400]:
        path = os.path.join(DIR, str(port))
        try:
            os.mkdir(path)
        except FileExistsError:
            if not reclaim_if_stale(path):
                continue
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
        with open(os.path.join(path, "pid"), "w") as f:
            f.write("%d\n" % owner)
        if bindable(port):
            print(port)
            return 0
        shutil.rmtree(path, ignore_errors=True)  # somebody else's server: not ours to hold
    print("ports.py: no free port found", file=sys.stderr)
    return 1


def release(owner):
    try:
        names = os.listdir(DIR)
    except OSError:
        return 0
    for name in names:
        path = os.path.join(DIR, name)
        try:
            with open(os.path.join(path, "pid")) as f:
                if int(f.read().strip() or "0") != owner:
                    continue
        except (OSError, ValueError):
            continue
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("reserve", "release"):
        print("usage: ports.py reserve|release OWNER_PID", file=sys.stderr)
        sys.exit(2)
    fn = reserve if sys.argv[1] == "reserve" else release
    sys.exit(fn(int(sys.argv[2])))
