-- wrk script for scripts/bench.sh: POST one small chat completion (or any body), over and over.
--
-- Environment (all optional):
--   BENCH_KEY        bearer key sent in Authorization (the gateway's user key)
--   BENCH_MODEL      model name in the body (default "bench")
--   BENCH_STREAM     "1" for "stream": true (the SSE response counts as one request)
--   BENCH_DIRECTIVE  text appended to the user message, e.g. "#mock chunks=20"
--   BENCH_BODY       the whole request body as sent, instead of the chat body built from the
--                    three above (an Anthropic Messages body for /v1/messages)
--   BENCH_HEADERS    extra request headers, one "Name: value" a line (x-api-key, anthropic-version)
--
-- done() prints one line `BENCH_JSON {...}`: latency percentiles in microseconds, request
-- and error counts, duration in microseconds. The runner parses that line, not wrk's text.

local key = os.getenv("BENCH_KEY") or ""
local model = os.getenv("BENCH_MODEL") or "bench"
local stream = os.getenv("BENCH_STREAM") == "1"
local directive = os.getenv("BENCH_DIRECTIVE") or ""
local body = os.getenv("BENCH_BODY") or ""
local headers = os.getenv("BENCH_HEADERS") or ""

local content = "Say hello in one short sentence."
if directive ~= "" then
  content = content .. " " .. directive
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
for line in headers:gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then
    wrk.headers[name] = value
  end
end
if body ~= "" then
  wrk.body = body
else
  wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. content
    .. '"}],"max_tokens":32' .. (stream and ',"stream":true' or '') .. '}'
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
