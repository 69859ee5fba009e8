#!/usr/bin/env python3
"""mccd against nginx (proxy_cache + slice + cache lock) on loopback: the driver of bench_cache.sh.

Starts an nginx origin serving generated files, an nginx peer cache and mccd, all on 127.0.0.1 with
their state in one temporary directory; runs every workload against both caches in alternation,
several rounds, and the hot and cold-download workloads straight against the origin (the ceiling);
prints the medians and the ratio mccd/nginx. It prints figures; it passes or fails nothing. Every
process it starts is stopped by its pid, on every exit path, and the whole run is bounded in time.
"""
import argparse
import hashlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20
QUERY = "?cacheHostOrigin=origin.test"  # the Delivery Optimization form; origin and nginx ignore it
SLOW_QUERY = "?cacheHostOrigin=slow.test"  # the same origin through the rate-limited link

PROCS = []  # (name, Popen) of everything started, stopped in reverse order


class Deadline(Exception):
    pass


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


# --- processes and ports ---------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited (status %s) before listening on %d"
                               % (name, proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d within %.0fs" % (name, port, timeout))


def start(name, argv, logfile):
    out = open(logfile, "ab")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    PROCS.append((name, p))
    return p


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def stop_all():
    for name, p in reversed(PROCS):
        if p.poll() is not None:
            continue
        kids = children(p.pid)  # nginx workers: stopped by pid if the master leaves them
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
    PROCS.clear()


# --- memory ------------------------------------------------------------------------------------

def proc_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    return [pid] + children(pid)


def cpu_seconds(pid):
    """User + system CPU seconds used so far by PID and its children (nginx's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def hwm_reset(pid):
    """Resets the peak resident size (VmHWM) of PID and its children (clear_refs 5)."""
    for p in tree(pid):
        try:
            with open("/proc/%d/clear_refs" % p, "w") as f:
                f.write("5")
        except OSError:
            pass


def hwm_mib(pid):
    """Peak resident MiB since the last reset, summed over PID and its children (nginx: master,
    workers, cache manager)."""
    return sum(proc_kib(p, "VmHWM") for p in tree(pid)) / 1024.0


# --- files -------------------------------------------------------------------------------------

def write_pattern(path, size, seed):
    """SIZE bytes no two MiB of which are equal (each starts with its file seed and index), fast:
    one random MiB is reused with a different head. Returns the SHA-256."""
    block = bytearray(os.urandom(min(size, MIB)))
    h = hashlib.sha256()
    with open(path, "wb") as f:
        off = 0
        i = 0
        while off < size:
            n = min(MIB, size - off)
            head = ("%08x:%012x;" % (seed, i)).encode()
            block[:len(head)] = head
            chunk = memoryview(block)[:n]
            f.write(chunk)
            h.update(chunk)
            off += n
            i += 1
    return h.hexdigest()


def range_sha(path, first, length):
    with open(path, "rb") as f:
        f.seek(first)
        return hashlib.sha256(f.read(length)).hexdigest()


def origin_bytes(logpath, path):
    """Body bytes the origin sent for PATH (log lines: METHOD URI range=R status=S bytes=N)."""
    total = 0
    try:
        with open(logpath) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[1] == path:
                    total += int(parts[-1].split("=", 1)[1])
    except OSError:
        pass
    return total


def origin_settle(logpath):
    """nginx logs a response once its last byte left: wait until the log stops growing."""
    last = -1
    for _ in range(30):
        size = os.path.getsize(logpath) if os.path.exists(logpath) else 0
        if size == last:
            return
        last = size
        time.sleep(0.1)


# --- clients -----------------------------------------------------------------------------------

def http_get(port, path, headers=None, timeout=60):
    """GET PATH: (status, body length, sha256, seconds to the first body byte, seconds total)."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        h = hashlib.sha256()
        n = 0
        first = None
        while True:
            b = r.read(1 << 18)
            if not b:
                break
            if first is None:
                first = time.monotonic() - t0
            n += len(b)
            h.update(b)
        return r.status, n, h.hexdigest(), first, time.monotonic() - t0
    finally:
        c.close()


def warm(port, paths):
    """Fetches PATHS once over one connection (the hot workloads measure hits)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for p in paths:
            c.request("GET", p)
            r = c.getresponse()
            while r.read(1 << 20):
                pass
            if r.status != 200:
                raise RuntimeError("warming %s: status %d" % (p, r.status))
    finally:
        c.close()


def run_wrk(args, port, script, conns, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    threads = min(args.wrk_threads, conns)
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % args.duration,
            "-s", os.path.join(HERE, script), "http://127.0.0.1:%d" % port]
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, env=env, capture_output=True, text=True,
                         timeout=args.duration + 30).stdout
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = ru1.ru_utime + ru1.ru_stime - ru.ru_utime - ru.ru_stime
    for line in out.splitlines():
        if line.startswith("BENCH "):
            f = dict(kv.split("=", 1) for kv in line.split()[1:])
            f = {k: int(v) for k, v in f.items()}
            secs = f["duration_us"] / 1e6
            return {"rps": f["requests"] / secs, "requests": max(f["requests"], 1),
                    "mibps": f["bytes"] / secs / MIB,
                    "errors": f["errors"] + f["status_errors"], "p99_ms": f["p99_us"] / 1000.0,
                    "client_cpu_us": wrk_cpu * 1e6 / max(f["requests"], 1)}
    raise RuntimeError("wrk printed no summary:\n" + out)


def curl_parallel(port, path, clients, repeat):
    """CLIENTS curls, each downloading PATH REPEAT times over one connection: (wall s, bytes)."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    argv = ["curl", "-s", "-w", "%{http_code} %{size_download}\\n"]
    for _ in range(repeat):
        argv += ["-o", "/dev/null", url]
    t0 = time.monotonic()
    ps = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    total = 0
    for p in ps:
        out, _ = p.communicate(timeout=300)
        for line in out.split("\n"):
            if line.strip():
                code, n = line.split()
                if code not in ("200", "206"):
                    raise RuntimeError("%s: status %s" % (path, code))
                total += int(n)
    return time.monotonic() - t0, total


def curl_one(port, path, rng=None, out="/dev/null"):
    """One curl download into OUT: (status, bytes, seconds to first byte, seconds total)."""
    argv = ["curl", "-s", "-o", out, "-w",
            "%{http_code} %{size_download} %{time_starttransfer} %{time_total}"]
    if rng is not None:
        argv += ["-r", rng]
    argv.append("http://127.0.0.1:%d%s" % (port, path))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300).stdout.split()
    return int(out[0]), int(out[1]), float(out[2]), float(out[3])


def store_one(port, path, out):
    """The least a storing cache does with a cold object: receive it and write it to a file, here
    curl into OUT with no client to serve. (bytes, seconds); the file is removed after."""
    try:
        _, n, _, total = curl_one(port, path, out=out)
    finally:
        if os.path.exists(out):
            os.unlink(out)
    return n, total


def coalesce_clients(port, path, clients, timeout):
    """CLIENTS threads start PATH at once. Per client: status, length, sha256, first body byte and
    end, as seconds from the common start."""
    results = [None] * clients
    gate = threading.Barrier(clients + 1)
    t0 = [0.0]

    def one(i):
        gate.wait()
        try:
            st, n, sha, first, total = http_get(port, path, timeout=timeout)
            results[i] = {"status": st, "len": n, "sha": sha,
                          "first": (first if first is not None else total), "end": total}
        except (OSError, http.client.HTTPException) as e:
            results[i] = {"status": 0, "len": 0, "sha": "", "first": None, "end": None,
                          "error": str(e)}

    ths = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
    for t in ths:
        t.start()
    t0[0] = time.monotonic()
    gate.wait()
    for t in ths:
        t.join(timeout + 10)
    return results


# --- the setup -----------------------------------------------------------------------------------

def fill(template, out, values):
    with open(os.path.join(HERE, "nginx", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    with open(out, "w") as f:
        f.write(text)


def start_nginx(name, conf, port):
    d = os.path.dirname(conf)
    p = start(name, ["nginx", "-c", conf, "-p", d + "/", "-g", "daemon off;"],
              os.path.join(d, "stderr.log"))
    wait_port(port, p, name)
    return p


def user_line():
    # as root, nginx's workers would run as nobody, who may not write the cache in our temp dir
    return "user root root;" if os.geteuid() == 0 else ""


def thread_names(pid):
    """The names of PID's threads, counted: {"mccd": 1, "mccd-send": 2, ...}."""
    names = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                n = f.read().strip()
        except OSError:
            continue
        names[n] = names.get(n, 0) + 1
    return names


def setup(args, T):
    env = {}
    root = os.path.join(T, "origin-root")
    for d in ("small", "mid", "cold", "slow"):
        os.makedirs(os.path.join(root, d))
    t = time.monotonic()
    sizes = {"small": 64 << 10, "mid": MIB, "large": args.large, "huge": args.huge}
    sha = {}
    for i in range(args.small_count):
        write_pattern(os.path.join(root, "small", "s%03d.bin" % i), sizes["small"], i)
    for i in range(16):
        write_pattern(os.path.join(root, "mid", "m%03d.bin" % i), sizes["mid"], 1000 + i)
    sha["large"] = write_pattern(os.path.join(root, "large.bin"), sizes["large"], 2000)
    sha["huge"] = write_pattern(os.path.join(root, "huge.bin"), sizes["huge"], 3000)
    # every cold run has its own name for the same bytes, so that it is cold at every cache
    for r in range(args.rounds):
        for who in ("mccd", "mccdb", "nginx", "origin"):
            os.symlink("../large.bin", os.path.join(root, "slow", "%s-r%d.bin" % (who, r)))
            os.symlink("../huge.bin", os.path.join(root, "cold", "%s-r%d.bin" % (who, r)))
            os.symlink("../huge.bin", os.path.join(root, "cold", "%s-r%d-range.bin" % (who, r)))
    log("generated files in %.1fs (large %d MiB, huge %d MiB)"
        % (time.monotonic() - t, sizes["large"] // MIB, sizes["huge"] // MIB))
    env.update(root=root, sizes=sizes, sha=sha, tmp=T)

    # the origin
    od = os.path.join(T, "origin")
    os.makedirs(os.path.join(od, "tmp"))
    oport, dport = free_port(), free_port()
    olog = os.path.join(od, "requests.log")
    fill("origin.conf.in", os.path.join(od, "nginx.conf"),
         {"USER": user_line(), "DIR": od, "ROOT": root, "PORT": oport, "DIRECT_PORT": dport,
          "LOG": olog})
    opid = start_nginx("origin", os.path.join(od, "nginx.conf"), oport)
    env.update(origin_port=oport, direct_port=dport, origin_log=olog, origin_pid=opid.pid)
    sport = free_port()
    relay = start("relay", [sys.executable, os.path.join(HERE, "rate_relay.py"), str(sport),
                            str(oport), str(args.slow_rate)], os.path.join(od, "relay.log"))
    wait_port(sport, relay, "relay")

    # the nginx peer cache
    pd = os.path.join(T, "nginx")
    os.makedirs(os.path.join(pd, "tmp"))
    os.makedirs(os.path.join(pd, "cache"))
    nport = free_port()
    fill("peer.conf.in", os.path.join(pd, "nginx.conf"),
         {"USER": user_line(), "DIR": pd, "PORT": nport, "ORIGIN_PORT": oport, "SLOW_PORT": sport,
          "CACHE_SIZE": "%dm" % (args.disk // MIB)})
    npid = start_nginx("nginx", os.path.join(pd, "nginx.conf"), nport)
    env.update(nginx_port=nport, nginx_pid=npid.pid)

    # mccd, and the second one of an A/B run (--vs-conf)
    start_mccd(args, T, env, "mccd", args.mccd_conf, oport, sport)
    if args.vs_conf:
        start_mccd(args, T, env, "mccdb", args.vs_conf, oport, sport)
    return env


def start_mccd(args, T, env, name, extra, oport, sport):
    """Starts mccd NAME (its own port, cache and conf.d) with the benchmark's configuration and
    the conf.d fragment EXTRA (JSON text, or empty) on top."""
    md = os.path.join(T, name)
    conf_dir = os.path.join(md, "conf.d")
    os.makedirs(conf_dir)
    mport = free_port()
    conf = {
        "listen": {"content": "127.0.0.1:%d" % mport, "admin": ""},
        "paths": {"cache_root": os.path.join(md, "cache"), "plugin_dir": args.plugin_dir},
        "log": {"level": "warn", "access_log": ""},
        "plugins": {
            "hosts": {"plugin": "hosts", "config": {"builtin": False, "custom": [
                {"host": "origin.test", "connect_to": "127.0.0.1:%d" % oport,
                 "freshness": "immutable"},
                {"host": "slow.test", "canonical": "origin.test",
                 "connect_to": "127.0.0.1:%d" % sport, "freshness": "immutable"}]}},
            "disk": {"plugin": "disk", "config": {
                "drives": [{"path": "cache1", "size": "%dMiB" % (args.disk // MIB)}]}},
        },
    }
    with open(os.path.join(conf_dir, "50-bench.json"), "w") as f:
        json.dump(conf, f, indent=2)
    if extra:
        with open(os.path.join(conf_dir, "60-extra.json"), "w") as f:
            json.dump(json.loads(extra), f, indent=2)
    mpid = start(name, [args.mccd, "--conf-dir", conf_dir], os.path.join(md, "mccd.log"))
    wait_port(mport, mpid, name)
    env["%s_port" % name] = mport
    env["%s_pid" % name] = mpid.pid


# --- workloads -----------------------------------------------------------------------------------

def main_pid(env, who):
    return env["%s_pid" % who] if who in ("mccd", "mccdb", "nginx") else env["origin_pid"]


def port_of(env, who):
    return env["direct_port"] if who == "origin" else env["%s_port" % who]


class Results:
    def __init__(self):
        self.v = {}  # (figure, who) -> [values]
        self.notes = []

    def add(self, fig, who, val):
        self.v.setdefault((fig, who), []).append(val)

    def med(self, fig, who):
        vals = self.v.get((fig, who))
        return statistics.median(vals) if vals else None


def w_hot_small(args, env, res, who):
    cpu = cpu_seconds(main_pid(env, who))
    out = run_wrk(args, port_of(env, who), "small.lua", 64,
                  {"BENCH_PREFIX": "/small/s", "BENCH_COUNT": str(args.small_count),
                   "BENCH_QUERY": QUERY})
    res.add("hot_small_rps", who, out["rps"])
    cpu = cpu_seconds(main_pid(env, who)) - cpu
    res.add("hot_small_cpu", who, cpu * 1e6 / out["requests"])
    res.add("hot_small_p99", who, out["p99_ms"])
    res.add("hot_small_client_cpu", who, out["client_cpu_us"])
    if out["errors"]:
        res.notes.append("hot small %s: %d errors" % (who, out["errors"]))


def w_hot_large(args, env, res, who):
    pid = main_pid(env, who)
    hwm_reset(pid)
    cpu = cpu_seconds(pid)
    wall, n = curl_parallel(port_of(env, who), "/large.bin" + QUERY, 4, args.large_repeat)
    res.add("hot_large_mibps", who, n / wall / MIB)
    res.add("hot_large_cpu", who, (cpu_seconds(pid) - cpu) / (n / (1 << 30)))
    if who != "origin":
        res.add("rss_large", who, hwm_mib(pid))
    want = 4 * args.large_repeat * env["sizes"]["large"]
    if n != want:
        res.notes.append("hot large %s: %d bytes, expected %d" % (who, n, want))


def w_hot_ranges(args, env, res, who):
    cpu = cpu_seconds(main_pid(env, who))
    out = run_wrk(args, port_of(env, who), "ranges.lua", 16,
                  {"BENCH_PATH": "/large.bin" + QUERY, "BENCH_SIZE": str(env["sizes"]["large"]),
                   "BENCH_RANGE": str(MIB)})
    res.add("hot_ranges_rps", who, out["rps"])
    cpu = cpu_seconds(main_pid(env, who)) - cpu
    res.add("hot_ranges_cpu", who, cpu * 1e6 / out["requests"])
    res.add("hot_ranges_p99", who, out["p99_ms"])
    res.add("hot_ranges_client_cpu", who, out["client_cpu_us"])
    if out["errors"]:
        res.notes.append("hot ranges %s: %d errors" % (who, out["errors"]))


def w_cold_coalesce(args, env, res, who, rnd):
    pid = main_pid(env, who)
    path = "/slow/%s-r%d.bin" % (who, rnd)
    size = env["sizes"]["large"]
    hwm_reset(pid)
    t0 = time.monotonic()
    rs = coalesce_clients(port_of(env, who), path + SLOW_QUERY, 16, args.coalesce_timeout)
    wall = time.monotonic() - t0
    res.add("rss_coalesce", who, hwm_mib(pid))
    origin_settle(env["origin_log"])
    res.add("coalesce_origin_ratio", who, origin_bytes(env["origin_log"], path) / size)
    res.add("coalesce_wall", who, wall)
    firsts = [r["first"] for r in rs if r["first"] is not None]
    if firsts:
        res.add("coalesce_ttfb_max", who, max(firsts))
        res.add("coalesce_ttfb_spread", who, max(firsts) - min(firsts))
    good = sum(1 for r in rs if r["status"] == 200 and r["len"] == size
               and r["sha"] == env["sha"]["large"])
    res.add("coalesce_sha_ok", who, good)
    if good != len(rs):
        bad = [r for r in rs if not (r["status"] == 200 and r["sha"] == env["sha"]["large"])]
        res.notes.append("cold coalescing %s round %d: %d of %d bodies wrong (e.g. status %s, "
                         "%s bytes%s)" % (who, rnd, len(rs) - good, len(rs), bad[0]["status"],
                                          bad[0]["len"],
                                          ", " + bad[0]["error"] if "error" in bad[0] else ""))


def settle_writeback():
    """Cold workloads write gigabytes into the page cache; the kernel writes them back to the disk
    later, while whatever runs next competes with it. Each measurement starts with nothing left
    to write, so none pays for the one before it."""
    os.sync()


def children_cpu():
    """User + system CPU seconds of the children waited for so far (curl, dd)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def write_cpu(out, size):
    """CPU seconds per GiB that writing SIZE bytes from memory into a new file OUT costs (dd from
    /dev/zero, 1 MiB blocks): the page-cache write every storing cache does, without a network."""
    cpu = children_cpu()
    try:
        subprocess.run(["dd", "if=/dev/zero", "of=" + out, "bs=1M", "count=%d" % (size // MIB)],
                       capture_output=True, check=True, timeout=300)
        return (children_cpu() - cpu) / (size / (1 << 30))
    finally:
        if os.path.exists(out):
            os.unlink(out)


def w_cold_single(args, env, res, who, rnd):
    path = "/cold/%s-r%d.bin" % (who, rnd)
    size = env["sizes"]["huge"]
    pid = main_pid(env, who)
    cpu, client = cpu_seconds(pid), children_cpu()
    st, n, ttfb, total = curl_one(port_of(env, who), path + QUERY)
    gib = max(n, 1) / (1 << 30)
    res.add("cold_single_mibps", who, n / total / MIB)
    res.add("cold_single_cpu", who, (cpu_seconds(pid) - cpu) / gib)
    res.add("cold_single_client_cpu", who, (children_cpu() - client) / gib)
    if st != 200 or n != size:
        res.notes.append("cold single %s round %d: status %d, %d bytes" % (who, rnd, st, n))
    if who == "origin":
        settle_writeback()
        n, total = store_one(port_of(env, who), path, os.path.join(env["tmp"], "store.tmp"))
        res.add("cold_store_mibps", who, n / total / MIB)
        settle_writeback()
        res.add("cold_write_cpu", who, write_cpu(os.path.join(env["tmp"], "write.tmp"), size))


def w_cold_range(args, env, res, who, rnd):
    path = "/cold/%s-r%d-range.bin" % (who, rnd)
    size = env["sizes"]["huge"]
    first = size // 2 + 12345  # unaligned: the range spans two slices
    rng = "%d-%d" % (first, first + MIB - 1)
    port = port_of(env, who)
    before = 0
    for rep in ("cold_range", "cold_range_repeat"):
        st, n, ttfb, total = curl_one(port, path + QUERY, rng)
        origin_settle(env["origin_log"])
        ob = origin_bytes(env["origin_log"], path)
        res.add(rep + "_origin_mib", who, (ob - before) / MIB)
        res.add(rep + "_ttfb_ms", who, ttfb * 1000)
        before = ob
        if st != 206 or n != MIB:
            res.notes.append("%s %s round %d: status %d, %d bytes" % (rep, who, rnd, st, n))


# --- report --------------------------------------------------------------------------------------

# figure, label, unit, higher is better, target (text)
FIGURES = [
    ("hot_small_rps", "hot small 64KiB, 64 conns", "req/s", True, ">= 1.0"),
    ("hot_small_p99", "  p99 latency", "ms", False, ""),
    ("hot_small_cpu", "  server CPU per request", "us", False, ""),
    ("hot_small_client_cpu", "  client (wrk) CPU per request", "us", False, ""),
    ("hot_large_mibps", "hot large, 4 full downloads", "MiB/s", True, ">= 1.0"),
    ("hot_large_cpu", "  server CPU per GiB", "s", False, ""),
    ("hot_ranges_rps", "hot 1MiB ranges, 16 conns", "req/s", True, ">= 1.0"),
    ("hot_ranges_p99", "  p99 latency", "ms", False, ""),
    ("hot_ranges_cpu", "  server CPU per request", "us", False, ""),
    ("hot_ranges_client_cpu", "  client (wrk) CPU per request", "us", False, ""),
    ("coalesce_origin_ratio", "cold coalescing: origin/size", "x", False, "1.00 +- 1 slice"),
    ("coalesce_wall", "  wall time, 16 clients", "s", False, "<= nginx"),
    ("coalesce_ttfb_max", "  slowest client's 1st byte", "s", False, ""),
    ("coalesce_ttfb_spread", "  1st byte spread", "s", False, "<= 0.5"),
    ("coalesce_sha_ok", "  bodies with right sha256", "of 16", True, "16"),
    ("cold_single_mibps", "cold single client, huge", "MiB/s", True, ">= 0.9 x origin"),
    ("cold_single_cpu", "  server CPU per GiB", "s", False, ""),
    ("cold_single_client_cpu", "  client (curl) CPU per GiB", "s", False, ""),
    ("cold_store_mibps", "  origin to a file, no cache", "MiB/s", True, ""),
    ("cold_write_cpu", "  memory to a file (dd), CPU per GiB", "s", False, ""),
    ("cold_range_origin_mib", "cold 1MiB range: origin bytes", "MiB", False, "<= 3"),
    ("cold_range_ttfb_ms", "  time to first byte", "ms", False, ""),
    ("cold_range_repeat_origin_mib", "  repeat: origin bytes", "MiB", False, "0"),
    ("cold_range_repeat_ttfb_ms", "  repeat: time to first byte", "ms", False, ""),
    ("rss_large", "peak RSS, hot large", "MiB", False, "<= nginx"),
    ("rss_coalesce", "peak RSS, cold coalescing", "MiB", False, "<= nginx"),
]


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def cold_single_budget(res):
    """What the cold single target leaves a storing cache, from this run's medians: at 0.9 of the
    direct rate a GiB takes so long, the cores give so much CPU in that time, and the origin and
    the client take theirs whatever sits between them. A cache at least writes the bytes into the
    page cache (dd's figure) and sends them (taken as the origin's own cost, a sendfile from the
    page cache), a floor; the second sum adds receiving them the way a recv() client does."""
    direct = res.med("cold_single_mibps", "origin")
    origin = res.med("cold_single_cpu", "origin")
    client = res.med("cold_single_client_cpu", "origin")
    write = res.med("cold_write_cpu", "origin")
    if not direct or origin is None or client is None or write is None:
        return ""
    wall = 1024 / (0.9 * direct)
    cores = os.cpu_count()
    left = cores * wall - origin - client
    floor = write + origin
    times = lambda v: "%.2f x what is left" % (v / left) if left > 0 else "nothing is left"
    return ("cold single at 0.9 x origin (%.0f MiB/s): a GiB in %.2f s, %.2f s of CPU on %d cores\n"
            "  the origin takes %.2f and the client %.2f: %.2f s is left for a cache\n"
            "  a cache at least writes the GiB to the page cache (%.2f) and sends it (%.2f): %.2f s,"
            " %s\n"
            "  receiving it with recv() as the client does (%.2f) too: %.2f s, %s"
            % (0.9 * direct, wall, cores * wall, cores, origin, client, left, write, origin, floor,
               times(floor), client, floor + client, times(floor + client)))


def ratio_text(x, y):
    """X/Y to two places, or "-" when either is missing or Y is 0."""
    return "%.2f" % (x / y) if x is not None and y else "-"


def round_ratios(res, fig, a, b):
    """The ratio A/B of FIG within each round, as "lowest-highest" (or "-")."""
    pairs = [x / y for x, y in zip(res.v.get((fig, a), []), res.v.get((fig, b), [])) if y]
    return "%.2f-%.2f" % (min(pairs), max(pairs)) if len(pairs) > 1 else "-"


def ab_rows(res):
    """Rows of the A/B table: each figure both mccd ran, their medians and ratios."""
    rows = []
    for fig, label, unit, higher, target in FIGURES:
        a, b, n = res.med(fig, "mccd"), res.med(fig, "mccdb"), res.med(fig, "nginx")
        if a is None or b is None:
            continue
        rows.append((label, unit, fmt(a), fmt(b), ratio_text(b, a),
                     round_ratios(res, fig, "mccdb", "mccd"), ratio_text(b, n)))
    return rows


def print_table(cols, rows):
    widths = [max(len(r[i]) for r in rows + [cols]) for i in range(len(cols))]
    line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) if i < 7 else c
                               for i, (c, w) in enumerate(zip(r, widths)))
    print(line(cols))
    print(line(tuple("-" * w for w in widths)))
    for r in rows:
        print(line(r))


def report(res, args, env, load0, t_start):
    load1 = open("/proc/loadavg").read().split()[:3]
    print()
    print("mccd vs nginx peer cache, loopback, medians of %d round(s); wrk %ds, %d thread(s)"
          % (args.rounds, args.duration, args.wrk_threads))
    th = env.get("mccd_threads", {})
    loops = 1 + sum(n for name, n in th.items() if name.startswith("mccd-loop"))
    print("machine: %d cores; nginx runs %d workers (worker_processes auto), mccd %d event loop%s"
          " (cache.loops) and %d sender threads (cache.send_threads)"
          % (os.cpu_count(), os.cpu_count(), loops, "" if loops == 1 else "s",
             th.get("mccd-send", 0)))
    if args.mccd_conf:
        print("mccd conf.d fragment: %s" % args.mccd_conf)
    print("sizes: small 64 KiB x %d, large %d MiB, huge %d MiB; slow origin link %d MiB/s"
          % (args.small_count, env["sizes"]["large"] // MIB, env["sizes"]["huge"] // MIB,
             args.slow_rate // MIB))
    print("load average: %s at start, %s at end; %.0fs in all"
          % (" ".join(load0), " ".join(load1), time.monotonic() - t_start))
    print()
    cols = ("figure", "unit", "mccd", "nginx", "mccd/nginx", "by round", "origin", "target")
    rows = []
    for fig, label, unit, higher, target in FIGURES:
        m, n, o = res.med(fig, "mccd"), res.med(fig, "nginx"), res.med(fig, "origin")
        if m is None and n is None and o is None:
            continue
        ratio = ratio_text(m, n)
        # the same ratio within each round (the two ran minutes apart at most): its spread says
        # how far one run's median can be trusted
        spread = round_ratios(res, fig, "mccd", "nginx")
        if fig == "cold_single_mibps" and m is not None and o:
            target += " (%.2f)" % (m / o)
        direct = res.med("cold_single_mibps", "origin")
        if fig == "cold_store_mibps" and o and direct:
            target = "(%.2f x origin)" % (o / direct)
        rows.append((label, unit, fmt(m), fmt(n), ratio, spread, fmt(o), target))
    print_table(cols, rows)
    if args.vs_conf:
        print()
        print("A/B in the same rounds: mccd-b is mccd with the conf.d fragment %s" % args.vs_conf)
        print()
        print_table(("figure", "unit", "mccd", "mccd-b", "b/mccd", "by round", "b/nginx"),
                    ab_rows(res))
    if args.verbose:
        print()
        for (fig, who), vals in sorted(res.v.items()):
            print("%-30s %-6s %s" % (fig, who, " ".join(fmt(v) for v in vals)))
    budget = cold_single_budget(res)
    if budget:
        print()
        print(budget)
    if res.notes:
        print()
        for n in res.notes:
            print("note: " + n)


# --- main ----------------------------------------------------------------------------------------

def size_arg(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("ib")
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mccd", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds of each wrk run")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--large", type=size_arg, default=256 * MIB)
    ap.add_argument("--huge", type=size_arg, default=1024 * MIB)
    ap.add_argument("--small-count", type=int, default=100)
    ap.add_argument("--large-repeat", type=int, default=2,
                    help="full downloads per client in the hot large workload")
    ap.add_argument("--slow-rate", type=size_arg, default=64 * MIB,
                    help="bytes/s of the origin link in the cold coalescing workload")
    ap.add_argument("--coalesce-timeout", type=int, default=90)
    ap.add_argument("--disk", type=size_arg, default=8 << 30, help="each cache's size")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--time-limit", type=int, default=570, help="seconds before giving up")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--mccd-conf", default="",
                    help="a conf.d fragment (JSON text) for mccd on top of the benchmark's own, "
                         "e.g. '{\"cache\": {\"loops\": 2}}'")
    ap.add_argument("--vs-conf", default="",
                    help="A/B: a second mccd (mccd-b) with this conf.d fragment instead of "
                         "--mccd-conf, measured in the same rounds, e.g. "
                         "'{\"cache\": {\"loops\": 1}}'")
    ap.add_argument("--hold", action="store_true",
                    help="after setup and warming, print the ports and wait for Ctrl-C")
    ap.add_argument("-v", "--verbose", action="store_true", help="every round's values too")
    args = ap.parse_args()

    t_start = time.monotonic()
    load0 = open("/proc/loadavg").read().split()[:3]

    def on_alarm(signum, frame):
        raise Deadline()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    signal.alarm(args.time_limit)

    workloads = [("hot_small", w_hot_small, False), ("hot_large", w_hot_large, False),
                 ("hot_ranges", w_hot_ranges, False), ("cold_coalesce", w_cold_coalesce, True),
                 ("cold_single", w_cold_single, True), ("cold_range", w_cold_range, True)]
    only = [w for w in args.only.split(",") if w]
    if only:
        workloads = [w for w in workloads if w[0] in only]
    direct = {"hot_small", "hot_large", "hot_ranges", "cold_single"}  # ceilings worth knowing

    T = tempfile.mkdtemp(prefix="mcc-bench.")
    os.chmod(T, 0o755)
    res = Results()
    env = {}
    try:
        env = setup(args, T)
        hot = ["/small/s%03d.bin%s" % (i, QUERY) for i in range(args.small_count)]
        hot.append("/large.bin" + QUERY)
        caches = ["mccd", "mccdb", "nginx"] if args.vs_conf else ["mccd", "nginx"]
        for who in caches:
            t = time.monotonic()
            warm(port_of(env, who), hot)
            log("%s warmed in %.1fs" % (who, time.monotonic() - t))
        env["mccd_threads"] = thread_names(env["mccd_pid"])  # started and answering by now
        if args.hold:
            log("mccd :%d%s  nginx :%d  origin :%d (logged) :%d (direct); Ctrl-C or SIGTERM stops"
                % (env["mccd_port"], "  mccd-b :%d" % env["mccdb_port"] if args.vs_conf else "",
                   env["nginx_port"], env["origin_port"], env["direct_port"]))
            signal.alarm(0)
            signal.pause()
        for rnd in range(args.rounds):
            # each cache first in turn: the one measured first in a round meets the machine as
            # the round before left it
            order = caches[rnd % len(caches):] + caches[:rnd % len(caches)]
            for name, fn, cold in workloads:
                whos = order + (["origin"] if name in direct else [])
                for who in whos:
                    settle_writeback()
                    t = time.monotonic()
                    if cold:
                        fn(args, env, res, who, rnd)
                    else:
                        fn(args, env, res, who)
                    log("round %d %s %s: %.1fs" % (rnd + 1, name, who, time.monotonic() - t))
    except Deadline:
        res.notes.append("stopped at the time limit (%ds): figures are partial" % args.time_limit)
    except KeyboardInterrupt:
        res.notes.append("interrupted: figures are partial")
    finally:
        signal.alarm(0)
        stop_all()
        if args.keep:
            log("kept " + T)
        else:
            shutil.rmtree(T, ignore_errors=True)
    if env:
        report(res, args, env, load0, t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
