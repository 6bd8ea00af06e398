-- serve-load.lua — wrk script for bench/serve-load.sh: POST /embed with one
-- sequence of SEQ random token ids per request (64 different bodies, picked in
-- turn), and a summary line of latency percentiles that the script parses.
local seq = tonumber(os.getenv("SEQ") or "128")
local vocab = tonumber(os.getenv("VOCAB") or "8192")
local bodies = {}
math.randomseed(7)
for b = 1, 64 do
  local ids = {}
  for i = 1, seq do ids[i] = tostring(math.random(1, vocab - 1)) end
  bodies[b] = '{"inputs":[[' .. table.concat(ids, ",") .. ']]}'
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/embed", {["Content-Type"] = "application/json"}, bodies[(n % 64) + 1])
end
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT requests %d errors %d seconds %.3f p50_ms %.2f p99_ms %.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, s, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
