package upstream

import (
	"fmt"

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
	errNoTarget error // ErrNoTarget wrapped with the name, built once
}

func newUpstream(name string, c *conf.Upstream, policy string, targets []*Target, weights []int64) *Upstream {
	return &Upstream{
		Name:        name,
		Conf:        c,
		targets:     targets,
		weights:     weights,
		bal:         newBalancer(policy, len(targets)),
		errNoTarget: fmt.Errorf("upstream %q: %w", name, ErrNoTarget),
	}
}

// Pick chooses a target by the upstream's balance policy, skipping unhealthy
// targets and those in exclude (already tried for this request). hashKey is
// used by "hash" only (see HashString). It returns an error wrapping
// ErrNoTarget when no target is left. Pick allocates nothing.
func (u *Upstream) Pick(hashKey uint64, exclude []*Target) (*Target, error) {
	if t := u.bal.pick(u, hashKey, exclude); t != nil {
		return t, nil
	}
	return nil, u.errNoTarget
}

// Targets returns the upstream's targets in config order. The slice is
// shared: do not modify it.
func (u *Upstream) Targets() []*Target { return u.targets }

// Weight returns the configured weight of targets[i].
func (u *Upstream) Weight(i int) int { return int(u.weights[i]) }
