package upstream

import (
	"fmt"
	"time"

	"tollgate/conf"
)

// targetSettings is the part of an upstream's config that each of its
// Targets is (re)configured with on Apply, without changing its identity:
// a reload that changes these keeps the pool and, where they are equal,
// the breaker and the health checker.
type targetSettings struct {
	connect time.Duration
	share   float64          // pool.max_conns_share
	breaker *breakerSettings // nil = no breaker
	health  *healthSettings  // nil = no active health check
}

// breakerSettings is conf.Breaker normalised; comparable, so a reload can
// tell whether a target's breaker must be rebuilt.
type breakerSettings struct {
	minRequests uint32
	ratio       float64 // <= 0: the ratio condition is off
	consecutive uint32  // 0: the consecutive condition is off
	interval    time.Duration
	openFor     time.Duration
	halfOpen    uint32
	on5xx       bool
	onTimeout   bool
	onConnect   bool
}

// healthSettings is conf.HealthCheck normalised; comparable.
type healthSettings struct {
	path           string
	interval       time.Duration
	timeout        time.Duration
	unhealthyAfter int
	healthyAfter   int
}

// Fallbacks for zero values (the config loader normally fills the
// contract's defaults, so these only matter to direct callers).
const (
	defaultOpenFor        = 5 * time.Second
	defaultHealthInterval = 5 * time.Second
	defaultHealthTimeout  = time.Second
	defaultHealthPath     = "/healthz"
)

// newTargetSettings normalises the per-target parts of c.
func newTargetSettings(c *conf.Upstream) (targetSettings, error) {
	ts := targetSettings{connect: max(c.Timeouts.Connect, 0), share: c.Pool.MaxConnsShare}
	if c.Breaker != nil {
		b, err := newBreakerSettings(c.Breaker)
		if err != nil {
			return targetSettings{}, fmt.Errorf("breaker: %w", err)
		}
		ts.breaker = &b
	}
	if c.HealthCheck != nil {
		h := newHealthSettings(c.HealthCheck)
		ts.health = &h
	}
	return ts, nil
}

// newBreakerSettings normalises conf.Breaker. Zero values: Interval <= 0
// never clears the closed-state counts (gobreaker's meaning), OpenFor <= 0 is
// 5 s, HalfOpenRequests 0 is 1, ConsecutiveFailures 0 and FailureRatio <= 0
// turn their trip condition off, an empty FailureOn counts all three kinds.
func newBreakerSettings(c *conf.Breaker) (breakerSettings, error) {
	b := breakerSettings{
		minRequests: c.MinRequests,
		ratio:       c.FailureRatio,
		consecutive: c.ConsecutiveFailures,
		interval:    max(c.Interval, 0),
		openFor:     c.OpenFor,
		halfOpen:    max(c.HalfOpenRequests, 1),
	}
	if b.openFor <= 0 {
		b.openFor = defaultOpenFor
	}
	if len(c.FailureOn) == 0 {
		b.on5xx, b.onTimeout, b.onConnect = true, true, true
	}
	for i, on := range c.FailureOn {
		switch on {
		case "5xx":
			b.on5xx = true
		case "timeout":
			b.onTimeout = true
		case "connect_failure":
			b.onConnect = true
		default:
			return breakerSettings{}, fmt.Errorf("failure_on[%d]: unknown condition %q", i, on)
		}
	}
	return b, nil
}

// newHealthSettings normalises conf.HealthCheck. Zero values: Path "" is
// /healthz, Interval and Timeout <= 0 are 5 s and 1 s, thresholds < 1 are 1.
func newHealthSettings(c *conf.HealthCheck) healthSettings {
	h := healthSettings{
		path:           c.Path,
		interval:       c.Interval,
		timeout:        c.Timeout,
		unhealthyAfter: max(c.UnhealthyAfter, 1),
		healthyAfter:   max(c.HealthyAfter, 1),
	}
	if h.path == "" {
		h.path = defaultHealthPath
	}
	if h.interval <= 0 {
		h.interval = defaultHealthInterval
	}
	if h.timeout <= 0 {
		h.timeout = defaultHealthTimeout
	}
	return h
}
