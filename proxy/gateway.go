package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/conf"
	"tollgate/plugins"
	"tollgate/proxy/tracing"
	"tollgate/upstream"
)

// Options configure a Gateway.
type Options struct {
	Logger *slog.Logger
	// Load reads the config again for a reload (SIGHUP, POST /reload).
	Load func() (*conf.Config, error)
	// Filters builds the auth and limit filter factories for a config; nil
	// means routes get only their configured plugins.
	Filters func(cfg *conf.Config, m plugins.Metrics) (plugins.Deps, func(), error)
	// Commit applies a config to long-lived policy state (limiter quotas)
	// once its snapshot is built, right before the swap; an error aborts
	// the load and leaves everything as it was.
	Commit func(cfg *conf.Config) error
	// Observer is told each upstream answer's latency and failure.
	Observer Observer
	// Collectors are registered on the metrics registry (limiter, breakers).
	Collectors []prometheus.Collector
	// EventLoops is the number of event loops serving plain-TCP client
	// connections; 0 means one.
	EventLoops int
	// Version is the binary's version, for tollgate_build_info and the
	// start log line ("" means "dev").
	Version string
	// Ready, when set, is asked by /readyz besides the gateway's own state:
	// a non-nil error (JWKS not loaded yet, say) means not ready, and its
	// text is the answer's body.
	Ready func() error
	// Inherited are listening sockets handed over by the process this one
	// replaces (binary upgrade): Start serves on them instead of binding
	// when they were bound for the configured addresses, takes them out of
	// the Sockets, and closes those it did not adopt. Nil: bind.
	Inherited *Sockets
	// BeforeServe, when set, runs in Start once the first snapshot is in
	// place and before any connection is accepted: a process taking over
	// from another waits for its health checks and seeds its limiter there.
	BeforeServe func()
	// Quotas is read and reset by the admin /clients endpoints and the
	// dashboard; nil means the gateway meters nothing it can show.
	Quotas Quotas
}

// Gateway ties the long-lived pieces together: listeners (never closed by
// a reload), the engine, the upstream registry, the admin server, and the
// current snapshot.
type Gateway struct {
	log       *slog.Logger
	opts      Options
	Metrics   *Metrics
	engine    *Engine
	upstreams *upstream.Registry
	tracers   *tracing.Registry

	listeners []net.Listener
	sockets   []net.Listener // the client listeners before TLS: what an upgrade hands over
	admin     *http.Server
	adminLn   net.Listener
	tls       atomic.Pointer[tls.Config] // the listener's, rebuilt on reload (servertls.go)
	ready     atomic.Bool
	reloadMu  sync.Mutex
	serveWG   sync.WaitGroup
	// lastReload is the outcome of the last reload; nil before the first.
	lastReload atomic.Pointer[ReloadRecord]
}

// New returns a gateway that is not yet listening.
func New(opts Options) *Gateway {
	m := NewMetrics()
	if opts.Version == "" {
		opts.Version = "dev"
	}
	m.BuildInfo(opts.Version)
	g := &Gateway{log: opts.Logger, opts: opts, Metrics: m, upstreams: upstream.NewRegistry(opts.Logger),
		tracers: tracing.NewRegistry(opts.Logger)}
	m.Registry.MustRegister(g.upstreams)
	for _, c := range opts.Collectors {
		m.Registry.MustRegister(c)
	}
	g.engine = NewEngine(m, opts.Logger, opts.EventLoops)
	g.engine.observer = opts.Observer
	return g
}

// Engine returns the gateway's engine.
func (g *Gateway) Engine() *Engine { return g.engine }

// Start builds the first snapshot from cfg, binds the listeners and the
// admin listener, and starts serving. A *BindError means a port could not
// be bound.
func (g *Gateway) Start(cfg *conf.Config) error {
	if in := g.opts.Inherited; in != nil {
		defer in.Close() // the inherited sockets Start did not adopt
	}
	snap, err := g.build(cfg)
	if err != nil {
		return err
	}
	tc, err := buildServerTLS(cfg, g.Metrics, g.log)
	if err == nil {
		err = g.commit(cfg)
	}
	if err != nil {
		snap.Retire()
		return err
	}
	g.tls.Store(tc)
	g.engine.Swap(snap)
	g.Metrics.loaded(true, snap.LoadedAt)
	if g.opts.BeforeServe != nil {
		g.opts.BeforeServe()
	}
	lns, err := g.clientListeners(cfg)
	if err != nil {
		return err
	}
	if err := g.startAdmin(cfg.Admin.Listen); err != nil {
		for _, l := range lns {
			l.Close()
		}
		return err
	}
	g.sockets = lns
	for _, l := range lns {
		if cfg.Server.TLS.Enabled() {
			l = tlsListener(l, g.tlsConfig)
		}
		g.listeners = append(g.listeners, l)
		g.serveWG.Add(1)
		go func(l net.Listener) {
			defer g.serveWG.Done()
			g.engine.Serve(l)
		}(l)
	}
	g.ready.Store(true)
	g.log.Info("tollgate listening", "listen", g.Addr(), "admin", g.AdminAddr(), "accept_loops", len(lns),
		"version", cfg.Version, "build", g.opts.Version)
	return nil
}

// Addr returns the bound client listener address.
func (g *Gateway) Addr() string {
	if len(g.listeners) == 0 {
		return ""
	}
	return g.listeners[0].Addr().String()
}

// AdminAddr returns the bound admin address ("" when disabled).
func (g *Gateway) AdminAddr() string {
	if g.adminLn == nil {
		return ""
	}
	return g.adminLn.Addr().String()
}

func (g *Gateway) build(cfg *conf.Config) (*Snapshot, error) {
	return BuildSnapshot(cfg, BuildDeps{Upstreams: g.upstreams, Metrics: g.Metrics, Filters: g.opts.Filters,
		Tracers: g.tracers})
}

func (g *Gateway) commit(cfg *conf.Config) error {
	if g.opts.Commit == nil {
		return nil
	}
	return g.opts.Commit(cfg)
}

// tlsConfig gives each handshake the current config's TLS settings.
func (g *Gateway) tlsConfig(*tls.ClientHelloInfo) (*tls.Config, error) {
	return g.tls.Load(), nil
}

// Reload reads the config again and swaps it in. On any error the running
// snapshot stays, the error is counted and returned.
func (g *Gateway) Reload() (*conf.Config, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	cfg, err := g.opts.Load()
	if err == nil {
		err = g.checkReloadable(cfg)
	}
	var snap *Snapshot
	if err == nil {
		snap, err = g.build(cfg)
	}
	var tc *tls.Config
	if err == nil {
		if tc, err = buildServerTLS(cfg, g.Metrics, g.log); err == nil {
			err = g.commit(cfg)
		}
		if err != nil {
			snap.Retire()
		}
	}
	if err != nil {
		g.Metrics.Reload("error")
		g.noteReload(nil, err)
		g.log.Error("config reload failed; keeping the running config", "err", err)
		return nil, err
	}
	g.tls.Store(tc) // applied only with the rest: a failed reload changes nothing
	old := g.engine.Swap(snap)
	old.Retire()
	g.Metrics.Reload("ok")
	g.noteReload(cfg, nil)
	g.log.Info("config reloaded", "version", cfg.Version, "routes", len(cfg.Routes))
	return cfg, nil
}

// checkReloadable refuses changes that a reload cannot apply because the
// listeners are never closed.
func (g *Gateway) checkReloadable(cfg *conf.Config) error {
	cur := g.engine.Current().Conf
	if cfg.Server.Listen != cur.Server.Listen || cfg.Server.TLS.Enabled() != cur.Server.TLS.Enabled() {
		return errors.New("server.listen and enabling/disabling TLS need a restart")
	}
	if cfg.Admin.Listen != cur.Admin.Listen {
		g.log.Warn("admin.listen changed; the new address applies after a restart")
	}
	return nil
}

// Shutdown turns readyz to 503, stops accepting, drains in-flight requests
// for up to shutdown_timeout, closes idle connections and the admin server.
func (g *Gateway) Shutdown() error { return g.shutdown(false) }

// HandOver ends the gateway once a binary upgrade's new process serves on
// the same sockets: the admin listener stops accepting first (the new
// process answers /readyz and /metrics on it), then everything goes as in
// Shutdown. Closing a listener here closes this process's descriptor
// only; the socket and its queue of connections live on in the new one.
func (g *Gateway) HandOver() error { return g.shutdown(true) }

func (g *Gateway) shutdown(handover bool) error {
	g.ready.Store(false)
	if handover {
		g.stopAdmin()
	}
	timeout := g.engine.Current().Conf.Server.ShutdownTimeout
	for _, l := range g.listeners {
		l.Close()
	}
	g.serveWG.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := g.engine.Shutdown(ctx)
	g.stopAdmin()
	g.engine.Current().Retire()
	g.upstreams.Close()
	g.tracers.Close() // the last spans are exported
	return err
}

// stopAdmin closes the admin listener and waits up to a second for admin
// requests in progress. A second call returns at once.
func (g *Gateway) stopAdmin() {
	if g.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	g.admin.Shutdown(ctx)
	cancel()
}
