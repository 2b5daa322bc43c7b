package limiter

import "github.com/redis/go-redis/v9"

// leaseScript settles a batch of leases in one round trip. Every key of a
// call carries the same hash tag, so the batch is valid on Redis Cluster.
//
// Each lease has two keys: KEYS[2i-1] is its global bucket, stored as
// "tokens ts_ms burst" with a TTL of the time it takes to refill;
// KEYS[2i] is its quota counter for the current period (units used),
// touched only when the lease has a quota. ARGV[1] is the reservation
// horizon in ms; then eight arguments per lease: rate (tokens per ms),
// burst, charge (tokens spent before asking, negative to give back), want
// (batch size, 0 to only report), quota limit (0 = no quota), quota
// charge, quota want and the counter's TTL in ms. The bucket is refilled
// with Redis's own clock, charged, and when want > 0 a reservation of
// want tokens is granted if it becomes usable within the horizon. A burst
// change keeps the spent fraction. The quota counter is charged, then
// grants min(quota want, what is left of the limit).
// Replies per lease: {granted, wait_ms (until usable, or until want
// tokens exist when refused), tokens_left * 1000, quota granted, quota
// left}.
var leaseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local horizon = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local a = 1 + (i - 1) * 8
  local bkey, qkey = KEYS[2 * i - 1], KEYS[2 * i]
  local rate, burst = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local charge, want = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local qlimit, qcharge = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local qwant, qttl = tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  local tok = burst
  local v = redis.call('GET', bkey)
  if v then
    local s1, s2, s3 = string.match(v, '^(%S+) (%S+) (%S+)$')
    local t0, ts, b0 = tonumber(s1), tonumber(s2), tonumber(s3)
    if t0 and ts and b0 then
      if b0 > 0 and b0 ~= burst then t0 = t0 * burst / b0 end
      if now > ts then t0 = t0 + (now - ts) * rate end
      tok = math.min(burst, t0)
    end
  end
  tok = math.min(burst, tok - charge)
  local granted, wait = 0, 0
  if want > 0 then
    if tok < want then wait = math.ceil((want - tok) / rate) end
    if wait <= horizon then
      granted = want
      tok = tok - want
    end
  end
  local ttl = math.ceil((burst - tok) / rate) + 1000
  redis.call('SET', bkey, string.format('%.17g %d %.17g', tok, now, burst), 'PX', ttl)
  local qgranted, qleft = 0, 0
  if qlimit > 0 then
    local used = tonumber(redis.call('GET', qkey) or '0') or 0
    if qcharge ~= 0 or qwant > 0 then
      used = math.max(0, used + qcharge)
      if qwant > 0 then
        qgranted = math.max(0, math.min(qwant, qlimit - used))
        used = used + qgranted
      end
      redis.call('SET', qkey, string.format('%d', used), 'PX', qttl)
    end
    qleft = math.max(0, qlimit - used)
  end
  out[i] = {granted, wait, math.floor(tok * 1000), qgranted, qleft}
end
return out
`)

// heartbeatScript records this instance in a sorted set scored by Redis
// time, drops instances silent for ARGV[2] ms and returns how many remain.
var heartbeatScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
`)
