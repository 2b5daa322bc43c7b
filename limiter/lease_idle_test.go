package limiter

import (
	"testing"
	"time"

	"tollgate/conf"
)

// TestRedisIdleLeaseComesBack: a caller under its quota that goes idle
// (its lease gives its tokens back to Redis) is not refused when it comes
// back: it starts again with its credit, as a new key would. Named
// clients (whose leases are never dropped) and unlisted callers alike.
func TestRedisIdleLeaseComesBack(t *testing.T) {
	rs := startRedis(t)
	clients := conf.Clients{Default: *q(100, 200), Named: map[string]*conf.Quota{"partner-x": q(100, 200)}}
	l := newRedisLimiter(t, clients, redisLimits(rs.addr(), FailDeny), nil)
	callers := []struct{ id string }{{"partner-x"}, {"unlisted-co"}, {""}}
	for _, c := range callers {
		for i := 0; i < 3; i++ {
			if d := l.Allow(c.id, ipA, "r", "u"); !d.Allowed {
				t.Fatalf("%q: request %d refused", c.id, i+1)
			}
		}
	}
	// Idle for longer than idleAfter (1s): the sweep gives the tokens back.
	time.Sleep(1200 * time.Millisecond)
	l.Sweep()
	time.Sleep(200 * time.Millisecond) // the sync returns them to Redis
	for _, c := range callers {
		if d := l.Allow(c.id, ipA, "r", "u"); !d.Allowed {
			t.Errorf("%q: refused after an idle second, well under its quota (reason %q)", c.id, d.Reason)
		}
	}
	// The credit is charged: Redis is told within a sync.
	time.Sleep(200 * time.Millisecond)
	for _, c := range callers {
		for i := 0; i < 3; i++ {
			if d := l.Allow(c.id, ipA, "r", "u"); !d.Allowed {
				t.Errorf("%q: refused later (request %d)", c.id, i+1)
			}
		}
	}
}
