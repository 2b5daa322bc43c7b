package conf

import (
	"testing"
	"time"
)

// TestPlansMergeIntoClients: a client naming a plan takes the plan's keys
// it does not set; its own keys (and per-route overrides) win.
func TestPlansMergeIntoClients(t *testing.T) {
	c, err := Parse("plans.yaml", []byte(`
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9000"]}}
plans:
  gold: {rate: 100/s, burst: 300, concurrency: 20, quota: {limit: 1000000, period: month}, routes: {search: {rate: 5/s}}}
  team: {rate: 50/s, shared: true, quota: {limit: 10, period: 10s}}
clients:
  acme: {plan: gold, concurrency: 5, routes: {export: {rate: 1/s}}}
  t1: {plan: team}
limits: {time_zone: Europe/Paris, max_cost: 20}
routes:
  - {name: search, match: {path_prefix: /s}, upstream: app, cost: 20, cost_header: X-Request-Cost}
  - {name: export, match: {path_prefix: /e}, upstream: app}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	acme := c.Clients.Named["acme"]
	if acme.Rate != (Rate{N: 100, Per: time.Second}) || acme.Burst != 300 || acme.Concurrency != 5 || acme.Plan != "gold" {
		t.Errorf("acme = %+v, want the plan's rate and burst with its own concurrency", acme)
	}
	if acme.Quota == nil || *acme.Quota != (PeriodQuota{Limit: 1000000, Period: PeriodMonth}) {
		t.Errorf("acme quota = %+v", acme.Quota)
	}
	if len(acme.Routes) != 2 || acme.Routes["search"].Burst != 5 || acme.Routes["export"].Burst != 1 {
		t.Errorf("acme routes = %+v, want the plan's search and its own export", acme.Routes)
	}
	if len(c.Plans["gold"].Routes) != 1 {
		t.Errorf("merging changed the plan: %+v", c.Plans["gold"].Routes)
	}
	if t1 := c.Clients.Named["t1"]; !t1.Shared || t1.Quota.Fixed() != 10*time.Second {
		t.Errorf("t1 = %+v, want the shared plan's quota", t1)
	}
	if r := c.Routes[0]; r.Cost != 20 || r.CostHeader != "X-Request-Cost" || c.Routes[1].Cost != 1 {
		t.Errorf("route costs = %d %q / %d", r.Cost, r.CostHeader, c.Routes[1].Cost)
	}
}

// TestQuotaNeedsLimitAndPeriod: a quota block without its period (or
// limit) is refused with the key named.
func TestQuotaNeedsLimitAndPeriod(t *testing.T) {
	_, err := Parse("q.yaml", []byte(`
server: {listen: ":8080"}
clients:
  a: {rate: 1/s, quota: {limit: 5}}
  b: {rate: 1/s, quota: {period: day}}
`), "")
	want := []string{"q.yaml:4: clients.a.quota.period: required", "q.yaml:5: clients.b.quota.limit: must be at least 1, got 0"}
	if err == nil || err.Error() != want[0]+"\n"+want[1] {
		t.Fatalf("errors:\n%v\nwant:\n%s\n%s", err, want[0], want[1])
	}
}
