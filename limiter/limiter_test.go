package limiter

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"tollgate/conf"
)

func TestBurstThenDenyWithHeaders(t *testing.T) {
	l, _ := newLocal(t, partnerClients(), conf.Limits{})
	for i := 0; i < 20; i++ {
		d := l.Allow("partner-x", ipA, "users", "u")
		if !d.Allowed || d.Remaining != 19-i {
			t.Fatalf("request %d: allowed=%v remaining=%d", i, d.Allowed, d.Remaining)
		}
		if i == 0 {
			if got, want := d.PolicyHeader(), `"partner-x";q=20;w=2`; got != want {
				t.Errorf("policy header %q, want %q", got, want)
			}
			if got, want := d.StateHeader(), `"partner-x";r=19;t=1`; got != want {
				t.Errorf("state header %q, want %q", got, want)
			}
		}
		l.Release("partner-x", ipA, "users")
	}
	d := l.Allow("partner-x", ipA, "users", "u")
	if d.Allowed || d.Reason != ReasonRate || d.RetryAfter != 1 || d.Outcome() != OutcomeDeny {
		t.Fatalf("21st: %+v", d)
	}
	if d.Acquired {
		t.Fatal("a refused request holds a concurrency slot")
	}
	if got, want := d.StateHeader(), `"partner-x";r=0;t=1`; got != want {
		t.Errorf("state header %q, want %q", got, want)
	}
	if d.LimitHeader() != "20" || d.RemainingHeader() != "0" || d.ResetHeader() != "1" || d.RetryAfterHeader() != "1" {
		t.Errorf("legacy headers %s %s %s", d.LimitHeader(), d.RemainingHeader(), d.ResetHeader())
	}
	if d.MetricClient != "partner-x" || d.Policy != "partner-x" {
		t.Errorf("labels %q %q", d.MetricClient, d.Policy)
	}
}

func TestRetryAfterSlowRate(t *testing.T) {
	c := conf.Clients{Default: *q(10, 20), Named: map[string]*conf.Quota{"slow": {Rate: conf.Rate{N: 6, Per: time.Minute}, Burst: 1}}}
	l, clk := newLocal(t, c, conf.Limits{})
	if d := l.Allow("slow", ipA, "r", "u"); !d.Allowed || d.WindowSeconds != 10 || d.ResetSeconds != 10 {
		t.Fatalf("first: %+v", d)
	}
	clk.Advance(3 * time.Second)
	d := l.Allow("slow", ipA, "r", "u")
	if d.Allowed || d.RetryAfter != 7 {
		t.Fatalf("second: allowed=%v retry=%d, want 7", d.Allowed, d.RetryAfter)
	}
}

func TestRefillFakeClock(t *testing.T) {
	l, clk := newLocal(t, partnerClients(), conf.Limits{})
	drain := func() (n int) {
		for i := 0; i < 1000; i++ {
			d := l.Allow("partner-x", ipA, "users", "u")
			if !d.Allowed {
				return n
			}
			l.Release("partner-x", ipA, "users")
			n++
		}
		return n
	}
	if n := drain(); n != 20 {
		t.Fatalf("burst %d, want 20", n)
	}
	for s := 0; s < 3; s++ {
		clk.Advance(time.Second)
		if n := drain(); n != 10 {
			t.Fatalf("second %d: %d refilled, want 10", s, n)
		}
	}
}

// TestRefillRealTime measures the refill rate on the real clock over more
// than two seconds.
func TestRefillRealTime(t *testing.T) {
	l := New(Options{SweepInterval: -1})
	defer l.Close()
	const rate, burst = 50, 5
	if err := l.Apply(conf.Clients{Default: *q(rate, burst)}, conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	admitted := 0
	for i := 0; i < 200_000 && time.Since(start) < 2200*time.Millisecond; i++ {
		if l.Allow("", ipA, "r", "u").Allowed {
			admitted++
		}
		time.Sleep(200 * time.Microsecond)
	}
	want := burst + rate*time.Since(start).Seconds()
	t.Logf("real-time refill: admitted %d, expected %.1f (%.1f%%)", admitted, want, 100*float64(admitted)/want)
	if r := float64(admitted) / want; r < 0.9 || r > 1.1 {
		t.Fatalf("admitted %d, want %.0f ±10%%", admitted, want)
	}
}

func TestPerRouteOverride(t *testing.T) {
	l, _ := newLocal(t, partnerClients(), conf.Limits{})
	for i := 0; i < 2; i++ {
		d := l.Allow("partner-x", ipA, "search", "u")
		if !d.Allowed || d.Policy != "partner-x/search" || d.Limit != 2 {
			t.Fatalf("search %d: %+v", i, d)
		}
		l.Release("partner-x", ipA, "search")
	}
	d := l.Allow("partner-x", ipA, "search", "u")
	if d.Allowed || d.PolicyHeader() != `"partner-x/search";q=2;w=1` {
		t.Fatalf("third search: %+v %s", d, d.PolicyHeader())
	}
	d = l.Allow("partner-x", ipA, "users", "u")
	if !d.Allowed || d.Remaining != 19 || d.Policy != "partner-x" {
		t.Fatalf("other route: %+v", d)
	}
}

func TestDefaultPerAnonymousIPAndID(t *testing.T) {
	c := conf.Clients{Default: *q(1, 3)}
	l, _ := newLocal(t, c, conf.Limits{})
	for _, who := range []struct {
		id string
		ip netip.Addr
	}{{"", ipA}, {"", ipB}, {"bob", ipA}, {"", netip.MustParseAddr("::ffff:192.0.2.9")}} {
		for i := 0; i < 3; i++ {
			if d := l.Allow(who.id, who.ip, "r", "u"); !d.Allowed || d.Policy != "default" || d.MetricClient != "default" {
				t.Fatalf("%v %d: %+v", who, i, d)
			}
		}
		if d := l.Allow(who.id, who.ip, "r", "u"); d.Allowed {
			t.Fatalf("%v: fourth allowed", who)
		}
	}
	// The IPv4-mapped form is the same caller as plain IPv4.
	if d := l.Allow("", netip.MustParseAddr("192.0.2.9"), "r", "u"); d.Allowed {
		t.Fatal("IPv4 and its mapped form are different callers")
	}
	if n := l.Tracked(); n != 4 {
		t.Fatalf("tracked %d, want 4", n)
	}
}

func TestConcurrency(t *testing.T) {
	c := partnerClients()
	c.Named["partner-x"].Concurrency = 2
	c.Default.Concurrency = 1
	l, _ := newLocal(t, c, conf.Limits{})
	for i := 0; i < 2; i++ {
		if d := l.Allow("partner-x", ipA, "users", "u"); !d.Allowed || !d.Acquired {
			t.Fatalf("%d: %+v", i, d)
		}
	}
	d := l.Allow("partner-x", ipA, "search", "u")
	if d.Allowed || d.Reason != ReasonConcurrency || d.RetryAfter != 1 || d.Acquired {
		t.Fatalf("third in flight: %+v", d)
	}
	if d.Remaining != 2 {
		t.Fatalf("a concurrency refusal took a token: remaining %d", d.Remaining)
	}
	l.Release("partner-x", ipA, "users")
	if d := l.Allow("partner-x", ipA, "search", "u"); !d.Allowed || !d.Acquired {
		t.Fatalf("after release: %+v", d)
	}
	// Anonymous callers have their own bound.
	if d := l.Allow("", ipA, "r", "u"); !d.Allowed || !d.Acquired {
		t.Fatalf("anon: %+v", d)
	}
	if d := l.Allow("", ipA, "r", "u"); d.Allowed || d.Reason != ReasonConcurrency {
		t.Fatalf("anon second: %+v", d)
	}
	if d := l.Allow("", ipB, "r", "u"); !d.Allowed {
		t.Fatalf("other anon: %+v", d)
	}
	l.Release("", ipA, "r")
	if d := l.Allow("", ipA, "r", "u"); !d.Allowed {
		t.Fatalf("anon after release: %+v", d)
	}
}

func TestShadow(t *testing.T) {
	c := partnerClients()
	c.Named["partner-x"].Mode = conf.ModeShadow
	c.Named["partner-x"].Burst = 2
	c.Named["partner-x"].Concurrency = 0
	l, _ := newLocal(t, c, conf.Limits{})
	for i := 0; i < 2; i++ {
		if d := l.Allow("partner-x", ipA, "users", "u"); !d.Allowed || d.Shadow || d.Outcome() != OutcomeAllow {
			t.Fatalf("%d: %+v", i, d)
		}
	}
	d := l.Allow("partner-x", ipA, "users", "u")
	if !d.Allowed || !d.Shadow || d.Outcome() != OutcomeShadowDeny || d.Remaining != 0 || d.RetryAfter != 1 {
		t.Fatalf("shadow deny: %+v", d)
	}
	if d.StateHeader() != `"partner-x";r=0;t=1` {
		t.Fatalf("shadow headers %s", d.StateHeader())
	}
}

func TestEvictionAtCap(t *testing.T) {
	const keys = 160 // 16 shards × 10
	l, clk := newLocal(t, conf.Clients{Default: *q(1, 5)}, conf.Limits{MaxTrackedKeys: keys})
	hammer := netip.MustParseAddr("203.0.113.7")
	for i := 0; i < 5; i++ {
		l.Allow("", hammer, "r", "u")
	}
	if l.Allow("", hammer, "r", "u").Allowed {
		t.Fatal("burst not spent")
	}
	// 5,000 other callers, each spending a token: the table stays bounded
	// and the hammering caller is evicted long before the end.
	for i := 0; i < 5000; i++ {
		l.Allow("", netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "r", "u")
	}
	if n := l.Tracked(); n > keys {
		t.Fatalf("tracked %d > max_tracked_keys %d", n, keys)
	}
	// Still hammering: no fresh bucket thanks to the ghost summary.
	if d := l.Allow("", hammer, "r", "u"); d.Allowed {
		t.Fatalf("evicted caller came back with tokens: %+v", d)
	}
	// Idle callers expire once refilled.
	clk.Advance(10 * time.Second)
	if d := l.Allow("", hammer, "r", "u"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after refilling: %+v", d)
	}
	clk.Advance(10 * time.Second)
	if n := l.Sweep(); n == 0 || l.Tracked() != 0 {
		t.Fatalf("sweep removed %d, %d left", n, l.Tracked())
	}
}

func TestEvictionPrefersFullBuckets(t *testing.T) {
	l, clk := newLocal(t, conf.Clients{Default: *q(1, 5)}, conf.Limits{MaxTrackedKeys: 16})
	// One key per shard would be ideal; with 16 shards × 1 key, any insert
	// into a shard evicts its only key. A spent key evicted this way is
	// remembered, a full one is simply dropped.
	spent := netip.MustParseAddr("198.51.100.1")
	for i := 0; i < 5; i++ {
		l.Allow("", spent, "r", "u")
	}
	for i := 0; i < 200; i++ {
		l.Allow("", netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "r", "u")
		clk.Advance(time.Millisecond)
	}
	if d := l.Allow("", spent, "r", "u"); d.Allowed {
		t.Fatalf("spent caller refilled by eviction: %+v", d)
	}
}

func TestReloadKeepsRescalesForgets(t *testing.T) {
	c := partnerClients()
	l, _ := newLocal(t, c, conf.Limits{})
	take := func(n int) (d Decision) {
		for i := 0; i < n; i++ {
			d = l.Allow("partner-x", ipA, "users", "u")
			l.Release("partner-x", ipA, "users")
		}
		return d
	}
	take(10) // 10 of 20 left
	for i := 0; i < 3; i++ {
		l.Allow("", ipA, "r", "u")
	}
	if err := l.Apply(partnerClients(), conf.Limits{}, []string{"users", "search"}); err != nil {
		t.Fatal(err)
	}
	if d := take(1); d.Remaining != 9 {
		t.Fatalf("unchanged quota: remaining %d, want 9", d.Remaining)
	}
	if d := l.Allow("", ipA, "r", "u"); d.Remaining != 196 {
		t.Fatalf("default caller after reload: remaining %d, want 196", d.Remaining)
	}
	// Burst doubled: 9/20 left becomes 18/40 left.
	c2 := partnerClients()
	c2.Named["partner-x"].Burst = 40
	if err := l.Apply(c2, conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := take(1); d.Remaining != 17 || d.Limit != 40 {
		t.Fatalf("rescaled: remaining %d limit %d, want 17 of 40", d.Remaining, d.Limit)
	}
	// Removed: forgotten. The id falls back to the default policy...
	if err := l.Apply(conf.Clients{Default: *q(100, 200)}, conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := take(1); d.Policy != "default" || d.Remaining != 199 {
		t.Fatalf("removed client: %+v", d)
	}
	// ...and when it is named again its bucket starts afresh.
	if err := l.Apply(partnerClients(), conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := take(1); d.Remaining != 19 {
		t.Fatalf("re-added client: remaining %d, want 19", d.Remaining)
	}
}

func TestApplyRejectsBadConfigAndKeepsOld(t *testing.T) {
	l, _ := newLocal(t, partnerClients(), conf.Limits{})
	bad := []struct {
		c conf.Clients
		l conf.Limits
	}{
		{conf.Clients{Default: *q(0, 1)}, conf.Limits{}},
		{conf.Clients{Default: *q(1, 0)}, conf.Limits{}},
		{conf.Clients{Default: conf.Quota{Rate: perSec(1), Burst: 1, Mode: "loud"}}, conf.Limits{}},
		{partnerClients(), conf.Limits{Store: "memcached"}},
		{partnerClients(), conf.Limits{Store: "redis"}},
	}
	for i, b := range bad {
		if err := l.Apply(b.c, b.l, nil); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
	if d := l.Allow("partner-x", ipA, "users", "u"); d.Policy != "partner-x" || d.Remaining != 19 {
		t.Fatalf("old config not kept: %+v", d)
	}
}

func TestNoConfigAllows(t *testing.T) {
	l := New(Options{SweepInterval: -1})
	defer l.Close()
	if d := l.Allow("x", ipA, "r", "u"); !d.Allowed || d.Metered() {
		t.Fatalf("%+v", d)
	}
}

func TestManyGoroutines(t *testing.T) {
	l, _ := newLocal(t, conf.Clients{Default: *q(1, 100), Named: map[string]*conf.Quota{"n": q(1, 100)}}, conf.Limits{})
	done := make(chan int)
	for g := 0; g < 8; g++ {
		go func(g int) {
			n := 0
			for i := 0; i < 100; i++ {
				if l.Allow("n", ipA, "r", "u").Allowed {
					n++
				}
				if l.Allow(fmt.Sprint("c", i%3), ipA, "r", "u").Allowed {
					n++
				}
			}
			done <- n
		}(g)
	}
	total := 0
	for g := 0; g < 8; g++ {
		total += <-done
	}
	if total != 400 {
		t.Fatalf("admitted %d across goroutines, want exactly 400 (4 buckets × 100)", total)
	}
}

func TestDefaultRouteOverride(t *testing.T) {
	c := conf.Clients{Default: conf.Quota{Rate: perSec(1), Burst: 5, Routes: map[string]conf.RouteQuota{"search": {Rate: perSec(1), Burst: 1}}}}
	l, _ := newLocal(t, c, conf.Limits{})
	if d := l.Allow("", ipA, "search", "u"); !d.Allowed || d.Policy != "default/search" || d.MetricClient != "default" {
		t.Fatalf("%+v", d)
	}
	if d := l.Allow("", ipA, "search", "u"); d.Allowed {
		t.Fatal("override burst not applied")
	}
	if d := l.Allow("", ipA, "users", "u"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("base bucket: %+v", d)
	}
	// Reload keeps the route's id, hence the caller's state.
	if err := l.Apply(c, conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := l.Allow("", ipA, "search", "u"); d.Allowed {
		t.Fatal("override bucket reset by reload")
	}
}
