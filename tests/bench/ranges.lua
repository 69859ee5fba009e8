-- wrk script for the hot ranges workload: GET of BENCH_PATH with a Range of BENCH_RANGE bytes at a
-- random byte offset of an object of BENCH_SIZE bytes (so most ranges span two 1 MiB slices).
-- Environment: BENCH_PATH (with its query), BENCH_SIZE, BENCH_RANGE.
local path = os.getenv("BENCH_PATH") or "/"
local size = tonumber(os.getenv("BENCH_SIZE") or "0")
local span = tonumber(os.getenv("BENCH_RANGE") or "1048576")

local threads = 0
setup = function(thread)
    thread:set("id", threads) -- each thread has its own Lua state: seed each differently
    threads = threads + 1
end

init = function(args)
    math.randomseed(os.time() * 100 + (id or 0))
end

request = function()
    local first = math.random(0, size - span)
    local range = string.format("bytes=%d-%d", first, first + span - 1)
    return wrk.format("GET", path, { Range = range })
end

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH requests=%d bytes=%d duration_us=%d errors=%d status_errors=%d "
        .. "p50_us=%d p99_us=%d\n", summary.requests, summary.bytes, summary.duration,
        e.connect + e.read + e.write + e.timeout, e.status,
        latency:percentile(50), latency:percentile(99)))
end
