package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"tollgate/auth"
	"tollgate/conf"
	"tollgate/limiter"
	"tollgate/plugins"
)

// runtime owns the policy state that outlives config snapshots (limiter
// buckets, JWKS caches) and builds each snapshot's auth and limit filters.
type runtime struct {
	log     *slog.Logger
	limiter *limiter.Limiter

	mu   sync.Mutex
	auth *auth.Authenticator // the newest one, the "prev" of the next build

	externalCalls *prometheus.CounterVec // tollgate_external_auth_calls_total{result}
}

func newRuntime(log *slog.Logger) (*runtime, error) {
	redis.SetLogger(redisLogger{log})
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_external_auth_calls_total",
		Help: "Calls to the external authorizer, by result (allow, deny, error)."}, []string{"result"})
	return &runtime{log: log, limiter: limiter.New(limiter.Options{Logger: log}), externalCalls: calls}, nil
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
	deps.Limit = func(route *conf.Route) (plugins.Filter, error) {
		return plugins.NewQuotaFilter(r.limiter, route, &cfg.Limits, m), nil
	}
	return deps, func() { r.retireAuth(a) }, nil
}

// commit applies cfg's quotas to the limiter; it runs once the snapshot is
// built, just before the swap.
func (r *runtime) commit(cfg *conf.Config) error {
	routes := make([]string, len(cfg.Routes))
	for i, rt := range cfg.Routes {
		routes[i] = rt.Name
	}
	if err := r.limiter.ApplyConfig(limiter.Config{Clients: cfg.Clients, Plans: cfg.Plans, Limits: cfg.Limits, Routes: routes}); err != nil {
		return fmt.Errorf("applying quotas: %w", err)
	}
	return nil
}

func (r *runtime) newAuthenticator(cfg *conf.Config) (*auth.Authenticator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, err := auth.New(cfg.Auth, r.auth, auth.Options{Logger: r.log, Nonces: r.limiter,
		ExternalCall: func(result string) { r.externalCalls.WithLabelValues(result).Inc() }})
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

func (r *runtime) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.limiter, storeGauge{r.limiter}, r.externalCalls}
}

// ready is /readyz's policy check: not ready until every JWKS source of
// the newest config has loaded keys once (-ready-without-jwks skips it).
func (r *runtime) ready() error {
	r.mu.Lock()
	a := r.auth
	r.mu.Unlock()
	return a.KeysLoaded()
}

func (r *runtime) close() { r.limiter.Close() }

// redisLogger routes go-redis's own log lines into slog at debug level;
// the limiter logs outages itself, once each.
type redisLogger struct{ log *slog.Logger }

// Printf implements go-redis's logger interface.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis client", "msg", fmt.Sprintf(format, v...))
}
