-- wrk script for bench/service/run.py: alternate the runs list and a dataset page,
-- with the token from $TOKEN; at the end, one JSON line of latency and errors.
local paths = {"/api/runs?limit=20", "/api/datasets/leads?limit=50"}
local i = 0
local token = os.getenv("TOKEN")

request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % 2) + 1], {["Authorization"] = "Bearer " .. token})
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"errors": %d, "non_2xx": %d, "timeouts": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
