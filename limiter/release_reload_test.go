package limiter

import (
	"testing"

	"tollgate/conf"
)

// TestReleaseAcrossReload: a concurrency slot taken before a reload that
// changes the caller's policy is given back to the slot it was taken from
// (ReleaseDecision), so the caller is not refused for good afterwards.
// Anonymous (per-route override added) and named (client removed) alike.
func TestReleaseAcrossReload(t *testing.T) {
	quota := func(overrides bool) conf.Clients {
		d := *q(1000, 1000)
		d.Concurrency = 1
		if overrides {
			d.Routes = map[string]conf.RouteQuota{"search": {Rate: perSec(1000), Burst: 1000}}
		}
		named := q(1000, 1000)
		named.Concurrency = 1
		c := conf.Clients{Default: d, Named: map[string]*conf.Quota{"partner": named}}
		if overrides {
			delete(c.Named, "partner")
		}
		return c
	}
	l := New(Options{SweepInterval: -1})
	t.Cleanup(l.Close)
	routes := []string{"search", "other"}
	if err := l.Apply(quota(false), conf.Limits{Store: "local", MaxTrackedKeys: 1000}, routes); err != nil {
		t.Fatal(err)
	}
	anon := l.Allow("", ipA, "search", "u")
	named := l.Allow("partner", ipA, "search", "u")
	if !anon.Acquired || !named.Acquired {
		t.Fatalf("slots not taken: anon %+v named %+v", anon.Acquired, named.Acquired)
	}
	if err := l.Apply(quota(true), conf.Limits{Store: "local", MaxTrackedKeys: 1000}, routes); err != nil {
		t.Fatal(err)
	}
	l.ReleaseDecision(&anon, "", ipA, "search")
	l.ReleaseDecision(&named, "partner", ipA, "search")
	if err := l.Apply(quota(false), conf.Limits{Store: "local", MaxTrackedKeys: 1000}, routes); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "partner"} {
		d := l.Allow(id, ipA, "search", "u")
		if !d.Allowed {
			t.Errorf("%q refused after its slot was released across reloads (reason %q)", id, d.Reason)
		}
		l.ReleaseDecision(&d, id, ipA, "search")
	}
}
