package limiter

import (
	"fmt"
	"slices"

	"tollgate/conf"
)

// compile builds a snapshot from a config and the registry it needs,
// reusing the buckets and counters of clients that are still configured.
// It does not change the Limiter.
func (l *Limiter) compile(clients conf.Clients, limits conf.Limits, routes []string) (*snapshot, registry, error) {
	reg := registry{
		buckets:  map[string]*bucket{},
		states:   map[string]*clientState{},
		routeIDs: l.reg.routeIDs, // append-only: ids are never reused
	}
	deflt, err := l.compileClient(DefaultPolicy, clients.Default, false, &reg)
	if err != nil {
		return nil, reg, fmt.Errorf("clients.default: %w", err)
	}
	sn := &snapshot{named: make(map[string]*client, len(clients.Named)), deflt: deflt, adaptive: limits.Adaptive}
	sn.top = deflt.maxRate()
	for name, q := range clients.Named {
		if q == nil || name == "" || name == DefaultPolicy {
			return nil, reg, fmt.Errorf("clients.%s: invalid client", name)
		}
		c, err := l.compileClient(name, *q, true, &reg)
		if err != nil {
			return nil, reg, fmt.Errorf("clients.%s: %w", name, err)
		}
		sn.named[name] = c
		sn.top = max(sn.top, c.maxRate())
	}
	if a := &sn.adaptive; a.Enabled && (a.MinFactor <= 0 || a.MinFactor > 1) {
		return nil, reg, fmt.Errorf("limits.adaptive.min_factor: %v not in (0, 1]", a.MinFactor)
	}
	l.warnUnknownRoutes(clients, routes)
	return sn, reg, nil
}

// compileClient compiles one quota. Named clients get their buckets and
// counter from the registry (kept when already known).
func (l *Limiter) compileClient(name string, q conf.Quota, named bool, reg *registry) (*client, error) {
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
	metric := DefaultPolicy
	if named {
		metric = name
	}
	base, err := newPolicy(name, metric, q.Rate, q.Burst, shadow)
	if err != nil {
		return nil, err
	}
	c := &client{base: base, concurrency: int32(q.Concurrency)}
	if named {
		base.bucket = l.keepBucket(reg, base.name)
		c.state = l.keepState(reg, name)
	}
	if len(q.Routes) > 0 {
		c.routes = make(map[string]*policy, len(q.Routes))
	}
	for route, rq := range q.Routes {
		p, err := newPolicy(name+"/"+route, metric, rq.Rate, rq.Burst, shadow)
		if err != nil {
			return nil, fmt.Errorf("routes.%s: %w", route, err)
		}
		if named {
			p.bucket = l.keepBucket(reg, p.name)
		} else {
			p.route = routeID(reg, route)
		}
		c.routes[route] = p
	}
	return c, nil
}

// keepBucket returns the bucket of a named policy: the existing one when
// the policy was configured before (its state is rescaled lazily), else a
// new full one.
func (l *Limiter) keepBucket(reg *registry, name string) *bucket {
	b := l.reg.buckets[name]
	if b == nil {
		b = &bucket{}
	}
	reg.buckets[name] = b
	return b
}

// keepState returns a named client's concurrency counter, kept across
// reloads.
func (l *Limiter) keepState(reg *registry, name string) *clientState {
	s := l.reg.states[name]
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
