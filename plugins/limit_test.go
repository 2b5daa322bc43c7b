package plugins

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/limiter"
)

// limitRecorder is a Metrics that remembers rate-limit decisions.
type limitRecorder struct {
	mu        sync.Mutex
	decisions map[[2]string]int
}

func (r *limitRecorder) AuthFailure(string, string) {}

func (r *limitRecorder) RateLimitDecision(client, decision string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.decisions == nil {
		r.decisions = map[[2]string]int{}
	}
	r.decisions[[2]string{client, decision}]++
}

func limitLimiter(t *testing.T) *limiter.Limiter {
	t.Helper()
	l := limiter.New(limiter.Options{SweepInterval: -1})
	t.Cleanup(l.Close)
	per := conf.Rate{N: 1, Per: time.Minute}
	clients := conf.Clients{
		Default: conf.Quota{Rate: per, Burst: 2},
		Named: map[string]*conf.Quota{
			"partner-x": {Rate: per, Burst: 20, Concurrency: 1, Routes: map[string]conf.RouteQuota{"search": {Rate: per, Burst: 1}}},
			"shadowy":   {Rate: per, Burst: 1, Mode: conf.ModeShadow},
		},
	}
	if err := l.Apply(clients, conf.Limits{}, []string{"users", "search"}); err != nil {
		t.Fatal(err)
	}
	return l
}

func limitExchange(client, route string) *Exchange {
	x := newExchange("GET", newKVHead())
	x.ClientID, x.Route, x.Upstream = client, route, "users"
	x.ClientIP = netip.MustParseAddr("192.0.2.1")
	return x
}

func TestLimitFilterNilWhenNotMetered(t *testing.T) {
	if f := NewLimitFilter(limitLimiter(t), &conf.Route{Name: "r", Limit: false}, "ietf", nil); f != nil {
		t.Fatal("filter for an unmetered route")
	}
}

func TestLimitFilterIETFThen429(t *testing.T) {
	rec := &limitRecorder{}
	l := limitLimiter(t)
	f := NewLimitFilter(l, &conf.Route{Name: "search", Limit: true}, "ietf", rec)
	x := limitExchange("partner-x", "search")
	if r := f.Request(x); r != nil {
		t.Fatalf("first request refused: %+v", r)
	}
	if x.RateLimit != "allow" {
		t.Fatalf("Exchange.RateLimit %q, want allow", x.RateLimit)
	}
	h := queued(x)
	if got := h["RateLimit-Policy"]; len(got) != 1 || got[0] != `"partner-x/search";q=1;w=60` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
	if got := h["RateLimit"]; len(got) != 1 || got[0] != `"partner-x/search";r=0;t=60` {
		t.Fatalf("RateLimit %q", got)
	}
	x.End()
	x2 := limitExchange("partner-x", "search")
	r := f.Request(x2)
	if r == nil || r.Status != 429 || r.Code != "rate_limited" || r.Header[0] != [2]string{"Retry-After", "60"} {
		t.Fatalf("second: %+v", r)
	}
	if got := queued(x2)["RateLimit"]; len(got) != 1 || got[0] != `"partner-x/search";r=0;t=60` {
		t.Fatalf("429 RateLimit %q", got)
	}
	if x2.RateLimit != "deny" {
		t.Fatalf("Exchange.RateLimit %q, want deny", x2.RateLimit)
	}
	x2.End()
	if rec.decisions[[2]string{"partner-x", "allow"}] != 1 || rec.decisions[[2]string{"partner-x", "deny"}] != 1 {
		t.Fatalf("metrics %v", rec.decisions)
	}
}

func TestLimitFilterLegacyAndNone(t *testing.T) {
	l := limitLimiter(t)
	f := NewLimitFilter(l, &conf.Route{Name: "users", Limit: true}, "legacy", nil)
	x := limitExchange("", "users")
	if r := f.Request(x); r != nil {
		t.Fatal(r)
	}
	h := queued(x)
	if h["X-RateLimit-Limit"][0] != "2" || h["X-RateLimit-Remaining"][0] != "1" || h["X-RateLimit-Reset"][0] != "60" {
		t.Fatalf("legacy headers %v", h)
	}
	f = NewLimitFilter(l, &conf.Route{Name: "users", Limit: true}, "none", nil)
	x = limitExchange("", "users")
	f.Request(x)
	if len(x.ResponseHeaders()) != 0 {
		t.Fatalf("headers with none: %v", x.ResponseHeaders())
	}
}

func TestLimitFilterConcurrencyReleasedAtEnd(t *testing.T) {
	l := limitLimiter(t)
	f := NewLimitFilter(l, &conf.Route{Name: "users", Limit: true}, "ietf", nil)
	x := limitExchange("partner-x", "users")
	if r := f.Request(x); r != nil {
		t.Fatal(r)
	}
	r := f.Request(limitExchange("partner-x", "users"))
	if r == nil || r.Status != 429 || r.Message != "too many concurrent requests" {
		t.Fatalf("second in flight: %+v", r)
	}
	x.End()
	if r := f.Request(limitExchange("partner-x", "users")); r != nil {
		t.Fatalf("after End: %+v", r)
	}
}

func TestLimitFilterShadow(t *testing.T) {
	rec := &limitRecorder{}
	f := NewLimitFilter(limitLimiter(t), &conf.Route{Name: "users", Limit: true}, "ietf", rec)
	for i := 0; i < 2; i++ {
		x := limitExchange("shadowy", "users")
		if r := f.Request(x); r != nil {
			t.Fatalf("shadow refused: %+v", r)
		}
		if len(queued(x)["RateLimit"]) != 1 {
			t.Fatal("shadow mode sends no headers")
		}
	}
	if rec.decisions[[2]string{"shadowy", "shadow_deny"}] != 1 {
		t.Fatalf("metrics %v", rec.decisions)
	}
}

func TestLimitFilterAllocations(t *testing.T) {
	l := limitLimiter(t)
	f := NewLimitFilter(l, &conf.Route{Name: "users", Limit: true}, "legacy", &limitRecorder{})
	x := limitExchange("partner-x", "users")
	allocs := testing.AllocsPerRun(100, func() {
		x.Reset()
		x.ClientID, x.Route, x.Upstream, x.ClientIP = "partner-x", "users", "users", netip.MustParseAddr("192.0.2.1")
		f.Request(x)
		x.End()
	})
	t.Logf("legacy headers, allowed then refused: %.1f allocs per request", allocs)
	if allocs > 1 {
		t.Errorf("%.1f allocs per request", allocs)
	}
}

// TestParseCost: a cost header is a decimal integer with optional blanks;
// anything else is ignored.
func TestParseCost(t *testing.T) {
	for in, want := range map[string]int{"40": 40, " 7 ": 7, "0": 0, "99999999999999": 1 << 30} {
		if n, ok := parseCost([]byte(in)); !ok || n < want || (want < 1<<30 && n != want) {
			t.Errorf("parseCost(%q) = %d, %v, want %d", in, n, ok, want)
		}
	}
	for _, in := range []string{"", " ", "-3", "4.5", "1e3", "12abc", "1 2"} {
		if n, ok := parseCost([]byte(in)); ok {
			t.Errorf("parseCost(%q) = %d, accepted", in, n)
		}
	}
}
