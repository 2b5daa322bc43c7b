package upstream

import (
	"crypto/tls"
	"fmt"
	"net"
	"sort"

	"tollgate/conf"
)

// upstreamSpec is one upstream's config, checked and normalised before any
// registry state is touched, so a bad Apply changes nothing.
type upstreamSpec struct {
	name    string
	conf    *conf.Upstream
	policy  string
	pool    poolSettings
	addrs   []string
	weights []int64
	// target is what every target of the upstream is configured with.
	target targetSettings
	// retries is true when retries.attempts > 0: the upstream gets a budget.
	retries bool
	// tls and tlsID are the upstream's TLS client config and its identity
	// (nil, "" for cleartext).
	tls   *tls.Config
	tlsID string
	// proto is the protocol spoken to the targets (conf.ProtocolHTTP1,
	// H2C or H2).
	proto string
}

// buildSpecs checks and normalises every upstream, in name order so errors
// come out stably. Zero values: Balance "" is round_robin, Weight < 1 is 1,
// Timeouts.Connect <= 0 leaves only the caller's deadline; pool bounds as in
// newPoolSettings.
func buildSpecs(cfg map[string]*conf.Upstream) ([]upstreamSpec, error) {
	names := make([]string, 0, len(cfg))
	for name := range cfg {
		names = append(names, name)
	}
	sort.Strings(names)
	specs := make([]upstreamSpec, 0, len(names))
	for _, name := range names {
		s, err := buildSpec(name, cfg[name])
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", name, err)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

func buildSpec(name string, c *conf.Upstream) (upstreamSpec, error) {
	if c == nil {
		return upstreamSpec{}, fmt.Errorf("no configuration")
	}
	policy, err := normalPolicy(c.Balance)
	if err != nil {
		return upstreamSpec{}, err
	}
	if len(c.Targets) == 0 {
		return upstreamSpec{}, fmt.Errorf("no targets")
	}
	ts, err := newTargetSettings(c)
	if err != nil {
		return upstreamSpec{}, err
	}
	tc, tlsID, err := buildUpstreamTLS(c.TLS)
	if err != nil {
		return upstreamSpec{}, err
	}
	s := upstreamSpec{
		name:    name,
		conf:    c,
		policy:  policy,
		pool:    newPoolSettings(c.Pool),
		addrs:   make([]string, 0, len(c.Targets)),
		weights: make([]int64, 0, len(c.Targets)),
		target:  ts,
		retries: c.Retries.Attempts > 0,
		tls:     tc,
		tlsID:   tlsID,
		proto:   c.Protocol,
	}
	switch s.proto {
	case "":
		s.proto = conf.ProtocolHTTP1
	case conf.ProtocolHTTP1, conf.ProtocolH2C:
	case conf.ProtocolH2:
		if tc == nil {
			return upstreamSpec{}, fmt.Errorf("protocol h2 needs a tls block")
		}
	default:
		return upstreamSpec{}, fmt.Errorf("protocol: unknown %q", s.proto)
	}
	seen := make(map[string]bool, len(c.Targets))
	for i, t := range c.Targets {
		if err := checkAddr(t.Addr, seen); err != nil {
			return upstreamSpec{}, fmt.Errorf("targets[%d]: %w", i, err)
		}
		s.addrs = append(s.addrs, t.Addr)
		s.weights = append(s.weights, int64(max(t.Weight, 1)))
	}
	return s, nil
}

func normalPolicy(p string) (string, error) {
	switch p {
	case "":
		return conf.BalanceRoundRobin, nil
	case conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceRandom, conf.BalanceHash:
		return p, nil
	}
	return "", fmt.Errorf("balance: unknown policy %q", p)
}

func checkAddr(addr string, seen map[string]bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if seen[addr] {
		return fmt.Errorf("duplicate address %q", addr)
	}
	seen[addr] = true
	return nil
}
