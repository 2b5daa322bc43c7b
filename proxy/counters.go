package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Reading the metrics' own counters back, for the dashboard: the values
// are the ones /metrics exports, read from the cached children without a
// registry scrape.

// counterValue returns a counter's current value.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// rateLimitCounts returns tollgate_ratelimit_decisions_total by client and
// decision, for the clients that had a decision.
func (m *Metrics) rateLimitCounts() map[string]map[string]float64 {
	m.rlMu.RLock()
	defer m.rlMu.RUnlock()
	out := make(map[string]map[string]float64, len(m.rlCache))
	for client, cs := range m.rlCache {
		vs := make(map[string]float64, len(cs))
		for d, c := range cs {
			vs[d] = counterValue(c)
		}
		out[client] = vs
	}
	return out
}

// counts returns a route's answered requests and the 5xx among them.
func (rm *routeMetrics) counts() (total, errors float64) {
	for p := range rm.codes {
		for code := range rm.codes[p] {
			c := rm.codes[p][code].Load()
			if c == nil {
				continue
			}
			v := counterValue(*c)
			total += v
			if code >= 500 {
				errors += v
			}
		}
	}
	return total, errors
}
