package proxy

import (
	"runtime"
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
	shareRefusals  *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	reloadAt       prometheus.Gauge
	reloadOKAt     prometheus.Gauge
	ipRefusals     *prometheus.CounterVec
	certRefusals   *prometheus.CounterVec
	splicedRequest prometheus.Counter
	splicedResp    prometheus.Counter
	splicedTunnel  prometheus.Counter
	fdExhausted    *prometheus.CounterVec
	fdAccept       prometheus.Counter
	fdDial         prometheus.Counter
	h2Conns        prometheus.Gauge
	h2Errors       *prometheus.CounterVec

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
	codes    [protocols][600]atomic.Pointer[prometheus.Counter]
	upstream prometheus.Observer
}

// NewMetrics registers tollgate's metrics (and the Go runtime's) on a new
// registry.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), routes: map[string]*routeMetrics{}, ups: map[string]prometheus.Observer{},
		rlCache: map[string]map[string]prometheus.Counter{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_requests_total", Help: "Requests answered, by route, status code and client protocol (http1: HTTP/1.0 and 1.1; h2: an HTTP/2 stream)."}, []string{"route", "code", "protocol"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_request_duration_seconds", Help: "Time from request head to response head written, by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	m.upstreamDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_upstream_duration_seconds", Help: "Time waiting on upstreams, by upstream.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"upstream"})
	m.activeConns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_active_connections", Help: "Client connections open."})
	m.spliced = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_spliced_bytes_total", Help: "Body and tunnel bytes moved socket to socket, by direction."}, []string{"direction"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_config_reloads_total", Help: "Config reloads, by result."}, []string{"result"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_auth_failures_total", Help: "Refused credentials, by method and reason."}, []string{"method", "reason"})
	m.rlDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_ratelimit_decisions_total", Help: "Rate-limit decisions, by client and decision."}, []string{"client", "decision"})
	m.fdExhausted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_fd_exhausted_total",
		Help: "Operations that failed because the gateway was out of file descriptors (EMFILE/ENFILE), by op: accept (each failed accept, retried after a backoff), dial (each request answered 503 for want of a socket to its upstream)."},
		[]string{"op"})
	m.shareRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_upstream_share_refusals_total", Help: "Tries refused because the client held its share of a target's connections (max_conns_share), by upstream."}, []string{"upstream"})
	m.Registry.MustRegister(m.shareRefusals)
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_upstream_errors_total",
		Help: "Failed tries toward upstream targets, by cause: connect (refused, unreachable), dns, connect_timeout, reset, bad_response, timeout, pool_exhausted."},
		[]string{"upstream", "target", "cause"})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_config_last_reload_successful",
		Help: "1 when the last config load (start or reload) succeeded, 0 when it failed."})
	m.reloadAt = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_config_last_reload_timestamp_seconds",
		Help: "Unix time of the last config load (start or reload), whatever its result."})
	m.reloadOKAt = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful config load (start or reload)."})
	m.ipRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_ip_refusals_total", Help: "Requests refused by IP rules, by route, scope (route or client) and list (allow or deny)."}, []string{"route", "scope", "list"})
	m.certRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_client_cert_refusals_total", Help: "TLS handshakes refused for their client certificate, by reason (missing, expired, untrusted, revoked)."}, []string{"reason"})
	m.h2Conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_http2_connections", Help: "Client connections speaking HTTP/2 (also counted in tollgate_active_connections)."})
	m.h2Errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_http2_errors_total",
		Help: "HTTP/2 protocol errors and refusals on client connections (malformed frames, flow-control and stream-limit violations, floods), by the HTTP/2 server's error type."}, []string{"type"})
	m.Registry.MustRegister(m.h2Conns, m.h2Errors)
	m.Registry.MustRegister(m.requests, m.duration, m.upstreamDur, m.activeConns, m.spliced, m.reloads,
		m.authFailures, m.rlDecisions, m.ipRefusals, m.certRefusals, m.upstreamErrors, m.reloadOK, m.reloadAt, m.reloadOKAt, m.fdExhausted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.fdAccept = m.fdExhausted.WithLabelValues("accept")
	m.fdDial = m.fdExhausted.WithLabelValues("dial")
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

// counter returns the requests_total child for a status code and protocol.
func (rm *routeMetrics) counter(code int, p protocol) prometheus.Counter {
	if code < 0 || code >= len(rm.codes[p]) {
		code = 0
	}
	if c := rm.codes[p][code].Load(); c != nil {
		return *c
	}
	c := rm.m.requests.WithLabelValues(rm.name, strconv.Itoa(code), p.String())
	rm.codes[p][code].Store(&c)
	return c
}

func (m *Metrics) observeRequest(rt *routeRT, p protocol, status int, d time.Duration) {
	rm := m.none
	if rt != nil {
		rm = rt.metrics
	}
	rm.counter(status, p).Inc()
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

// Reload counts a config reload with result "ok" or "error" and records
// its time and result.
func (m *Metrics) Reload(result string) {
	m.reloads.WithLabelValues(result).Inc()
	m.loaded(result == "ok", time.Now())
}

// loaded records the time and result of a config load (the first one at
// start, or a reload) in the last-reload gauges.
func (m *Metrics) loaded(ok bool, at time.Time) {
	ts := float64(at.UnixNano()) / 1e9
	m.reloadAt.Set(ts)
	if ok {
		m.reloadOK.Set(1)
		m.reloadOKAt.Set(ts)
		return
	}
	m.reloadOK.Set(0)
}

// countH2Error counts an HTTP/2 protocol error by its type (a short,
// bounded set of names the HTTP/2 server uses).
func (m *Metrics) countH2Error(errType string) { m.h2Errors.WithLabelValues(errType).Inc() }

// upstreamError counts a failed try toward a target by cause. It runs
// only for failures, never for a request that is answered.
func (m *Metrics) upstreamError(upstream, target, cause string) {
	m.upstreamErrors.WithLabelValues(upstream, target, cause).Inc()
}

// BuildInfo registers tollgate_build_info{version, goversion} (always 1).
func (m *Metrics) BuildInfo(version string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_build_info",
		Help:        "The running binary: its version (set at build time) and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	g.Set(1)
	m.Registry.MustRegister(g)
}

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

// shareRefused counts a try refused for its client's share of up.
func (m *Metrics) shareRefused(up string) {
	m.shareRefusals.WithLabelValues(up).Inc()
}
