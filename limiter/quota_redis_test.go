package limiter

import (
	"testing"
	"time"

	"tollgate/conf"
)

// quotaRedisClients is a named client with a quota of limit per day and a
// bucket far above it.
func quotaRedisClients(limit int64) conf.Clients {
	c := conf.Clients{Default: *q(10, 10), Named: map[string]*conf.Quota{"buyer": q(1000, 1000)}}
	c.Named["buyer"].Quota = &conf.PeriodQuota{Limit: limit, Period: conf.PeriodDay}
	return c
}

// spendQuota calls Decide for buyer on l until the quota refuses for good (a
// refusal with a long Retry-After) or d passes; it returns the admitted.
func spendQuota(l *Limiter, d time.Duration) (admitted int64) {
	deadline := time.Now().Add(d)
	for n := 0; n < 100_000 && time.Now().Before(deadline); n++ {
		dec := l.Decide(&Request{ClientID: "buyer", Route: "r", Cost: 1})
		switch {
		case dec.Allowed:
			admitted++
		case dec.Reason == ReasonQuota && dec.RetryAfter > 1:
			return admitted
		}
		time.Sleep(200 * time.Microsecond)
	}
	return admitted
}

// TestRedisQuotaShared: three limiters spending one quota through Redis
// admit it exactly when the client keeps coming to all of them; the
// worst case for overshoot — two limiters that never saw the key, asked
// after the quota is spent — admits at most their credit (one chunk each)
// before Redis tells them. Measured numbers are logged.
func TestRedisQuotaShared(t *testing.T) {
	srv := startRedis(t)
	const limit = 3000
	ls := make([]*Limiter, 3)
	for i := range ls {
		ls[i] = newRedisLimiter(t, quotaRedisClients(limit), redisLimits(srv.addr(), FailDeny), nil)
	}
	waitInstances(t, ls, 3)
	srv.resetStats(t)
	counts := make([]int64, len(ls))
	done := make(chan struct{})
	for i, l := range ls {
		go func() { counts[i] = spendQuota(l, 10*time.Second); done <- struct{}{} }()
	}
	for range ls {
		<-done
	}
	stats := srv.commandStats(t)
	all := 0
	for _, c := range stats {
		all += c
	}
	got := sum(counts)
	t.Logf("3 limiters, quota %d: admitted %d %v (%+.2f%%); %d Redis commands = %.4f per admitted",
		limit, got, counts, 100*(float64(got)/limit-1), all, float64(all)/float64(got))
	if got < limit*98/100 || got > limit*101/100 {
		t.Errorf("admitted %d of a quota of %d", got, limit)
	}

	// Worst case: fresh limiters (new leases, no answer from Redis yet)
	// after the quota is spent.
	fresh := []*Limiter{
		newRedisLimiter(t, quotaRedisClients(limit), redisLimits(srv.addr(), FailDeny), nil),
		newRedisLimiter(t, quotaRedisClients(limit), redisLimits(srv.addr(), FailDeny), nil),
	}
	waitInstances(t, fresh, 5)
	var over int64
	for _, l := range fresh {
		over += spendQuota(l, 5*time.Second)
	}
	// Each may spend its credit, one chunk: at most limit/(10·instances).
	bound := int64(2 * limit / (10 * 5))
	t.Logf("fresh limiters after the quota was spent: %d more admitted (bound %d)", over, bound)
	if over > bound {
		t.Errorf("overshoot %d above the credit bound %d", over, bound)
	}
}
