package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"tollgate/limiter"
)

// storeUpDesc describes tollgate_redis_up.
var storeUpDesc = prometheus.NewDesc("tollgate_redis_up",
	"1 while the Redis quota store answers, 0 while it is unreachable (limits.redis.on_failure applies); absent with the local store.",
	nil, nil)

// storeGauge exports whether the limiter's Redis store is reachable. It
// reads the limiter's own view (its heartbeat and probes), so a scrape
// never talks to Redis.
type storeGauge struct{ l *limiter.Limiter }

// Describe implements prometheus.Collector.
func (g storeGauge) Describe(ch chan<- *prometheus.Desc) { ch <- storeUpDesc }

// Collect implements prometheus.Collector: nothing with the local store.
func (g storeGauge) Collect(ch chan<- prometheus.Metric) {
	switch g.l.StoreStatus() {
	case "redis":
		ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, 1)
	case "redis-down":
		ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, 0)
	}
}
