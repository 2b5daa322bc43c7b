package limiter

import (
	"testing"

	"tollgate/conf"
)

// TestRedisFirstBurstServedWhole: with the Redis store a new caller's
// first burst is admitted as the local store would admit it (its share of
// the burst), then it is refused: rate 10/s, burst 20, one instance.
func TestRedisFirstBurstServedWhole(t *testing.T) {
	rs := startRedis(t)
	clients := conf.Clients{Default: *q(10, 20), Named: map[string]*conf.Quota{"partner-x": q(10, 20)}}
	l := newRedisLimiter(t, clients, redisLimits(rs.addr(), FailDeny), nil)
	for _, id := range []string{"partner-x", ""} {
		admitted := 0
		for i := 0; i < 25; i++ {
			if l.Allow(id, ipA, "r", "u").Allowed {
				admitted++
			}
		}
		if admitted < 20 || admitted > 21 {
			t.Errorf("%q: %d of 25 immediate requests admitted, want the burst of 20", id, admitted)
		}
	}
}
