package conf

import (
	"maps"
	"time"
)

// Checks and merging of what issue 15 added to quotas: plans, long-window
// quotas, request cost, and the Sentinel and TLS settings of the Redis
// store.

// minTestPeriod is the shortest quota period written as a duration.
const minTestPeriod = time.Second

// plans checks every plan; a plan is a quota that clients share.
func (v validator) plans(c *Config, routes map[string]bool) {
	for _, name := range sortedKeys(c.Plans) {
		path := joinPath("plans", name)
		switch {
		case name == "" || name == "default":
			v.errorf(path, "invalid plan name %q", name)
		case !printableName(name):
			v.errorf(path, "plan name %q must be printable ASCII without quotes or backslashes (it is sent in RateLimit-Policy)", name)
		case c.Clients.Named[name] != nil:
			v.errorf(path, "plan %q has the name of a client (policy and metric names would clash)", name)
		}
		v.quota(path, c.Plans[name], routes)
	}
}

// mergePlans gives every client that names a plan the plan's keys it does
// not set itself. An unknown plan is reported, and so is a member of a
// shared plan that sets its own allowance (the plan's bucket is common).
func (v validator) mergePlans(c *Config) {
	for _, name := range sortedKeys(c.Clients.Named) {
		q := c.Clients.Named[name]
		if q == nil || q.Plan == "" {
			continue
		}
		path := joinPath("clients", name)
		p := c.Plans[q.Plan]
		if p == nil {
			v.errorf(path+".plan", "unknown plan %q", q.Plan)
			continue
		}
		if p.Shared {
			for _, k := range []string{"rate", "burst", "concurrency", "routes", "quota", "mode"} {
				if q.set[k] {
					v.errorf(path+"."+k, "plan %q is shared: its members spend its bucket and cannot set their own", q.Plan)
				}
			}
		}
		c.Clients.Named[name] = merged(p, q)
	}
}

// merged returns plan overlaid with the keys the client sets.
func merged(plan, client *Quota) *Quota {
	m := *plan
	m.Plan, m.Shared, m.set = client.Plan, plan.Shared, client.set
	m.AllowCIDRs, m.DenyCIDRs = client.AllowCIDRs, client.DenyCIDRs // a client's own, never a plan's
	m.Routes = maps.Clone(plan.Routes)
	if client.set["rate"] {
		m.Rate = client.Rate
	}
	if client.set["rate"] || client.set["burst"] {
		m.Burst = client.Burst
	}
	if client.set["concurrency"] {
		m.Concurrency = client.Concurrency
	}
	if client.set["max_conns_share"] {
		m.MaxConnsShare = client.MaxConnsShare
	}
	if client.set["mode"] {
		m.Mode = client.Mode
	}
	if client.set["quota"] {
		m.Quota = client.Quota
	}
	if client.set["routes"] {
		if m.Routes == nil {
			m.Routes = map[string]RouteQuota{}
		}
		maps.Copy(m.Routes, client.Routes)
	}
	return &m
}

// periodQuota checks a quota: {limit, period} block.
func (v validator) periodQuota(path string, pq *PeriodQuota) {
	if pq == nil {
		return
	}
	if pq.Limit < 1 && !v.hasFailed(path+".limit") {
		v.errorf(path+".limit", "must be at least 1, got %d", pq.Limit)
	}
	switch pq.Period {
	case PeriodDay, PeriodWeek, PeriodMonth:
		return
	case "":
		if !v.hasFailed(path + ".period") {
			v.errorf(path+".period", "required")
		}
		return
	}
	if d := pq.Fixed(); d < minTestPeriod {
		v.errorf(path+".period", "invalid period %q (want day, week or month; a duration of at least 1s such as 10s is for tests)", pq.Period)
	}
}

// cost checks a route's cost and cost header against limits.max_cost.
func (v validator) cost(path string, r *Route, l *Limits) {
	if r.Cost < 1 {
		v.errorf(path+".cost", "must be at least 1, got %d", r.Cost)
	} else if l.MaxCost >= 1 && r.Cost > l.MaxCost {
		v.errorf(path+".cost", "%d is above limits.max_cost (%d)", r.Cost, l.MaxCost)
	}
	if r.CostHeader != "" {
		v.headerName(path+".cost_header", r.CostHeader)
	}
}

// quotaLimits checks max_cost, time_zone, and the Sentinel and TLS blocks
// of the Redis store.
func (v validator) quotaLimits(l *Limits) {
	v.atLeast("limits.max_cost", l.MaxCost, 1)
	if _, err := time.LoadLocation(l.TimeZone); err != nil || l.TimeZone == "" {
		v.errorf("limits.time_zone", "unknown time zone %q (want an IANA name such as UTC or Europe/Paris)", l.TimeZone)
	}
	if s := l.Redis.Sentinel; s != nil {
		v.required("limits.redis.sentinel.master_name", s.MasterName)
		if len(s.Addrs) == 0 {
			v.errorf("limits.redis.sentinel.addrs", "at least one sentinel address is required")
		}
		for i, a := range s.Addrs {
			v.address(indexPath("limits.redis.sentinel.addrs", i), a, false)
		}
	}
	if t := l.Redis.TLS; t != nil {
		if (t.CertFile == "") != (t.KeyFile == "") {
			v.errorf("limits.redis.tls", "cert_file and key_file must be set together")
		}
		v.readable("limits.redis.tls.ca_file", t.CAFile)
		v.readable("limits.redis.tls.cert_file", t.CertFile)
		v.readable("limits.redis.tls.key_file", t.KeyFile)
	}
}

// apiKeyPlans checks that API key entries name configured plans.
func (v validator) apiKeyPlans(c *Config) {
	a := c.Auth.APIKeys
	if a == nil {
		return
	}
	for i, k := range a.Keys {
		if k.Plan != "" && c.Plans[k.Plan] == nil {
			v.errorf(indexPath("auth.api_keys.keys", i)+".plan", "unknown plan %q", k.Plan)
		}
	}
}

// forgetKeysSet drops the decoding-time record of the keys each quota
// set, once plans are merged: a loaded Config is plain data.
func forgetKeysSet(c *Config) {
	c.Clients.Default.set = nil
	for _, q := range c.Clients.Named {
		if q != nil {
			q.set = nil
		}
	}
	for _, q := range c.Plans {
		if q != nil {
			q.set = nil
		}
	}
}
