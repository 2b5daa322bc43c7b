package limiter

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// usageTimeout bounds the Redis reads of one usage request.
const usageTimeout = 2 * time.Second

// peekScript reads shared buckets without charging them: for each key,
// the tokens it holds at Redis's clock (refilled at ARGV[i*2-1] tokens per
// ms up to the burst ARGV[i*2]), times 1000; a missing key is a full
// bucket. Every key of a call carries the same hash tag.
var peekScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[i * 2 - 1]), tonumber(ARGV[i * 2])
  local tok = burst
  local v = redis.call('GET', KEYS[i])
  if v then
    local s1, s2, s3 = string.match(v, '^(%S+) (%S+) (%S+)$')
    local t0, ts, b0 = tonumber(s1), tonumber(s2), tonumber(s3)
    if t0 and ts and b0 then
      if b0 > 0 and b0 ~= burst then t0 = t0 * burst / b0 end
      if now > ts then t0 = t0 + (now - ts) * rate end
      tok = math.min(burst, t0)
    end
  end
  out[i] = math.floor(tok * 1000)
end
return out
`)

// peek returns what a request would find in the lease without taking
// anything: its usable tokens (a reservation that has come due included,
// and the credit a key that gave its tokens back starts again with) plus
// the shared bucket as of the last sync — the figure the RateLimit header
// is computed from.
func (ls *lease) peek(now int64, credit float64) float64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	avail, pend := ls.avail, ls.pend
	if pend > 0 && now >= ls.pendAt {
		avail += pend
		pend = 0
	}
	if ls.returned && avail < 1 && pend == 0 {
		avail += credit
	}
	return avail + max(0, ls.global)
}

// holdings returns the lease's unspent tokens (usable or reserved) and
// the tokens not yet reported to Redis.
func (ls *lease) holdings() (leased, unreported float64) {
	if ls == nil {
		return 0, 0
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.avail + ls.pend, ls.owed
}

// fillGlobal reads the shared buckets noted while reading, when asked
// for and the store is up: one script call per hash tag.
func (r *usageReader) fillGlobal(ctx context.Context, o UsageOptions) {
	st := r.sn.store
	if !o.Global || st == nil || len(r.wanted) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, usageTimeout)
	defer cancel()
	byTag := map[int][]globalWant{}
	for _, w := range r.wanted {
		tag := st.tagOfKey(w.key)
		byTag[tag] = append(byTag[tag], w)
	}
	for _, ws := range byTag {
		st.readGlobal(ctx, ws)
	}
}

// readGlobal runs peekScript for buckets of one hash tag and fills their
// Global figures (or the error).
func (st *redisStore) readGlobal(ctx context.Context, ws []globalWant) {
	keys := make([]string, len(ws))
	args := make([]any, 0, 2*len(ws))
	for i, w := range ws {
		keys[i] = w.key
		args = append(args, fmtFloat(w.pu.Rate/1000), fmtFloat(float64(w.pu.Limit)))
	}
	res, err := peekScript.Run(ctx, st.client, keys, args...).Int64Slice()
	st.calls.Add(1)
	if err == nil && len(res) != len(ws) {
		err = fmt.Errorf("peek script: %d replies for %d keys", len(res), len(ws))
	}
	for i, w := range ws {
		g := &GlobalUsage{}
		g.Leased, g.Unreported = w.ls.holdings()
		if err != nil {
			g.Error = fmt.Sprintf("reading the shared bucket: %v", err)
		} else {
			g.Tokens = math.Round(float64(res[i])) / 1000
		}
		w.pu.Global = g
	}
}

// tagOfKey returns the hash tag a key built by key carries.
func (st *redisStore) tagOfKey(key string) int {
	var tag int
	if _, err := fmt.Sscanf(key[len(keyPrefix):], "{%d}", &tag); err != nil {
		return 0
	}
	return tag
}
