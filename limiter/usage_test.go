package limiter

import (
	"context"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// base returns a ClientUsage's base policy (the first).
func base(t *testing.T, cu ClientUsage) PolicyUsage {
	t.Helper()
	if len(cu.Policies) == 0 {
		t.Fatalf("%s: no policies", cu.Client)
	}
	return cu.Policies[0]
}

// clientUsage returns one caller's usage or fails.
func clientUsage(t *testing.T, l *Limiter, id string, o UsageOptions) ClientUsage {
	t.Helper()
	cu, ok := l.Client(context.Background(), id, o)
	if !ok {
		t.Fatalf("Client(%q): not found", id)
	}
	return cu
}

// TestUsageReadsWithoutConsuming spends part of a named client's quota and
// checks that the usage read matches what the next decision reports (one
// token less), however often it is read, for the base quota and an
// override, with the concurrency slots in flight.
func TestUsageReadsWithoutConsuming(t *testing.T) {
	l, clk := newLocal(t, partnerClients(), conf.Limits{})
	var held []Decision
	for range 5 {
		d := l.Allow("partner-x", ipA, "users", "u")
		held = append(held, d)
	}
	for range 10 {
		clientUsage(t, l, "partner-x", UsageOptions{})
	}
	cu := clientUsage(t, l, "partner-x", UsageOptions{})
	if cu.Kind != KindNamed || cu.Concurrency != 10 || cu.InFlight == nil || *cu.InFlight != 5 {
		t.Fatalf("usage %+v, want named with 5 of 10 in flight", cu)
	}
	p := base(t, cu)
	if p.Policy != "partner-x" || p.Limit != 20 || p.Rate != 10 || p.Remaining != 15 || p.ResetSeconds != 1 || p.Source != "local" {
		t.Fatalf("base policy %+v, want 15 of 20 left at 10/s", p)
	}
	if want := testkit.Epoch.Add(500 * time.Millisecond).UTC(); !p.FullAt.Equal(want) {
		t.Errorf("full_at %v, want %v (5 tokens at 10/s)", p.FullAt, want)
	}
	if d := l.Allow("partner-x", ipA, "users", "u"); d.Remaining != p.Remaining-1 {
		t.Errorf("next decision has %d left, usage said %d", d.Remaining, p.Remaining)
	}
	if len(cu.Policies) != 2 || cu.Policies[1].Route != "search" || cu.Policies[1].Remaining != 2 {
		t.Fatalf("override %+v, want search with 2 left", cu.Policies)
	}
	l.Allow("partner-x", ipA, "search", "u")
	if s := clientUsage(t, l, "partner-x", UsageOptions{}).Policies[1]; s.Remaining != 1 {
		t.Errorf("search override has %d left after one request, want 1", s.Remaining)
	}
	for i := range held {
		l.ReleaseDecision(&held[i], "partner-x", ipA, "users")
	}
	clk.Advance(time.Minute)
	if p := base(t, clientUsage(t, l, "partner-x", UsageOptions{})); p.Remaining != 20 || p.ResetSeconds != 0 {
		t.Errorf("after a minute: %+v, want full", p)
	}
}

// TestUsageOfTrackedCallers reads anonymous addresses and unlisted ids,
// which exist only while they hold a bucket.
func TestUsageOfTrackedCallers(t *testing.T) {
	l, _ := newLocal(t, partnerClients(), conf.Limits{})
	for range 3 {
		l.Allow("", ipA, "users", "u")
	}
	l.Allow("bob", ipB, "users", "u")
	a := clientUsage(t, l, ipA.String(), UsageOptions{})
	if a.Kind != KindAddress || base(t, a).Remaining != 197 || base(t, a).Policy != DefaultPolicy {
		t.Errorf("address usage %+v, want 197 of the default's 200", a)
	}
	b := clientUsage(t, l, "bob", UsageOptions{})
	if b.Kind != KindClientID || base(t, b).Remaining != 199 {
		t.Errorf("client id usage %+v, want 199", b)
	}
	for _, id := range []string{"nobody", ipB.String(), ""} {
		if _, ok := l.Client(context.Background(), id, UsageOptions{}); ok {
			t.Errorf("Client(%q) found an untracked caller", id)
		}
	}
	ov := l.Overview(context.Background(), UsageOptions{})
	if ov.Store != "local" || len(ov.Clients) != 1 || ov.Clients[0].Client != "partner-x" || ov.Default.Tracked != 2 || ov.Default.Limit != 200 {
		t.Errorf("overview %+v", ov)
	}
}

// TestResetRefills resets a named client and a tracked address.
func TestResetRefills(t *testing.T) {
	cs := partnerClients()
	cs.Named["partner-x"].Concurrency = 0 // the requests below never end
	l, _ := newLocal(t, cs, conf.Limits{})
	for range 20 {
		l.Allow("partner-x", ipA, "users", "u")
	}
	l.Allow("partner-x", ipA, "search", "u")
	l.Allow("", ipA, "users", "u")
	if d := l.Allow("partner-x", ipA, "users", "u"); d.Allowed {
		t.Fatal("the bucket should be empty")
	}
	n, err := l.Reset(context.Background(), "partner-x")
	if err != nil || n != 2 {
		t.Fatalf("Reset = %d, %v; want 2 buckets", n, err)
	}
	cu := clientUsage(t, l, "partner-x", UsageOptions{})
	if base(t, cu).Remaining != 20 || cu.Policies[1].Remaining != 2 {
		t.Errorf("after reset %+v, want full buckets", cu.Policies)
	}
	if d := l.Allow("partner-x", ipA, "users", "u"); !d.Allowed || d.Remaining != 19 {
		t.Errorf("after reset the decision is %+v, want allowed with 19 left", d)
	}
	if n, _ := l.Reset(context.Background(), ipA.String()); n != 1 {
		t.Errorf("Reset(address) = %d, want 1", n)
	}
	if n, _ := l.Reset(context.Background(), "nobody"); n != 0 {
		t.Errorf("Reset(unknown) = %d, want 0", n)
	}
}

// TestUsageWithRedis reads the shared bucket of a real redis-server: the
// usage agrees with the next decision within one token, the global
// figure shows what this instance took from Redis, and a reset deletes
// the shared bucket.
func TestUsageWithRedis(t *testing.T) {
	srv := startRedis(t)
	clients := conf.Clients{Default: *q(10, 10), Named: map[string]*conf.Quota{"shared": {Rate: conf.Rate{N: 1, Per: time.Minute}, Burst: 10}}}
	l := newRedisLimiter(t, clients, redisLimits(srv.addr(), FailLocal), nil)
	ctx := context.Background()
	g := base(t, clientUsage(t, l, "shared", UsageOptions{Global: true}))
	if g.Source != "redis" || g.Remaining != 10 || g.Global == nil || g.Global.Error != "" || g.Global.Tokens != 10 {
		t.Fatalf("before any request: %+v %+v, want a full shared bucket", g, g.Global)
	}
	for range 4 {
		l.Allow("shared", ipA, "r", "u")
	}
	// The lease's credit (the whole burst, one instance) is charged at the
	// next sync.
	var p PolicyUsage
	testkit.Eventually(t, "the sync charges the credit", func() bool {
		p = base(t, clientUsage(t, l, "shared", UsageOptions{Global: true}))
		return p.Global.Unreported == 0 && p.Global.Tokens < 1
	})
	if p.Remaining != 6 || p.Global.Leased != 6 {
		t.Errorf("usage %+v %+v, want 6 left, all leased here", p, p.Global)
	}
	if d := l.Allow("shared", ipA, "r", "u"); d.Remaining < p.Remaining-2 || d.Remaining > p.Remaining {
		t.Errorf("next decision has %d left, usage said %d", d.Remaining, p.Remaining)
	}
	if n, err := l.Reset(ctx, "shared"); n != 1 || err != nil {
		t.Fatalf("Reset = %d, %v", n, err)
	}
	if v, err := srv.client().Exists(ctx, l.snap.Load().store.key("c:shared")).Result(); err != nil || v != 0 {
		t.Errorf("the shared bucket survived the reset: exists=%d err=%v", v, err)
	}
	p = base(t, clientUsage(t, l, "shared", UsageOptions{Global: true}))
	if p.Remaining != 10 || p.Global.Tokens != 10 {
		t.Errorf("after reset %+v %+v, want full", p, p.Global)
	}
}

// TestUsageConcurrentWithDecisions reads and resets while decisions run
// on other goroutines (run with -race), then checks the figures still
// agree with the next decision.
func TestUsageConcurrentWithDecisions(t *testing.T) {
	srv := startRedis(t)
	clients := conf.Clients{Default: *q(1000, 1000), Named: map[string]*conf.Quota{"shared": q(1000, 500)}}
	l := newRedisLimiter(t, clients, redisLimits(srv.addr(), FailLocal), nil)
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.Allow("shared", ipA, "r", "u")
			l.Allow("", ipB, "r", "u")
		}
	}()
	deadline := time.Now().Add(300 * time.Millisecond)
	for i := 0; i < 10_000 && time.Now().Before(deadline); i++ {
		l.Overview(ctx, UsageOptions{Global: i%2 == 0})
		l.Client(ctx, ipB.String(), UsageOptions{Global: true})
		if i%10 == 0 {
			if _, err := l.Reset(ctx, "shared"); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-done
	if _, err := l.Reset(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	p := base(t, clientUsage(t, l, "shared", UsageOptions{}))
	if d := l.Allow("shared", ipA, "r", "u"); p.Remaining != 500 || d.Remaining != 499 {
		t.Errorf("after the load and a reset: usage said %d, the next decision %d; want 500 then 499", p.Remaining, d.Remaining)
	}
}
