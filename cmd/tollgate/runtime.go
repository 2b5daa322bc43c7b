package main

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/auth"
	"tollgate/conf"
	"tollgate/plugins"
)

// runtime owns the policy state that outlives config snapshots (limiter
// buckets, JWKS caches) and builds each snapshot's auth and limit filters.
type runtime struct {
	log *slog.Logger

	mu   sync.Mutex
	auth *auth.Authenticator // the newest one, the "prev" of the next build
}

func newRuntime(log *slog.Logger) (*runtime, error) {
	return &runtime{log: log}, nil
}

// filters returns the auth and limit filter factories for cfg and a
// closer that the retiring snapshot calls.
func (r *runtime) filters(cfg *conf.Config, m plugins.Metrics) (plugins.Deps, func(), error) {
	a, err := r.newAuthenticator(cfg)
	if err != nil {
		return plugins.Deps{}, nil, err
	}
	apiKeyHeader := ""
	if cfg.Auth.APIKeys != nil {
		apiKeyHeader = cfg.Auth.APIKeys.Header
	}
	deps := plugins.Deps{Metrics: m}
	deps.Auth = func(route *conf.Route) (plugins.Filter, error) {
		return plugins.NewAuthFilter(a, route, m, apiKeyHeader), nil
	}
	closer := func() { r.retireAuth(a) }
	return deps, closer, nil
}

func (r *runtime) newAuthenticator(cfg *conf.Config) (*auth.Authenticator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, err := auth.New(cfg.Auth, r.auth, auth.Options{Logger: r.log})
	if err != nil {
		return nil, err
	}
	r.auth = a
	return a, nil
}

// retireAuth stops an authenticator whose snapshot retired (or failed to
// build); a failed newest one stops being the base of the next build.
func (r *runtime) retireAuth(a *auth.Authenticator) {
	r.mu.Lock()
	if r.auth == a {
		r.auth = nil
	}
	r.mu.Unlock()
	a.Close()
}

func (r *runtime) collectors() []prometheus.Collector { return nil }

func (r *runtime) close() {}
