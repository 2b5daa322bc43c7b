package upstream

import "github.com/prometheus/client_golang/prometheus"

// connState holds one upstream's connection counts for a scrape.
type connState struct{ idle, active int64 }

func newConnsDesc() *prometheus.Desc {
	return prometheus.NewDesc(
		"tollgate_upstream_connections",
		"Connections from the gateway to upstream targets, by state (idle in the pool, active lent to a request).",
		[]string{"upstream", "state"}, nil,
	)
}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) { ch <- r.conns }

// Collect implements prometheus.Collector: tollgate_upstream_connections
// {upstream, state="idle"|"active"}, summed over the upstream's live targets.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for name, s := range r.connCounts() {
		ch <- prometheus.MustNewConstMetric(r.conns, prometheus.GaugeValue, float64(s.idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(r.conns, prometheus.GaugeValue, float64(s.active), name, "active")
	}
}

// connCounts sums idle and active connections per upstream name.
func (r *Registry) connCounts() map[string]connState {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]connState)
	for key, t := range r.targets {
		s := counts[key.upstream]
		s.idle += t.pool.idleN.Load()
		s.active += t.active.Load()
		counts[key.upstream] = s
	}
	return counts
}
