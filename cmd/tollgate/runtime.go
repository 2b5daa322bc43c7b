package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/conf"
	"tollgate/plugins"
)

// runtime owns the policy state that outlives config snapshots (limiter
// buckets, JWKS caches) and builds each snapshot's auth and limit filters.
type runtime struct {
	log *slog.Logger
}

func newRuntime(log *slog.Logger) (*runtime, error) {
	return &runtime{log: log}, nil
}

// filters returns the auth and limit filter factories for cfg.
func (r *runtime) filters(cfg *conf.Config) (plugins.Deps, func(), error) {
	return plugins.Deps{}, nil, nil
}

func (r *runtime) collectors() []prometheus.Collector { return nil }

func (r *runtime) close() {}
