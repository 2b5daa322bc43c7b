package proxy

import (
	"net/http"
	"time"

	"tollgate/limiter"
	"tollgate/proxy/dashboard"
	"tollgate/upstream"
)

// overview builds what the dashboard shows from what the gateway keeps:
// the running snapshot (routes, upstream targets), the limiter's usage
// read without consuming (local figures only: a poll never calls Redis),
// the metrics' counters and the last reload.
func (g *Gateway) overview(r *http.Request) dashboard.State {
	snap := g.engine.Current()
	cfg := snap.Conf
	st := dashboard.State{
		Now:    time.Now().UTC(),
		Config: dashboard.Config{Version: cfg.Version, LoadedAt: snap.LoadedAt.UTC(), Path: cfg.Path},
		Store:  "none",
	}
	if rec := g.LastReload(); rec != nil {
		st.Reload = &dashboard.Reload{At: rec.At.UTC(), Result: "ok", Version: rec.Version, Errors: rec.Errors}
		if !rec.OK {
			st.Reload.Result = "error"
		}
	}
	st.Routes = overviewRoutes(snap)
	for _, name := range cfg.UpstreamOrder {
		if u := snap.upstreams.Get(name); u != nil {
			st.Upstreams = append(st.Upstreams, overviewUpstream(u))
		}
	}
	if q := g.opts.Quotas; q != nil {
		ov := q.Overview(r.Context(), limiter.UsageOptions{})
		st.Store = ov.Store
		st.Clients = overviewClients(ov, g.Metrics.rateLimitCounts())
	}
	if st.Clients == nil {
		st.Clients = []dashboard.Client{}
	}
	return st
}

// overviewRoutes lists the snapshot's routes with their request counts.
func overviewRoutes(snap *Snapshot) []dashboard.Route {
	out := make([]dashboard.Route, 0, len(snap.routes))
	for _, rt := range snap.routes {
		m := rt.conf.Match
		match := m.Host + m.PathPrefix + m.Path
		if m.PathPrefix != "" {
			match += "*"
		}
		total, errs := rt.metrics.counts()
		out = append(out, dashboard.Route{
			Name: rt.name, Match: match, Methods: m.Methods, Upstream: rt.upName,
			Auth: rt.conf.Auth, Requests: total, Errors: errs,
		})
	}
	return out
}

// breakerNames are Target.BreakerState's values (-1: no breaker).
var breakerNames = [...]string{"closed", "half-open", "open"}

// overviewUpstream describes an upstream's targets.
func overviewUpstream(u *upstream.Upstream) dashboard.Upstream {
	du := dashboard.Upstream{Name: u.Name, Balance: u.Conf.Balance}
	for _, t := range u.Targets() {
		tries, fails := t.TryCounts()
		br := "none"
		if s := t.BreakerState(); s >= 0 && s < len(breakerNames) {
			br = breakerNames[s]
		}
		du.Targets = append(du.Targets, dashboard.Target{
			Addr: t.Addr, Healthy: t.Healthy(), HealthChecked: t.HealthChecked(), Breaker: br,
			InFlight: t.Active(), Idle: t.Idle(), Tries: tries, Failures: fails,
		})
	}
	return du
}

// overviewClients joins the named clients' usage (and the default quota)
// with their decision counts.
func overviewClients(ov limiter.Overview, counts map[string]map[string]float64) []dashboard.Client {
	out := make([]dashboard.Client, 0, len(ov.Clients)+1)
	for _, cu := range ov.Clients {
		if len(cu.Policies) == 0 {
			continue
		}
		p := cu.Policies[0]
		remaining := p.Remaining
		c := dashboard.Client{
			Name: cu.Client, Mode: p.Mode, Limit: p.Limit, Rate: p.Rate, Remaining: &remaining,
			ResetSeconds: p.ResetSeconds, Concurrency: cu.Concurrency, InFlight: cu.InFlight,
		}
		for _, o := range cu.Policies[1:] {
			c.Overrides = append(c.Overrides, dashboard.Policy{Route: o.Route, Limit: o.Limit, Remaining: o.Remaining})
		}
		out = append(out, withDecisions(c, counts[cu.Client]))
	}
	d := ov.Default
	out = append(out, withDecisions(dashboard.Client{
		Name: limiter.DefaultPolicy, Mode: d.Mode, Limit: d.Limit, Rate: d.Rate,
		Concurrency: d.Concurrency, Tracked: d.Tracked,
	}, counts[limiter.DefaultPolicy]))
	return out
}

// withDecisions fills a client's decision counts.
func withDecisions(c dashboard.Client, n map[string]float64) dashboard.Client {
	c.Allowed = n[limiter.OutcomeAllow]
	c.Denied = n[limiter.OutcomeDeny]
	c.ShadowDenied = n[limiter.OutcomeShadowDeny]
	return c
}
