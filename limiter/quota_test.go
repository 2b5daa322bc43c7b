package limiter

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// newPlans returns a local limiter on a fake clock with plans.
func newPlans(t *testing.T, cfg Config) (*Limiter, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(testkit.Epoch)
	l := New(Options{Now: clk.Now, SweepInterval: -1, Shards: 16})
	if err := l.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, clk
}

// req is a request of client id on route r with cost.
func req(id, plan string, cost int) *Request {
	return &Request{ClientID: id, ClientIP: ipA, Plan: plan, Route: "r", Upstream: "u", Cost: cost}
}

// TestCostTakesTokens: a cost-5 request takes five tokens; remaining and
// Retry-After count in cost units.
func TestCostTakesTokens(t *testing.T) {
	l, clk := newLocal(t, conf.Clients{Default: *q(10, 12)}, conf.Limits{})
	for i, want := range []int{7, 2} {
		d := l.Decide(req("bob", "", 5))
		if !d.Allowed || d.Remaining != want {
			t.Fatalf("request %d: allowed %v remaining %d, want remaining %d", i, d.Allowed, d.Remaining, want)
		}
	}
	d := l.Decide(req("bob", "", 5))
	if d.Allowed || d.Reason != ReasonRate || d.Remaining != 2 || d.RetryAfter != 1 {
		t.Fatalf("third: %+v, want refused with 2 left, Retry-After 1", d)
	}
	clk.Advance(300 * time.Millisecond) // 3 tokens back: 5 there
	if d := l.Decide(req("bob", "", 5)); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 300ms: %+v", d)
	}
}

// TestChargeAfterAnswer: a charge drives the bucket into debt, and the
// next request waits for it.
func TestChargeAfterAnswer(t *testing.T) {
	l, clk := newLocal(t, partnerClients(), conf.Limits{})
	r := req("partner-x", "", 1)
	if d := l.Decide(r); !d.Allowed || d.Remaining != 19 {
		t.Fatalf("first: %+v", d)
	}
	l.Charge(r, 29) // 30 tokens spent of 20: 10 owed, at 10/s
	d := l.Decide(r)
	if d.Allowed || d.RetryAfter != 2 {
		t.Fatalf("after the charge: allowed %v Retry-After %d, want refused for 2s", d.Allowed, d.RetryAfter)
	}
	clk.Advance(1100 * time.Millisecond)
	if d := l.Decide(r); !d.Allowed {
		t.Fatalf("after the debt: %+v", d)
	}
}

// TestQuotaPeriod: a quota of 3 per 10 s admits 3, refuses the 4th with
// Retry-After until the period ends and reason quota, and admits again in
// the next period; both policies are in the headers.
func TestQuotaPeriod(t *testing.T) {
	c := conf.Clients{Default: *q(100, 100), Named: map[string]*conf.Quota{"p": q(100, 100)}}
	c.Named["p"].Quota = &conf.PeriodQuota{Limit: 3, Period: "10s"}
	l, clk := newLocal(t, c, conf.Limits{})
	clk.Advance(2 * time.Second) // 3 s into a period (the epoch is at a multiple of 10 s, plus 1 s of limiter epoch)
	for i := range 3 {
		d := l.Decide(req("p", "", 1))
		if !d.Allowed || d.QuotaRemaining != int64(2-i) {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := l.Decide(req("p", "", 1))
	if d.Allowed || d.Reason != ReasonQuota || d.RetryAfter != 8 {
		t.Fatalf("4th: allowed %v reason %q Retry-After %d, want quota and 8", d.Allowed, d.Reason, d.RetryAfter)
	}
	if got, want := d.PolicyHeader(), `"p";q=100;w=1, "p:10s";q=3;w=10`; got != want {
		t.Errorf("RateLimit-Policy %s, want %s", got, want)
	}
	if got, want := d.StateHeader(), `"p";r=97;t=1, "p:10s";r=0;t=8`; got != want {
		t.Errorf("RateLimit %s, want %s", got, want)
	}
	if d := l.Decide(req("p", "", 1)); d.Remaining != 97 {
		t.Errorf("a quota refusal took tokens: %d left", d.Remaining)
	}
	clk.Advance(8 * time.Second)
	if d := l.Decide(req("p", "", 1)); !d.Allowed || d.QuotaRemaining != 2 {
		t.Fatalf("next period: %+v", d)
	}
}

// TestQuotaSurvivesReload: a reload with the same quota keeps the count;
// a larger limit keeps what was spent.
func TestQuotaSurvivesReload(t *testing.T) {
	c := conf.Clients{Default: *q(100, 100)}
	c.Default.Quota = &conf.PeriodQuota{Limit: 5, Period: conf.PeriodDay}
	l, _ := newLocal(t, c, conf.Limits{})
	for range 4 {
		l.Decide(req("bob", "", 1))
	}
	if err := l.Apply(c, conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := l.Decide(req("bob", "", 1)); !d.Allowed || d.QuotaRemaining != 0 {
		t.Fatalf("after reload: %+v", d)
	}
	c.Default.Quota = &conf.PeriodQuota{Limit: 7, Period: conf.PeriodDay}
	if err := l.Apply(c, conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := l.Decide(req("bob", "", 1)); !d.Allowed || d.QuotaRemaining != 1 {
		t.Fatalf("after raising the limit: %+v", d)
	}
}

// TestCalendarPeriods: day, week and month boundaries in UTC and in a
// configured zone.
func TestCalendarPeriods(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 18, 23, 30, 0, 0, time.UTC) // a Wednesday; 00:30 on the 19th in Paris
	for _, tc := range []struct {
		period     string
		loc        *time.Location
		start, end time.Time
	}{
		{"day", time.UTC, time.Date(2026, 3, 18, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)},
		{"day", paris, time.Date(2026, 3, 19, 0, 0, 0, 0, paris), time.Date(2026, 3, 20, 0, 0, 0, 0, paris)},
		{"week", time.UTC, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)},
		{"month", time.UTC, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"month", paris, time.Date(2026, 3, 1, 0, 0, 0, 0, paris), time.Date(2026, 4, 1, 0, 0, 0, 0, paris)},
		{"10s", time.UTC, time.Date(2026, 3, 18, 23, 30, 0, 0, time.UTC), time.Date(2026, 3, 18, 23, 30, 10, 0, time.UTC)},
	} {
		c, err := newCalendar(&conf.PeriodQuota{Limit: 1, Period: tc.period}, tc.loc)
		if err != nil {
			t.Fatal(err)
		}
		w := c.at(at.UnixNano())
		if w.start != tc.start.UnixNano() || w.end != tc.end.UnixNano() {
			t.Errorf("%s in %v: [%v, %v), want [%v, %v)", tc.period, tc.loc, time.Unix(0, w.start).UTC(), time.Unix(0, w.end).UTC(), tc.start.UTC(), tc.end.UTC())
		}
		if w2 := c.at(at.UnixNano() + 1); w2 != w {
			t.Errorf("%s: the period is not cached", tc.period)
		}
	}
}

// planConfig has a per-member plan "gold", a shared plan "team" with a
// named member, and a default.
func planConfig() Config {
	gold := q(100, 10)
	gold.Quota = &conf.PeriodQuota{Limit: 1000, Period: conf.PeriodMonth}
	team := q(100, 10)
	team.Shared = true
	member := *team
	member.Plan = "team"
	return Config{
		Clients: conf.Clients{Default: *q(100, 2), Named: map[string]*conf.Quota{"t-named": &member}},
		Plans:   map[string]*conf.Quota{"gold": gold, "team": team},
	}
}

// TestPlans: a caller not named takes its plan from the request (its
// token), each member with its own bucket; an unknown plan falls to the
// default; a shared plan's members (named or not) spend one bucket; a
// tenant's members spend one bucket too.
func TestPlans(t *testing.T) {
	l, _ := newPlans(t, planConfig())
	d := l.Decide(req("alice", "gold", 1))
	if d.Policy != "gold" || d.MetricClient != "gold" || d.Remaining != 9 || d.QuotaLimit != 1000 {
		t.Fatalf("gold member: %+v", d)
	}
	if d := l.Decide(req("bob", "gold", 1)); d.Remaining != 9 {
		t.Errorf("a second gold member shares alice's bucket: %d left", d.Remaining)
	}
	if d := l.Decide(req("carol", "platinum", 1)); d.Policy != DefaultPolicy || d.Remaining != 1 {
		t.Errorf("unknown plan: %+v, want the default", d)
	}
	for i, id := range []string{"x1", "x2", "t-named", "x3"} {
		d := l.Decide(req(id, "team", 1))
		if d.Remaining != 9-i {
			t.Errorf("shared plan member %s: %d left, want %d", id, d.Remaining, 9-i)
		}
	}
	tenant := func(id string) Decision {
		return l.Decide(&Request{ClientID: id, Plan: "gold", Tenant: "acme", Route: "r", Cost: 3})
	}
	tenant("u1")
	if d := tenant("u2"); d.Remaining != 4 || d.QuotaRemaining != 994 {
		t.Errorf("tenant members: %d tokens and %d units left, want one bucket (4, 994)", d.Remaining, d.QuotaRemaining)
	}
}

// TestHeadersWithoutQuotaUnchanged: a policy without a quota keeps the
// single-policy headers of the contract.
func TestHeadersWithoutQuotaUnchanged(t *testing.T) {
	l, _ := newLocal(t, partnerClients(), conf.Limits{})
	d := l.Decide(req("partner-x", "", 1))
	if h := d.PolicyHeader(); strings.Contains(h, ",") {
		t.Errorf("RateLimit-Policy %q lists a quota", h)
	}
	_ = netip.Addr{}
}

// TestRouteOverrideQuota: a per-route override may carry its own quota;
// the client's other routes are not counted against it.
func TestRouteOverrideQuota(t *testing.T) {
	c := partnerClients()
	c.Named["partner-x"].Routes = map[string]conf.RouteQuota{"export": {Rate: perSec(100), Burst: 100,
		Quota: &conf.PeriodQuota{Limit: 2, Period: conf.PeriodDay}}}
	l, _ := newLocal(t, c, conf.Limits{TimeZone: "Europe/Paris"})
	export := &Request{ClientID: "partner-x", Route: "export", Cost: 1}
	for range 2 {
		if d := l.Decide(export); !d.Allowed || d.Policy != "partner-x/export" {
			t.Fatalf("export: %+v", d)
		}
	}
	d := l.Decide(export)
	if d.Allowed || d.Reason != ReasonQuota {
		t.Fatalf("third export: %+v", d)
	}
	// Midnight in Paris is 23:00 UTC on the fake clock's day.
	if want := 23 * 3600; d.RetryAfter != want-1 && d.RetryAfter != want {
		t.Errorf("Retry-After %d, want about %d (midnight in Paris)", d.RetryAfter, want)
	}
	if d := l.Decide(&Request{ClientID: "partner-x", Route: "users", Cost: 1}); !d.Allowed || d.QuotaLimit != 0 {
		t.Errorf("another route: %+v", d)
	}
}

// quotaAllocConfig has quotas on the default, a named client and a plan.
func quotaAllocConfig() Config {
	cfg := planConfig()
	month := &conf.PeriodQuota{Limit: 1 << 40, Period: conf.PeriodMonth}
	cfg.Clients.Default = *q(1e9, 1e9)
	cfg.Clients.Default.Quota = month
	cfg.Clients.Named["n"] = q(1e9, 1e9)
	cfg.Clients.Named["n"].Quota = month
	cfg.Plans["gold"] = q(1e9, 1e9)
	cfg.Plans["gold"].Quota = month
	return cfg
}

// TestUsageShowsQuota: the usage API reports a quota's use in the current
// period, in cost units, without spending any.
func TestUsageShowsQuota(t *testing.T) {
	c := partnerClients()
	c.Named["partner-x"].Quota = &conf.PeriodQuota{Limit: 100, Period: conf.PeriodDay}
	l, _ := newLocal(t, c, conf.Limits{})
	l.Decide(&Request{ClientID: "partner-x", Route: "users", Cost: 7})
	for range 2 {
		p := base(t, clientUsage(t, l, "partner-x", UsageOptions{}))
		q := p.Quota
		if q == nil || q.Limit != 100 || q.Used != 7 || q.Remaining != 93 || q.Period != "day" {
			t.Fatalf("quota usage %+v", q)
		}
		if want := testkit.Epoch.Add(24 * time.Hour); !q.PeriodEnd.Equal(want) || q.ResetSeconds != 86400 {
			t.Errorf("period end %v (reset %d s), want %v", q.PeriodEnd, q.ResetSeconds, want)
		}
	}
	if p := base(t, clientUsage(t, l, "partner-x", UsageOptions{})); p.Quota == nil {
		t.Fatal("no quota")
	}
	if cu := clientUsage(t, l, "partner-x", UsageOptions{}); cu.Policies[1].Quota != nil {
		t.Errorf("the search override has no quota, usage shows %+v", cu.Policies[1].Quota)
	}
}
