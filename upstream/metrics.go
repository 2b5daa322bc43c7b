package upstream

import "github.com/prometheus/client_golang/prometheus"

// connState holds one upstream's connection counts for a scrape.
type connState struct{ idle, active int64 }

// breakerID names one breaker in tollgate_breaker_state.
type breakerID struct{ upstream, addr string }

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
		"Circuit breaker state per upstream target: 0 closed, 1 half-open, 2 open.",
		[]string{"upstream", "target"}, nil,
	)
}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.conns
	ch <- r.breakers
}

// Collect implements prometheus.Collector: tollgate_upstream_connections
// {upstream, state="idle"|"active"}, summed over the upstream's live
// targets, and tollgate_breaker_state{upstream, target} for every live
// target with a breaker.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	counts, breakers := r.scrape()
	for name, s := range counts {
		ch <- prometheus.MustNewConstMetric(r.conns, prometheus.GaugeValue, float64(s.idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(r.conns, prometheus.GaugeValue, float64(s.active), name, "active")
	}
	// Asking a breaker its state may move it to half-open, which logs: done
	// outside the registry lock.
	for id, b := range breakers {
		ch <- prometheus.MustNewConstMetric(r.breakers, prometheus.GaugeValue, float64(b.current()), id.upstream, id.addr)
	}
}

// scrape sums idle and active connections per upstream name and collects
// the live breakers, one per (upstream, address) even while two pools of
// the same address overlap across a reload.
func (r *Registry) scrape() (map[string]connState, map[breakerID]*breaker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]connState)
	breakers := make(map[breakerID]*breaker)
	for key, t := range r.targets {
		s := counts[key.upstream]
		s.idle += t.pool.idleN.Load()
		s.active += t.active.Load()
		counts[key.upstream] = s
		if b := t.breaker.Load(); b != nil {
			breakers[breakerID{key.upstream, key.addr}] = b
		}
	}
	return counts, breakers
}
