package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"tollgate/conf"
	"tollgate/plugins"
	"tollgate/proxy/http1"
	"tollgate/proxy/tracing"
	"tollgate/router"
	"tollgate/upstream"
)

// Snapshot is one immutable config with everything compiled from it: the
// route table, each route's filter chain and the upstream set. Requests
// load the current snapshot once and use it to the end.
type Snapshot struct {
	Conf     *conf.Config
	LoadedAt time.Time

	table     *router.Table
	routes    []*routeRT
	upstreams *upstream.Set
	trusted   []netip.Prefix
	closers   []func()
	tracer    *tracing.Tracer // nil: tracing is off
	// shares holds the clients' max_conns_share overrides.
	shares map[string]float64
}

// routeRT is one compiled route.
type routeRT struct {
	conf    *conf.Route
	name    string
	upName  string
	up      *upstream.Upstream
	chain   plugins.Chain
	retry   retryPolicy
	metrics *routeMetrics
	// readsBody: a filter checks the body (signatures), so a worker reads
	// a small body whole before the filters run, as the loop does.
	readsBody bool
}

// retryPolicy is retries.on compiled for quick checks.
type retryPolicy struct {
	connect, timeout, reset bool
	statuses                [100]bool // 500..599
}

func compileRetry(on []string) retryPolicy {
	var p retryPolicy
	for _, s := range on {
		switch s {
		case "connect_failure":
			p.connect = true
		case "timeout":
			p.timeout = true
		case "reset":
			p.reset = true
		default:
			if n, err := strconv.Atoi(s); err == nil && n >= 500 && n < 600 {
				p.statuses[n-500] = true
			}
		}
	}
	return p
}

func (p *retryPolicy) status(code int) bool {
	return code >= 500 && code < 600 && p.statuses[code-500]
}

// BuildDeps are the long-lived pieces a snapshot is built against.
type BuildDeps struct {
	Upstreams *upstream.Registry
	Metrics   *Metrics
	// Filters returns the auth and limit filter factories for a config
	// (nil entries mean none); Close is called when the snapshot retires.
	Filters func(cfg *conf.Config, m plugins.Metrics) (plugins.Deps, func(), error)
	// Tracers shares the tracer of the config's tracing block; nil: no
	// tracing whatever the config says.
	Tracers *tracing.Registry
}

// BuildSnapshot compiles cfg. On error nothing it built is left behind.
func BuildSnapshot(cfg *conf.Config, d BuildDeps) (s *Snapshot, err error) {
	s = &Snapshot{Conf: cfg, LoadedAt: time.Now(), trusted: cfg.Server.TrustedProxies, shares: clientShares(cfg)}
	defer func() {
		if err != nil {
			s.Retire()
			s = nil
		}
	}()
	if s.table, err = router.Compile(cfg.Routes); err != nil {
		return s, fmt.Errorf("compiling routes: %w", err)
	}
	if s.upstreams, err = d.Upstreams.Apply(cfg.Upstreams); err != nil {
		return s, fmt.Errorf("building upstreams: %w", err)
	}
	if err = s.useTracer(d.Tracers); err != nil {
		return s, err
	}
	deps := plugins.Deps{Metrics: d.Metrics}
	if d.Filters != nil {
		var closer func()
		if deps, closer, err = d.Filters(cfg, d.Metrics); err != nil {
			return s, err
		}
		if closer != nil {
			s.closers = append(s.closers, closer)
		}
		deps.Metrics = d.Metrics
	}
	deps.ClientIPRules = plugins.CompileClientIPRules(cfg.Clients)
	for i := range cfg.Routes {
		rt, err := s.buildRoute(&cfg.Routes[i], deps, d.Metrics)
		if err != nil {
			return s, err
		}
		s.routes = append(s.routes, rt)
	}
	return s, nil
}

func (s *Snapshot) buildRoute(r *conf.Route, deps plugins.Deps, m *Metrics) (*routeRT, error) {
	up := s.upstreams.Get(r.Upstream)
	if up == nil {
		return nil, fmt.Errorf("route %q: unknown upstream %q", r.Name, r.Upstream)
	}
	chain, err := plugins.Build(r, deps)
	if err != nil {
		return nil, err // plugins.Build names the route already
	}
	return &routeRT{
		conf: r, name: r.Name, upName: r.Upstream, up: up, chain: chain,
		retry: compileRetry(up.Conf.Retries.On), metrics: m.route(r.Name, r.Upstream),
		readsBody: slices.Contains(r.Auth, conf.AuthSignature),
	}, nil
}

// useTracer takes the tracer of the config's tracing block, if any, from
// tracers; the snapshot gives it back when it retires.
func (s *Snapshot) useTracer(tracers *tracing.Registry) error {
	if s.Conf.Tracing == nil || tracers == nil {
		return nil
	}
	t, err := tracers.Acquire(*s.Conf.Tracing)
	if err != nil {
		return err
	}
	s.tracer = t
	s.closers = append(s.closers, func() { tracers.Release(t) })
	return nil
}

// Retire releases what the snapshot holds once a newer one replaced it.
// Requests still using it finish normally.
func (s *Snapshot) Retire() {
	if s.upstreams != nil {
		s.upstreams.Release()
	}
	for _, c := range s.closers {
		c()
	}
}

// clientIP is the right-most address of X-Forwarded-For plus the peer that
// is not a trusted proxy (CONTRACT.md section 3). An IPv4-mapped IPv6
// address (a dual-stack listener's IPv4 peer) is returned as IPv4.
func (s *Snapshot) clientIP(peer netip.Addr, h *http1.Header) netip.Addr {
	peer = peer.Unmap()
	if len(s.trusted) == 0 || !s.isTrusted(peer) {
		return peer
	}
	ip := peer
	for i := h.Len() - 1; i >= 0; i-- {
		name, v := h.At(i)
		if !http1.EqualFold(name, "X-Forwarded-For") {
			continue
		}
		for end := len(v); end > 0; {
			start := end - 1
			for start >= 0 && v[start] != ',' {
				start--
			}
			a, err := netip.ParseAddr(string(http1.TrimOWS(v[start+1 : end])))
			if err != nil {
				return ip
			}
			ip = a.Unmap()
			if !s.isTrusted(ip) {
				return ip
			}
			end = start
		}
	}
	return ip
}

func (s *Snapshot) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hashKey is the balancing key of the hash policy: the client id, or the
// client IP for anonymous callers.
func hashKey(clientID string, ip netip.Addr) uint64 {
	if clientID != "" {
		return upstream.HashString(clientID)
	}
	b := ip.As16()
	return upstream.HashString(string(b[:])) // the conversion stays on the stack
}
