package limiter

import (
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"tollgate/conf"
)

// Names used in decisions and metrics.
const (
	// DefaultPolicy is the policy (and metric client) name of callers not
	// named in clients:.
	DefaultPolicy = "default"
)

// policy is one compiled quota: the base quota of a client (or of the
// default) or one of its per-route overrides. Policies are immutable and
// belong to a snapshot; their buckets belong to the Limiter's registry.
type policy struct {
	name   string // "partner-x", "partner-x/search", "default"
	client string // metric label: the configured name or "default"
	rate   float64
	burst  float64
	shadow bool
	route  uint32  // route id of an override, 0 for a base quota
	bucket *bucket // named clients only; nil for the default
	// key names the bucket in the registry and Redis: the policy name, or
	// "plan:<plan>[/route]" for the members of a shared plan.
	key string
	q   *quotaPolicy // the long-window quota; nil for none

	limit     int    // burst as an int
	window    int    // seconds to refill the burst at the configured rate
	quoted    string // `"partner-x"`, for the ietf headers
	limitText string // strconv of limit, for the legacy header
	hdr       atomic.Pointer[policyHeader]
}

// policyHeader caches a RateLimit-Policy value for one window length, so
// the header costs nothing until the adaptive factor changes the window.
type policyHeader struct {
	window  int
	qwindow int // the quota's period in seconds (0 without a quota)
	value   string
}

// client is a compiled entry of clients: (or the default, or a plan): its
// base policy, its per-route overrides and its concurrency bound.
type client struct {
	base        *policy
	routes      map[string]*policy
	concurrency int32
	state       *clientState // named clients and shared plans only
	plan        uint32       // a plan's id in caller keys; 0 otherwise
	shared      bool         // a shared plan: one bucket for every member
}

// clientState is the part of a named client that outlives snapshots: its
// in-flight counter, for the concurrency bound.
type clientState struct {
	inflight atomic.Int32
}

// newPolicy compiles one quota into a policy.
func newPolicy(name, metric string, rate conf.Rate, burst int, shadow bool, pq *conf.PeriodQuota, loc *time.Location) (*policy, error) {
	r := rate.PerSecond()
	if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return nil, fmt.Errorf("policy %q: rate must be positive, got %v/%v", name, rate.N, rate.Per)
	}
	if burst < 1 {
		return nil, fmt.Errorf("policy %q: burst must be at least 1, got %d", name, burst)
	}
	p := &policy{
		name: name, client: metric, rate: r, burst: float64(burst), shadow: shadow, key: name,
		limit: burst, quoted: strconv.Quote(name), limitText: strconv.Itoa(burst),
	}
	q, err := newQuotaPolicy(name, pq, loc)
	if err != nil {
		return nil, err
	}
	p.q = q
	p.window = windowSeconds(p.burst, r)
	p.hdr.Store(&policyHeader{window: p.window, value: formatPolicy(p.quoted, p.limit, p.window)})
	return p, nil
}

// windowSeconds is the time to refill burst at rate, rounded up.
func windowSeconds(burst, rate float64) int {
	return int(math.Ceil(burst/rate - 1e-9))
}

// forRoute returns the client's policy for route.
func (c *client) forRoute(route string) *policy {
	if len(c.routes) != 0 {
		if p, ok := c.routes[route]; ok {
			return p
		}
	}
	return c.base
}

// maxRate returns the largest refill rate among the client's policies.
func (c *client) maxRate() float64 {
	r := c.base.rate
	for _, p := range c.routes {
		r = max(r, p.rate)
	}
	return r
}
