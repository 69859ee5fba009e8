-- wrk script for the hot small workload: GET of a random one of BENCH_COUNT small objects.
-- Environment: BENCH_PREFIX (path prefix, e.g. /small/s), BENCH_COUNT, BENCH_QUERY ("?..." or "").
local prefix = os.getenv("BENCH_PREFIX") or "/small/s"
local count = tonumber(os.getenv("BENCH_COUNT") or "100")
local query = os.getenv("BENCH_QUERY") or ""
local paths = {}

local threads = 0
setup = function(thread)
    thread:set("id", threads) -- each thread has its own Lua state: seed each differently
    threads = threads + 1
end

init = function(args)
    math.randomseed(os.time() * 100 + (id or 0))
    for i = 0, count - 1 do
        paths[i] = wrk.format("GET", string.format("%s%03d.bin%s", prefix, i, query))
    end
end

request = function()
    return paths[math.random(0, count - 1)]
end

-- One machine-readable line for the driver (bench_cache.py), after wrk's own summary.
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH requests=%d bytes=%d duration_us=%d errors=%d status_errors=%d "
        .. "p50_us=%d p99_us=%d\n", summary.requests, summary.bytes, summary.duration,
        e.connect + e.read + e.write + e.timeout, e.status,
        latency:percentile(50), latency:percentile(99)))
end
