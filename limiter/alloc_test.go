//go:build !race

package limiter

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// TestAllowDoesNotAllocate pins zero allocations per Allow for a key the
// limiter already tracks: named, per-route, unlisted id and anonymous IP,
// with the adaptive factor on.
func TestAllowDoesNotAllocate(t *testing.T) {
	clk := testkit.NewClock(testkit.Epoch)
	l := New(Options{Now: clk.Now, SweepInterval: -1})
	defer l.Close()
	c := partnerClients()
	c.Named["partner-x"].Concurrency = 0
	if err := l.Apply(c, adaptiveLimits(), nil); err != nil {
		t.Fatal(err)
	}
	l.Observe("users", time.Millisecond, false)
	for _, k := range []struct{ id, route string }{{"partner-x", "users"}, {"partner-x", "search"}, {"bob", "users"}, {"", "users"}} {
		l.Allow(k.id, ipA, k.route, "users")
		allocs := testing.AllocsPerRun(1000, func() {
			clk.Advance(time.Second)
			d := l.Allow(k.id, ipA, k.route, "users")
			_ = d.PolicyHeader()
			_ = d.LimitHeader()
			_ = d.ResetHeader()
		})
		if allocs != 0 {
			t.Errorf("%v: %.1f allocs per Allow", k, allocs)
		}
	}
}

// TestMemoryPerAnonymousCaller reports the heap held per tracked anonymous
// caller with one million distinct addresses.
func TestMemoryPerAnonymousCaller(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 100 MB")
	}
	const n = 1_000_000
	clk := testkit.NewClock(testkit.Epoch)
	l := New(Options{Now: clk.Now, SweepInterval: -1})
	defer l.Close()
	if err := l.Apply(conf.Clients{Default: *q(100, 200)}, conf.Limits{MaxTrackedKeys: n}, nil); err != nil {
		t.Fatal(err)
	}
	before := heap()
	for i := 0; i < n; i++ {
		l.Allow("", netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "r", "u")
	}
	after := heap()
	if got := l.Tracked(); got < n*9/10 {
		t.Fatalf("tracked %d of %d", got, n)
	}
	per := float64(after-before) / float64(l.Tracked())
	t.Logf("1M anonymous callers: %d tracked, %.1f MB, %.1f bytes per key", l.Tracked(), float64(after-before)/1e6, per)
	if per > 200 {
		t.Errorf("%.0f bytes per key", per)
	}
	runtime.KeepAlive(l)
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestAllowRedisDoesNotAllocate: with the Redis store, deciding from a
// lease does not allocate either (the sync goroutine's batches do, off the
// request path).
func TestAllowRedisDoesNotAllocate(t *testing.T) {
	srv := startRedis(t)
	c := conf.Clients{Default: *q(1e6, 1e6), Named: map[string]*conf.Quota{"n": q(1e6, 1e6)}}
	l := newRedisLimiter(t, c, redisLimits(srv.addr(), FailLocal), nil)
	for _, id := range []string{"n", "", "bob"} {
		for i := 0; i < 10; i++ {
			l.Allow(id, ipA, "r", "u")
			time.Sleep(60 * time.Millisecond) // first lease settles
		}
		allocs := testing.AllocsPerRun(1000, func() { l.Allow(id, ipA, "r", "u") })
		if allocs > 0.01 {
			t.Errorf("%q: %.3f allocs per Allow", id, allocs)
		}
	}
}

// TestDecideQuotaDoesNotAllocate pins zero allocations per Decide with a
// cost and a quota (named, plan member, tenant, anonymous) and per Charge,
// with the headers formatted.
func TestDecideQuotaDoesNotAllocate(t *testing.T) {
	clk := testkit.NewClock(testkit.Epoch)
	l := New(Options{Now: clk.Now, SweepInterval: -1})
	defer l.Close()
	if err := l.ApplyConfig(quotaAllocConfig()); err != nil {
		t.Fatal(err)
	}
	var buf [256]byte
	for _, r := range []Request{
		{ClientID: "n", Route: "r", Cost: 5},
		{ClientID: "alice", Plan: "gold", Route: "r", Cost: 5},
		{ClientID: "alice", Plan: "gold", Tenant: "acme", Route: "r", Cost: 5},
		{ClientID: "x", Plan: "team", Route: "r", Cost: 5},
		{ClientIP: ipA, Route: "r", Cost: 5},
	} {
		d0 := l.Decide(&r)
		_ = d0.PolicyHeader()
		allocs := testing.AllocsPerRun(1000, func() {
			clk.Advance(time.Millisecond)
			d := l.Decide(&r)
			_ = d.PolicyHeader()
			_ = d.AppendStateHeader(buf[:0])
			l.Charge(&r, 3)
		})
		if allocs != 0 {
			t.Errorf("%+v: %.1f allocs per Decide and Charge", r, allocs)
		}
	}
}

// TestDecideQuotaRedisDoesNotAllocate: with the Redis store, deciding a
// quota from a lease does not allocate either.
func TestDecideQuotaRedisDoesNotAllocate(t *testing.T) {
	srv := startRedis(t)
	cfg := quotaAllocConfig()
	cfg.Limits = redisLimits(srv.addr(), FailLocal)
	l := New(Options{SweepInterval: -1})
	t.Cleanup(l.Close)
	if err := l.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Request{
		{ClientID: "n", Route: "r", Cost: 2},
		{ClientID: "alice", Plan: "gold", Route: "r", Cost: 2},
		{ClientIP: ipA, Route: "r", Cost: 2},
	} {
		for range 10 {
			l.Decide(&r)
			time.Sleep(60 * time.Millisecond) // first lease settles
		}
		allocs := testing.AllocsPerRun(1000, func() { l.Decide(&r) })
		if allocs > 0.01 {
			t.Errorf("%+v: %.3f allocs per Decide", r, allocs)
		}
	}
}

// TestManySubjectsOnAPlanStayBounded: 100,000 distinct members of one plan
// with a quota are tracked within max_tracked_keys, and the heap stays
// bounded; evicted members come back with their quota count (ghost).
func TestManySubjectsOnAPlanStayBounded(t *testing.T) {
	cfg := planConfig()
	const limit, n = 20_000, 100_000
	cfg.Limits = conf.Limits{MaxTrackedKeys: limit}
	l, _ := newPlans(t, cfg)
	before := heap()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("member-%06d", i)
	}
	after0 := heap()
	for _, id := range ids {
		if d := l.Decide(req(id, "gold", 1)); !d.Allowed {
			t.Fatalf("%s refused: %+v", id, d)
		}
	}
	after := heap()
	if got := l.Tracked(); got > limit+16 {
		t.Errorf("tracked %d callers, cap %d", got, limit)
	}
	grew := int64(after) - int64(after0)
	t.Logf("100k members: %d tracked, heap +%.1f MB (ids %.1f MB)", l.Tracked(), float64(grew)/1e6, float64(after0-before)/1e6)
	if grew > 8<<20 {
		t.Errorf("heap grew %d bytes for %d tracked callers", grew, l.Tracked())
	}
	// The first members were evicted; their count comes back from the
	// ghost summary (possibly larger on a collision, never smaller).
	if d := l.Decide(req(ids[0], "gold", 1)); d.QuotaRemaining > 1000-2 {
		t.Errorf("evicted member came back with %d units left, want at most %d", d.QuotaRemaining, 1000-2)
	}
}
