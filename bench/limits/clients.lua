-- wrk script for the limiter scenario: every request comes from one of
-- CLIENTS distinct anonymous callers (X-Forwarded-For 10.a.b.c, believed
-- because the gateway trusts 127.0.0.1), rotating so each caller is used
-- evenly; done() prints one RESULT line (requests/s, p99, non-2xx).
--   wrk -s clients.lua URL -- [CLIENTS] [PATH]
local clients, path = 10000, "/bytes/128"
local reqs = {}
local i = 0
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  clients = tonumber(args[1] or clients)
  path = args[2] or path
  for k = 0, clients - 1 do
    local ip = string.format("10.%d.%d.%d", math.floor(k / 65536) % 256, math.floor(k / 256) % 256, k % 256)
    reqs[k + 1] = wrk.format("GET", path, { ["X-Forwarded-For"] = ip })
  end
  -- threads start at different callers
  i = (tonumber(id) or 0) * 7919
end

function request()
  i = i + 1
  return reqs[(i % clients) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d sockerr=%d\n",
    summary.requests, summary.requests / secs, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
