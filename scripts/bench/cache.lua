-- wrk script for scripts/bench/cache.py: POST one chat completion over and over, either the
-- same body every time (BENCH_UNIQUE unset: cache hits after the first) or a body made unique
-- by a per-thread counter (BENCH_UNIQUE=1: every request a cache miss), which then asks the mock to
-- answer after BENCH_LATENCY_MS milliseconds (unset or 0: at once).
--
-- Environment: BENCH_KEY (bearer key), BENCH_MODEL (default "bench"), BENCH_UNIQUE,
-- BENCH_LATENCY_MS.
-- done() prints one line `BENCH_JSON {...}` that cache.py parses.

local key = os.getenv("BENCH_KEY") or ""
local model = os.getenv("BENCH_MODEL") or "bench"
local unique = os.getenv("BENCH_UNIQUE") == "1"
local latency = os.getenv("BENCH_LATENCY_MS") or "0"
local directive = latency ~= "0" and (" #mock latency_ms=" .. latency) or ""
local counter = 0
local prefix = tostring(math.random(1, 1000000000))

local function body(text)
  return '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. text
    .. '"}],"max_tokens":32}'
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
wrk.body = body("Say hello in one short sentence.")

if unique then
  request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, body("Say hello " .. prefix .. "-" .. counter .. "." .. directive))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
      .. '"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
