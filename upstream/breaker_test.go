package upstream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// testBreaker is a breaker block that trips on 3 consecutive failures only.
func testBreaker() *conf.Breaker {
	return &conf.Breaker{
		ConsecutiveFailures: 3,
		Interval:            time.Minute,
		OpenFor:             80 * time.Millisecond,
		HalfOpenRequests:    2,
		FailureOn:           []string{"5xx", "timeout", "connect_failure"},
	}
}

// guarded applies upstream "u" with targets at made-up addresses (Pick and
// Begin never dial) and the given breaker and health blocks.
func guarded(t testing.TB, r *Registry, b *conf.Breaker, h *conf.HealthCheck, addrs ...string) (*Set, *Upstream) {
	t.Helper()
	c := poolConf(defaultPool, addrs...)
	c.Breaker, c.HealthCheck = b, h
	s, err := r.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(s.Release)
	return s, s.Get("u")
}

// report begins a try on tg and ends it with o, failing the test if the
// breaker refuses.
func report(t testing.TB, tg *Target, o Outcome) {
	t.Helper()
	tr, err := tg.Begin()
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	tr.Done(o)
}

var (
	ok500   = Outcome{Status: 500}
	ok200   = Outcome{Status: 200}
	refused = Outcome{ConnectFailure: true}
)

func TestBreakerTripsOnConsecutiveFailures(t *testing.T) {
	logs := &testkit.LogBuffer{}
	reg := testRegistry(t, registryOptions{log: logs.Logger()})
	_, u := guarded(t, reg, testBreaker(), nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	report(t, tg, ok500)
	report(t, tg, ok500)
	report(t, tg, ok200) // a success breaks the streak
	report(t, tg, ok500)
	report(t, tg, ok500)
	if tg.BreakerState() != 0 {
		t.Fatalf("state %d after 2 consecutive failures, want closed", tg.BreakerState())
	}
	report(t, tg, refused)
	if tg.BreakerState() != 2 {
		t.Fatalf("state %d after 3 consecutive failures, want open", tg.BreakerState())
	}
	if _, err := tg.Begin(); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("begin on an open breaker: %v", err)
	}
	if _, err := u.Pick(0, nil); !errors.Is(err, ErrAllUnavailable) || !errors.Is(err, ErrNoTarget) {
		t.Fatalf("pick with the only target open: %v", err)
	}
	if d := u.RetryAfter(); d != time.Second {
		t.Fatalf("RetryAfter %v, want the 1 s floor for an 80 ms open_for", d)
	}
	if !strings.Contains(logs.String(), "upstream breaker state changed") || !strings.Contains(logs.String(), "to=open") {
		t.Fatalf("no transition log line:\n%s", logs.String())
	}
}

func TestBreakerTripsOnRatio(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	b := &conf.Breaker{MinRequests: 10, FailureRatio: 0.5, Interval: time.Minute, OpenFor: time.Minute, HalfOpenRequests: 1,
		FailureOn: []string{"5xx"}}
	_, u := guarded(t, reg, b, nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	// 9 requests, 5 failures: over the ratio but under min_requests.
	for i := range 9 {
		o := ok200
		if i%2 == 0 {
			o = ok500
		}
		report(t, tg, o)
	}
	report(t, tg, ok200)
	if tg.BreakerState() != 0 {
		t.Fatalf("tripped under min_requests: state %d", tg.BreakerState())
	}
	report(t, tg, ok500) // 11 requests, 6 failures
	if tg.BreakerState() != 2 {
		t.Fatalf("state %d at 6/11 failures, want open", tg.BreakerState())
	}
	if d := u.RetryAfter(); d < 59*time.Second || d > time.Minute {
		t.Fatalf("RetryAfter %v, want about the minute of open_for", d)
	}
}

func TestBreakerRatioBelowThresholdStaysClosed(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	b := &conf.Breaker{MinRequests: 4, FailureRatio: 0.5, Interval: time.Minute, OpenFor: time.Minute, FailureOn: []string{"5xx"}}
	_, u := guarded(t, reg, b, nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	for range 30 {
		report(t, tg, ok200)
		report(t, tg, ok200)
		report(t, tg, ok500) // one in three
	}
	if tg.BreakerState() != 0 {
		t.Fatalf("a 33%% failure ratio tripped a 50%% breaker")
	}
}

func TestBreakerHalfOpensAndCloses(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	_, u := guarded(t, reg, testBreaker(), nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	for range 3 {
		report(t, tg, ok500)
	}
	if tg.usable() {
		t.Fatal("an open breaker's target is usable")
	}
	time.Sleep(100 * time.Millisecond) // open_for is 80 ms
	if !tg.usable() || tg.BreakerState() != 1 {
		t.Fatalf("after open_for: usable %v, state %d, want half-open", tg.usable(), tg.BreakerState())
	}
	// Two probe slots: a third try is refused and Pick skips the target.
	p1, err1 := tg.Begin()
	p2, err2 := tg.Begin()
	if err1 != nil || err2 != nil {
		t.Fatalf("half-open probes refused: %v, %v", err1, err2)
	}
	if _, err := tg.Begin(); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("third half-open try: %v, want refused", err)
	}
	if _, err := u.Pick(0, nil); !errors.Is(err, ErrAllUnavailable) {
		t.Fatalf("pick with the probe slots taken: %v", err)
	}
	p1.Done(ok200)
	p2.Done(Outcome{Status: 404}) // the target answered: a success
	if tg.BreakerState() != 0 {
		t.Fatalf("state %d after half_open_requests successes, want closed", tg.BreakerState())
	}
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	_, u := guarded(t, reg, testBreaker(), nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	for range 3 {
		report(t, tg, ok500)
	}
	time.Sleep(100 * time.Millisecond)
	report(t, tg, Outcome{Timeout: true})
	if tg.BreakerState() != 2 || tg.usable() {
		t.Fatalf("a failed probe left state %d", tg.BreakerState())
	}
}

func TestBreakerFailureOn(t *testing.T) {
	cases := []struct {
		on      []string
		failure []Outcome
		success []Outcome
	}{
		{[]string{"5xx"}, []Outcome{{Status: 500}, {Status: 503}, {Reset: true}}, []Outcome{{Status: 499}, {Timeout: true}, refused}},
		{[]string{"timeout"}, []Outcome{{Timeout: true}, {ConnectFailure: true, Timeout: true}}, []Outcome{{Status: 502}, refused, {Reset: true}}},
		{[]string{"connect_failure"}, []Outcome{refused, {Reset: true}, {ConnectFailure: true, Timeout: true}}, []Outcome{{Status: 500}, {Timeout: true}}},
	}
	for _, c := range cases {
		s, err := newBreakerSettings(&conf.Breaker{FailureOn: c.on})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range c.failure {
			if !s.failure(o) {
				t.Errorf("failure_on %v: %+v not counted as a failure", c.on, o)
			}
		}
		for _, o := range append(c.success, Outcome{}) {
			if s.failure(o) {
				t.Errorf("failure_on %v: %+v counted as a failure", c.on, o)
			}
		}
	}
	if _, err := newBreakerSettings(&conf.Breaker{FailureOn: []string{"4xx"}}); err == nil {
		t.Error("an unknown failure_on value was accepted")
	}
}

func TestPickSkipsOpenTarget(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	b := testBreaker()
	b.OpenFor = time.Minute
	_, u := guarded(t, reg, b, nil, "127.0.0.1:1", "127.0.0.1:2")
	bad := u.Targets()[0]
	for range 3 {
		report(t, bad, ok500)
	}
	for range 20 {
		tg, err := u.Pick(0, nil)
		if err != nil || tg == bad {
			t.Fatalf("pick: %v, %v (the open target must be skipped)", tg, err)
		}
	}
	if _, err := u.Pick(0, []*Target{u.Targets()[1]}); !errors.Is(err, ErrNoTarget) || errors.Is(err, ErrAllUnavailable) {
		t.Fatalf("healthy target excluded: %v, want plain ErrNoTarget", err)
	}
}

func TestBreakerStateMetric(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	b := testBreaker()
	b.OpenFor = time.Minute
	_, u := guarded(t, reg, b, nil, "127.0.0.1:1", "127.0.0.1:2")
	for range 3 {
		report(t, u.Targets()[0], ok500)
	}
	got := testkit.Gather(t, reg).Family("tollgate_breaker_state")
	if len(got) != 2 || got[`tollgate_breaker_state{target="127.0.0.1:1",upstream="u"}`] != 2 ||
		got[`tollgate_breaker_state{target="127.0.0.1:2",upstream="u"}`] != 0 {
		t.Fatalf("tollgate_breaker_state %v, want 127.0.0.1:1 open (2), 127.0.0.1:2 closed (0)", got)
	}
}

func TestBreakerCarriesOverReload(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	b := testBreaker()
	b.OpenFor = time.Minute
	s1, u1 := guarded(t, reg, b, nil, "127.0.0.1:1")
	tg := u1.Targets()[0]
	for range 3 {
		report(t, tg, ok500)
	}
	// Same breaker settings, one more target: the open breaker stays.
	_, u2 := guarded(t, reg, testBreakerOpenFor(time.Minute), nil, "127.0.0.1:1", "127.0.0.1:2")
	s1.Release()
	if u2.Targets()[0] != tg || tg.BreakerState() != 2 {
		t.Fatalf("reload lost the open breaker: same target %v, state %d", u2.Targets()[0] == tg, tg.BreakerState())
	}
	// Other pool settings make a new Target; it inherits the breaker.
	c := poolConf(conf.Pool{MaxConnsPerTarget: 7, MaxIdlePerTarget: 1, IdleTimeout: time.Second}, "127.0.0.1:1")
	c.Breaker = testBreakerOpenFor(time.Minute)
	s3, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Release()
	if nt := s3.Get("u").Targets()[0]; nt == tg || nt.BreakerState() != 2 {
		t.Fatalf("new pool, same address: new target %v, state %d, want the open breaker", nt != tg, nt.BreakerState())
	}
	// Changed breaker settings start closed.
	_, u4 := guarded(t, reg, &conf.Breaker{ConsecutiveFailures: 9, OpenFor: time.Second}, nil, "127.0.0.1:1", "127.0.0.1:2")
	if u4.Targets()[0].BreakerState() != 0 {
		t.Fatal("changed breaker settings kept the old state")
	}
	// No breaker block: no breaker.
	_, u5 := guarded(t, reg, nil, nil, "127.0.0.1:1", "127.0.0.1:2")
	if u5.Targets()[0].BreakerState() != -1 {
		t.Fatal("breaker kept after its block was removed")
	}
}

func testBreakerOpenFor(d time.Duration) *conf.Breaker {
	b := testBreaker()
	b.OpenFor = d
	return b
}

func TestFailedReloadRestoresBreakerSettings(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	_, u := guarded(t, reg, testBreakerOpenFor(time.Minute), nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	for range 3 {
		report(t, tg, ok500)
	}
	// A reload that is built, then abandoned (its snapshot failed later).
	c := poolConf(defaultPool, "127.0.0.1:1")
	c.Breaker = &conf.Breaker{ConsecutiveFailures: 1, OpenFor: time.Second}
	bad, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	bad.Release()
	if b := tg.breaker.Load(); b == nil || b.settings.openFor != time.Minute || tg.BreakerState() != 2 {
		t.Fatal("the abandoned reload's breaker stayed, or the open breaker was not restored")
	}
}

// TestBreakerCountsSlowFailuresAcrossIntervals: failures are counted as
// they end. Each try here lasts longer than a fifth of the interval, so
// five in a row always straddle an interval's end; counted by the
// interval they began in (gobreaker's own interval), the breaker never
// opened on slow timeouts.
func TestBreakerCountsSlowFailuresAcrossIntervals(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	b := &conf.Breaker{ConsecutiveFailures: 5, MinRequests: 20, FailureRatio: 0.5, Interval: 100 * time.Millisecond,
		OpenFor: time.Minute, FailureOn: []string{"5xx", "timeout", "connect_failure"}}
	_, u := guarded(t, reg, b, nil, "127.0.0.1:1")
	tg := u.Targets()[0]
	for i := 0; i < 5; i++ {
		tr, err := tg.Begin()
		if err != nil {
			t.Fatalf("try %d: begin: %v", i, err)
		}
		time.Sleep(30 * time.Millisecond) // the head's timeout
		tr.Done(Outcome{Timeout: true})
	}
	if s := tg.BreakerState(); s != 2 {
		t.Fatalf("state %d after 5 consecutive slow timeouts, want open (2)", s)
	}
}
