package upstream

import (
	"fmt"
	"time"

	"tollgate/conf"
)

// Upstream is one named group of targets as configured in one snapshot. Its
// balancer state belongs to the snapshot; its Targets are shared with other
// snapshots that name them identically. Safe for concurrent use.
type Upstream struct {
	// Name is the key under upstreams: in the config.
	Name string
	// Conf is the snapshot's configuration (timeouts, retries…); read only.
	Conf *conf.Upstream

	targets     []*Target
	weights     []int64 // weights[i] >= 1 belongs to targets[i]
	bal         balancer
	budget      *retryBudget // nil when retries.attempts is 0
	errNoTarget error        // ErrNoTarget wrapped with the name, built once
	errAllDown  error        // ErrAllUnavailable wrapped with the name
}

func newUpstream(spec *upstreamSpec, targets []*Target, budget *retryBudget) *Upstream {
	return &Upstream{
		Name:        spec.name,
		Conf:        spec.conf,
		targets:     targets,
		weights:     spec.weights,
		bal:         newBalancer(spec.policy, len(targets)),
		budget:      budget,
		errNoTarget: fmt.Errorf("upstream %q: %w", spec.name, ErrNoTarget),
		errAllDown:  fmt.Errorf("upstream %q: %w", spec.name, ErrAllUnavailable),
	}
}

// Pick chooses a target by the upstream's balance policy, skipping targets
// out of rotation (unhealthy, or breaker open) and those in exclude (already
// tried for this request). hashKey is used by "hash" only (see HashString).
// It returns an error wrapping ErrAllUnavailable when every target is out of
// rotation, else one wrapping ErrNoTarget when no target is left. Pick
// allocates nothing.
func (u *Upstream) Pick(hashKey uint64, exclude []*Target) (*Target, error) {
	if t := u.bal.pick(u, hashKey, exclude); t != nil {
		return t, nil
	}
	for _, t := range u.targets {
		if t.usable() {
			return nil, u.errNoTarget
		}
	}
	return nil, u.errAllDown
}

// RetryAfter is how long a caller refused because every target is out of
// rotation should wait: the shortest time until some target may be picked
// again (its breaker half-opens; or one health check interval), at least
// 1 s.
func (u *Upstream) RetryAfter() time.Duration {
	now := time.Now()
	best := time.Duration(-1)
	for _, t := range u.targets {
		if d := t.unavailableFor(now); best < 0 || d < best {
			best = d
		}
	}
	return max(best, time.Second)
}

// CountRequest records one request to the upstream for the retry budget.
// The proxy calls it once per request, before the first try. Without
// retries configured it does nothing.
func (u *Upstream) CountRequest() {
	if u.budget != nil {
		u.budget.countRequest()
	}
}

// AllowRetry reports whether the retry budget allows one more retry, and if
// so records it: retries stay within 20% of the upstream's requests over
// the last 10 s (plus a small floor, see retryBudget). It is false when
// retries.attempts is 0.
func (u *Upstream) AllowRetry() bool {
	return u.budget != nil && u.budget.allowRetry()
}

// Targets returns the upstream's targets in config order. The slice is
// shared: do not modify it.
func (u *Upstream) Targets() []*Target { return u.targets }

// Weight returns the configured weight of targets[i].
func (u *Upstream) Weight(i int) int { return int(u.weights[i]) }
