package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the Prometheus collectors of CONTRACT.md section 5 that
// the engine fills. It outlives config snapshots; per-route children are
// cached so the hot path does no label lookups.
type Metrics struct {
	Registry *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamDur    *prometheus.HistogramVec
	activeConns    prometheus.Gauge
	spliced        *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	rlDecisions    *prometheus.CounterVec
	ipRefusals     *prometheus.CounterVec
	certRefusals   *prometheus.CounterVec
	splicedRequest prometheus.Counter
	splicedResp    prometheus.Counter
	splicedTunnel  prometheus.Counter

	rlMu    sync.RWMutex
	rlCache map[string]map[string]prometheus.Counter

	mu     sync.Mutex
	routes map[string]*routeMetrics
	ups    map[string]prometheus.Observer
	none   *routeMetrics
}

// routeMetrics caches one route's children: a counter per status code.
type routeMetrics struct {
	name     string
	m        *Metrics
	duration prometheus.Observer
	codes    [600]atomic.Pointer[prometheus.Counter]
	upstream prometheus.Observer
}

// NewMetrics registers tollgate's metrics (and the Go runtime's) on a new
// registry.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), routes: map[string]*routeMetrics{}, ups: map[string]prometheus.Observer{},
		rlCache: map[string]map[string]prometheus.Counter{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_requests_total", Help: "Requests answered, by route and status code."}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_request_duration_seconds", Help: "Time from request head to response head written, by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	m.upstreamDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_upstream_duration_seconds", Help: "Time waiting on upstreams, by upstream.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"upstream"})
	m.activeConns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_active_connections", Help: "Client connections open."})
	m.spliced = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_spliced_bytes_total", Help: "Body and tunnel bytes moved socket to socket, by direction."}, []string{"direction"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_config_reloads_total", Help: "Config reloads, by result."}, []string{"result"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_auth_failures_total", Help: "Refused credentials, by method and reason."}, []string{"method", "reason"})
	m.rlDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_ratelimit_decisions_total", Help: "Rate-limit decisions, by client and decision."}, []string{"client", "decision"})
	m.ipRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_ip_refusals_total", Help: "Requests refused by IP rules, by route, scope (route or client) and list (allow or deny)."}, []string{"route", "scope", "list"})
	m.certRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_client_cert_refusals_total", Help: "TLS handshakes refused for their client certificate, by reason (missing, expired, untrusted, revoked)."}, []string{"reason"})
	m.Registry.MustRegister(m.requests, m.duration, m.upstreamDur, m.activeConns, m.spliced, m.reloads,
		m.authFailures, m.rlDecisions, m.ipRefusals, m.certRefusals, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.splicedRequest = m.spliced.WithLabelValues("request")
	m.splicedResp = m.spliced.WithLabelValues("response")
	m.splicedTunnel = m.spliced.WithLabelValues("tunnel")
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	m.none = m.route("no_route", "")
	return m
}

// route returns the cached children of a route, creating them once.
func (m *Metrics) route(name, upstream string) *routeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := name + "\x00" + upstream
	if rm, ok := m.routes[key]; ok {
		return rm
	}
	rm := &routeMetrics{name: name, m: m, duration: m.duration.WithLabelValues(name)}
	if upstream != "" {
		rm.upstream = m.upstreamDur.WithLabelValues(upstream)
	}
	m.routes[key] = rm
	return rm
}

// counter returns the requests_total child for a status code.
func (rm *routeMetrics) counter(code int) prometheus.Counter {
	if code < 0 || code >= len(rm.codes) {
		code = 0
	}
	if c := rm.codes[code].Load(); c != nil {
		return *c
	}
	c := rm.m.requests.WithLabelValues(rm.name, strconv.Itoa(code))
	rm.codes[code].Store(&c)
	return c
}

func (m *Metrics) observeRequest(rt *routeRT, name string, status int, d time.Duration) {
	rm := m.none
	if rt != nil {
		rm = rt.metrics
	}
	rm.counter(status).Inc()
	rm.duration.Observe(d.Seconds())
}

// observeUpstream records how long an upstream took to answer (or fail)
// and feeds the adaptive limiter.
func (e *Engine) observeUpstream(rt *routeRT, d time.Duration, failed bool) {
	if rt.metrics.upstream != nil {
		rt.metrics.upstream.Observe(d.Seconds())
	}
	if e.observer != nil {
		e.observer.Observe(rt.upName, d, failed)
	}
}

// Reload counts a config reload with result "ok" or "error".
func (m *Metrics) Reload(result string) { m.reloads.WithLabelValues(result).Inc() }

// AuthFailure implements plugins.Metrics.
func (m *Metrics) AuthFailure(method, reason string) {
	m.authFailures.WithLabelValues(method, reason).Inc()
}

// ClientCertRefusal counts a handshake refused for its client certificate.
func (m *Metrics) ClientCertRefusal(reason string) { m.certRefusals.WithLabelValues(reason).Inc() }

// IPRefusal implements plugins.IPMetrics.
func (m *Metrics) IPRefusal(route, scope, list string) {
	m.ipRefusals.WithLabelValues(route, scope, list).Inc()
}

// RateLimitDecision implements plugins.Metrics. It runs on every metered
// request, so the children are cached per client (a bounded set: the
// configured names and "default") instead of looked up by labels.
func (m *Metrics) RateLimitDecision(client, decision string) {
	m.rlMu.RLock()
	cs := m.rlCache[client]
	m.rlMu.RUnlock()
	if cs == nil {
		cs = m.rlClient(client)
	}
	if c, ok := cs[decision]; ok {
		c.Inc()
		return
	}
	m.rlDecisions.WithLabelValues(client, decision).Inc()
}

// rlDecisionsKnown are the decisions cached per client.
var rlDecisionsKnown = [...]string{"allow", "deny", "shadow_deny"}

func (m *Metrics) rlClient(client string) map[string]prometheus.Counter {
	m.rlMu.Lock()
	defer m.rlMu.Unlock()
	if cs := m.rlCache[client]; cs != nil {
		return cs
	}
	cs := make(map[string]prometheus.Counter, len(rlDecisionsKnown))
	for _, d := range rlDecisionsKnown {
		cs[d] = m.rlDecisions.WithLabelValues(client, d)
	}
	m.rlCache[client] = cs
	return cs
}
