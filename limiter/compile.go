package limiter

import (
	"fmt"
	"slices"
	"time"

	"tollgate/conf"
)

// compile builds a snapshot from a config and the registry it needs,
// reusing the buckets and counters of clients that are still configured.
// It does not change the Limiter.
func (l *Limiter) compile(cfg Config) (*snapshot, registry, error) {
	clients, limits := cfg.Clients, cfg.Limits
	reg := registry{
		buckets:  map[string]*bucket{},
		states:   map[string]*clientState{},
		routeIDs: l.reg.routeIDs, // append-only: ids are never reused
		planIDs:  l.reg.planIDs,
	}
	loc, err := zone(limits.TimeZone)
	if err != nil {
		return nil, reg, err
	}
	cc := compiler{l: l, reg: &reg, loc: loc}
	deflt, err := cc.client(DefaultPolicy, clients.Default, compileDefault, "")
	if err != nil {
		return nil, reg, fmt.Errorf("clients.default: %w", err)
	}
	sn := &snapshot{named: make(map[string]*client, len(clients.Named)), plans: make(map[string]*client, len(cfg.Plans)),
		deflt: deflt, adaptive: limits.Adaptive}
	sn.top = deflt.maxRate()
	for name, q := range cfg.Plans {
		if q == nil || name == "" || name == DefaultPolicy {
			return nil, reg, fmt.Errorf("plans.%s: invalid plan", name)
		}
		c, err := cc.client(name, *q, compilePlan, "")
		if err != nil {
			return nil, reg, fmt.Errorf("plans.%s: %w", name, err)
		}
		sn.plans[name] = c
		sn.top = max(sn.top, c.maxRate())
	}
	for name, q := range clients.Named {
		if q == nil || name == "" || name == DefaultPolicy {
			return nil, reg, fmt.Errorf("clients.%s: invalid client", name)
		}
		kind, shared := compileNamed, ""
		if p := cfg.Plans[q.Plan]; q.Plan != "" && p != nil && p.Shared {
			shared = q.Plan
		}
		c, err := cc.client(name, *q, kind, shared)
		if err != nil {
			return nil, reg, fmt.Errorf("clients.%s: %w", name, err)
		}
		sn.named[name] = c
		sn.top = max(sn.top, c.maxRate())
	}
	if a := &sn.adaptive; a.Enabled && (a.MinFactor <= 0 || a.MinFactor > 1) {
		return nil, reg, fmt.Errorf("limits.adaptive.min_factor: %v not in (0, 1]", a.MinFactor)
	}
	l.warnUnknownRoutes(clients, routesOf(cfg))
	return sn, reg, nil
}

// zone loads limits.time_zone ("" is UTC).
func zone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("limits.time_zone: %w", err)
	}
	return loc, nil
}

// routesOf returns the route names to check overrides against (nil: do
// not check).
func routesOf(cfg Config) []string { return cfg.Routes }

// What a compiled client is: the default (per caller, keyed by client id
// or IP), a named client (its own buckets), or a plan (per member,
// keyed by client id or tenant, unless the plan is shared).
const (
	compileDefault = iota
	compileNamed
	compilePlan
)

// compiler compiles quotas into clients against one registry.
type compiler struct {
	l   *Limiter
	reg *registry
	loc *time.Location
}

// client compiles one quota. Named clients and shared plans get their
// buckets and counter from the registry (kept when already known); the
// members of a shared plan (named clients naming it, and the plan itself)
// all get the plan's, keyed "plan:<name>".
func (cc compiler) client(name string, q conf.Quota, kind int, shared string) (*client, error) {
	var shadow bool
	switch q.Mode {
	case "", conf.ModeEnforce:
	case conf.ModeShadow:
		shadow = true
	default:
		return nil, fmt.Errorf("mode: unknown mode %q", q.Mode)
	}
	if q.Concurrency < 0 {
		return nil, fmt.Errorf("concurrency: %d is negative", q.Concurrency)
	}
	metric := name
	if kind == compileDefault {
		metric = DefaultPolicy
	}
	if kind == compilePlan && q.Shared {
		shared = name
	}
	own := kind == compileNamed || shared != ""
	key := name
	if shared != "" {
		key = "plan:" + shared
	}
	base, err := newPolicy(name, metric, q.Rate, q.Burst, shadow, q.Quota, cc.loc)
	if err != nil {
		return nil, err
	}
	c := &client{base: base, concurrency: int32(q.Concurrency), shared: shared != ""}
	if kind == compilePlan {
		c.plan = planID(cc.reg, name)
	}
	if own {
		base.key = key
		base.bucket = cc.l.keepBucket(cc.reg, key)
		c.state = cc.l.keepState(cc.reg, key)
	}
	if len(q.Routes) > 0 {
		c.routes = make(map[string]*policy, len(q.Routes))
	}
	for route, rq := range q.Routes {
		p, err := newPolicy(name+"/"+route, metric, rq.Rate, rq.Burst, shadow, rq.Quota, cc.loc)
		if err != nil {
			return nil, fmt.Errorf("routes.%s: %w", route, err)
		}
		if own {
			p.key = key + "/" + route
			p.bucket = cc.l.keepBucket(cc.reg, p.key)
		} else {
			p.route = routeID(cc.reg, route)
		}
		c.routes[route] = p
	}
	return c, nil
}

// planID returns the stable id of a plan name in caller keys.
func planID(reg *registry, plan string) uint32 {
	if id, ok := reg.planIDs[plan]; ok {
		return id
	}
	id := uint32(len(reg.planIDs) + 1)
	reg.planIDs[plan] = id
	return id
}

// keepBucket returns the bucket of a named policy: the existing one when
// the policy was configured before (its state is rescaled lazily), else a
// new full one.
func (l *Limiter) keepBucket(reg *registry, name string) *bucket {
	b := reg.buckets[name] // a shared plan's members meet here
	if b == nil {
		b = l.reg.buckets[name]
	}
	if b == nil {
		b = &bucket{}
	}
	reg.buckets[name] = b
	return b
}

// keepState returns a named client's concurrency counter, kept across
// reloads.
func (l *Limiter) keepState(reg *registry, name string) *clientState {
	s := reg.states[name]
	if s == nil {
		s = l.reg.states[name]
	}
	if s == nil {
		s = &clientState{}
	}
	reg.states[name] = s
	return s
}

// routeID returns the stable id of a route name in caller keys.
func routeID(reg *registry, route string) uint32 {
	if id, ok := reg.routeIDs[route]; ok {
		return id
	}
	id := uint32(len(reg.routeIDs) + 1)
	reg.routeIDs[route] = id
	return id
}

// warnUnknownRoutes logs per-route overrides that name no route.
func (l *Limiter) warnUnknownRoutes(clients conf.Clients, routes []string) {
	if routes == nil {
		return
	}
	check := func(client string, q conf.Quota) {
		for r := range q.Routes {
			if !slices.Contains(routes, r) {
				l.log.Warn("limiter: per-route quota names no route", "client", client, "route", r)
			}
		}
	}
	check(DefaultPolicy, clients.Default)
	for name, q := range clients.Named {
		if q != nil {
			check(name, *q)
		}
	}
}
