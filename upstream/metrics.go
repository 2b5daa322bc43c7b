package upstream

import "github.com/prometheus/client_golang/prometheus"

// connState holds one upstream's connection counts for a scrape.
type connState struct{ idle, active int64 }

// targetID names one target in tollgate_breaker_state and
// tollgate_upstream_target_healthy.
type targetID struct{ upstream, addr string }

// targetState is one target's state for a scrape: its breaker (nil when
// it has none) and its health flag.
type targetState struct {
	breaker *breaker
	healthy bool
}

func newConnsDesc() *prometheus.Desc {
	return prometheus.NewDesc(
		"tollgate_upstream_connections",
		"Connections from the gateway to upstream targets, by state (idle in the pool, active lent to a request).",
		[]string{"upstream", "state"}, nil,
	)
}

func newBreakerDesc() *prometheus.Desc {
	return prometheus.NewDesc(
		"tollgate_breaker_state",
		"Circuit breaker state per upstream target: 0 closed (or no breaker configured), 1 half-open, 2 open.",
		[]string{"upstream", "target"}, nil,
	)
}

func newHealthDesc() *prometheus.Desc {
	return prometheus.NewDesc(
		"tollgate_upstream_target_healthy",
		"1 when the target is in rotation as far as health checks go (always 1 without health_check), 0 while it fails them or has not passed its first.",
		[]string{"upstream", "target"}, nil,
	)
}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.conns
	ch <- r.breakers
	ch <- r.healthy
}

// Collect implements prometheus.Collector: tollgate_upstream_connections
// {upstream, state="idle"|"active"}, summed over the upstream's live
// targets, and for every live target tollgate_breaker_state{upstream,
// target} (0 when it has no breaker, so a dashboard sees every target)
// and tollgate_upstream_target_healthy{upstream, target}.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	counts, targets := r.scrape()
	for name, s := range counts {
		ch <- prometheus.MustNewConstMetric(r.conns, prometheus.GaugeValue, float64(s.idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(r.conns, prometheus.GaugeValue, float64(s.active), name, "active")
	}
	// Asking a breaker its state may move it to half-open, which logs: done
	// outside the registry lock.
	for id, ts := range targets {
		state := 0.0
		if ts.breaker != nil {
			state = float64(ts.breaker.current())
		}
		healthy := 0.0
		if ts.healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(r.breakers, prometheus.GaugeValue, state, id.upstream, id.addr)
		ch <- prometheus.MustNewConstMetric(r.healthy, prometheus.GaugeValue, healthy, id.upstream, id.addr)
	}
}

// scrape sums idle and active connections per upstream name and collects
// the live targets' breakers and health, one per (upstream, address) even
// while two pools of the same address overlap across a reload (the
// newest breaker wins; a target is healthy if any of its pools is).
func (r *Registry) scrape() (map[string]connState, map[targetID]targetState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]connState)
	targets := make(map[targetID]targetState)
	for key, t := range r.targets {
		s := counts[key.upstream]
		s.idle += t.pool.idleN.Load()
		s.active += t.active.Load()
		counts[key.upstream] = s
		id := targetID{key.upstream, key.addr}
		ts := targets[id]
		if b := t.breaker.Load(); b != nil {
			ts.breaker = b
		}
		ts.healthy = ts.healthy || t.Healthy()
		targets[id] = ts
	}
	return counts, targets
}
