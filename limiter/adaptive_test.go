package limiter

import (
	"fmt"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

func adaptiveLimits() conf.Limits {
	return conf.Limits{Adaptive: conf.Adaptive{Enabled: true, TargetLatency: 100 * time.Millisecond, MinFactor: 0.1}}
}

func TestAdaptiveFactorDropsAndRecovers(t *testing.T) {
	l, clk := newLocal(t, partnerClients(), adaptiveLimits())
	window := l.opts.AdaptiveWindow
	feed := func(latency time.Duration, windows int) {
		for w := 0; w < windows; w++ {
			for i := 0; i < 20; i++ {
				l.Observe("users", latency, false)
			}
			clk.Advance(window)
		}
	}
	feed(10*time.Millisecond, 3)
	if f := l.Factor("users"); f != 1 {
		t.Fatalf("healthy factor %v", f)
	}
	feed(300*time.Millisecond, 3)
	f1 := l.Factor("users")
	if f1 >= 0.5 || f1 < 0.1 {
		t.Fatalf("after 3 slow windows factor %v, want about 0.42", f1)
	}
	feed(300*time.Millisecond, 30)
	if f := l.Factor("users"); f != 0.1 {
		t.Fatalf("floor: factor %v, want min_factor 0.1", f)
	}
	if got := gauge(t, l, "users"); got != 0.1 {
		t.Fatalf("tollgate_ratelimit_factor %v", got)
	}
	// Errors count as overload too.
	feed(10*time.Millisecond, 20)
	if f := l.Factor("users"); f != 1 {
		t.Fatalf("recovered factor %v, want 1", f)
	}
	for i := 0; i < 20; i++ {
		l.Observe("users", time.Millisecond, i%2 == 0)
	}
	clk.Advance(window)
	if f := l.Factor("users"); f >= 1 {
		t.Fatalf("errors did not lower the factor: %v", f)
	}
	// A quiet upstream recovers with time alone.
	clk.Advance(20 * window)
	if f := l.Factor("users"); f != 1 {
		t.Fatalf("idle upstream factor %v, want 1", f)
	}
}

// TestAdaptiveHeavyLosesMost: under factor 0.1 the heavy client (1000/s)
// is capped at 100/s, the light one (20/s) keeps its rate.
func TestAdaptiveHeavyLosesMost(t *testing.T) {
	c := conf.Clients{Default: *q(10, 10), Named: map[string]*conf.Quota{"heavy": q(1000, 100), "light": q(20, 20)}}
	l, clk := newLocal(t, c, adaptiveLimits())
	for w := 0; w < 40; w++ {
		for i := 0; i < 20; i++ {
			l.Observe("users", time.Second, false)
		}
		clk.Advance(l.opts.AdaptiveWindow)
	}
	if f := l.Factor("users"); f != 0.1 {
		t.Fatalf("factor %v", f)
	}
	count := func(who string) int {
		n := 0
		for s := 0; s < 100; s++ { // 10 s in steps of 100 ms
			clk.Advance(100 * time.Millisecond)
			for i := 0; i < 10; i++ {
				l.Observe("users", time.Second, false) // still overloaded
			}
			for i := 0; i < 500; i++ {
				if l.Allow(who, ipA, "r", "users").Allowed {
					n++
				}
			}
		}
		return n
	}
	heavy, light := count("heavy"), count("light")
	t.Logf("factor 0.1 over 10 s: heavy %d (quota 1000/s), light %d (quota 20/s)", heavy, light)
	if heavy > 1200 || heavy < 950 { // 100/s × 10 s + burst 100
		t.Errorf("heavy admitted %d, want about 1000 (100/s)", heavy)
	}
	if light < 190 {
		t.Errorf("light admitted %d, want its full 200", light)
	}
	// Another upstream is not affected: its factor is 1 and the heavy
	// client gets its full 1000/s there (100/s would mean it was scaled).
	if f := l.Factor("other"); f != 1 {
		t.Errorf("unrelated upstream's factor %v, want 1", f)
	}
	other := 0
	for s := 0; s < 10; s++ { // 1 s in steps of 100 ms
		clk.Advance(100 * time.Millisecond)
		for i := 0; i < 200; i++ {
			if l.Allow("heavy", ipA, "r", "other").Allowed {
				other++
			}
		}
	}
	if other < 900 {
		t.Errorf("heavy admitted %d in 1 s on an unrelated upstream, want its unscaled ~1000", other)
	}
}

func TestScaled(t *testing.T) {
	for _, c := range []struct{ rate, f, top, min, want float64 }{
		{1000, 1, 1000, 0.1, 1000},
		{1000, 0.5, 1000, 0.1, 500},
		{10, 0.5, 1000, 0.1, 10},
		{10, 0.005, 1000, 0.1, 5},
		{1000, 0.01, 1000, 0.1, 100},
	} {
		if got := scaled(c.rate, c.f, c.top, c.min); got != c.want {
			t.Errorf("scaled(%v) = %v, want %v", c, got, c.want)
		}
	}
}

// gauge reads tollgate_ratelimit_factor{upstream} through the collector.
func gauge(t *testing.T, l *Limiter, upstream string) float64 {
	t.Helper()
	v, ok := testkit.Gather(t, l)[fmt.Sprintf("tollgate_ratelimit_factor{upstream=%q}", upstream)]
	if !ok {
		t.Fatalf("no gauge for %s", upstream)
	}
	return v
}
