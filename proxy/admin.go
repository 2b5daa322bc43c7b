package proxy

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tollgate/conf"
	"tollgate/proxy/dashboard"
)

// startAdmin serves the admin endpoints of CONTRACT.md section 4 on addr
// ("" disables them), the quota usage API (quotausage.go), with the
// mutating endpoints behind the admin token when one is configured
// (admintoken.go), and the dashboard under /ui/ (package dashboard, "/"
// redirecting to it).
func (g *Gateway) startAdmin(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := g.adminListener(addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", g.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /config", g.handleConfig)
	mux.HandleFunc("POST /reload", g.guarded(g.handleReload))
	mux.HandleFunc("GET /clients", g.handleClients)
	mux.HandleFunc("GET /clients/{id}", g.handleClient)
	mux.HandleFunc("POST /clients/{id}/reset", g.guarded(g.handleClientReset))
	mux.Handle("GET /ui/", dashboard.Handler(g.overview))
	mux.HandleFunc("GET /{$}", toDashboard)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	g.adminLn = ln
	g.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	go g.admin.Serve(&backoffListener{Listener: ln, b: g.engine.newAcceptBackoff("admin")})
	return nil
}

// toDashboard redirects "/" to the dashboard, keeping the query (?poll=).
func toDashboard(w http.ResponseWriter, r *http.Request) {
	target := "/ui/"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// handleReady answers 200 once the listeners are up with a config loaded
// and Options.Ready (JWKS loaded once, say) agrees; 503 otherwise and
// while shutting down, with the reason in the body.
func (g *Gateway) handleReady(w http.ResponseWriter, r *http.Request) {
	if !g.ready.Load() || g.engine.draining.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if g.opts.Ready != nil {
		if err := g.opts.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

func (g *Gateway) handleConfig(w http.ResponseWriter, r *http.Request) {
	snap := g.engine.Current()
	cfgJSON, err := snap.Conf.PublicJSON()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"version":   snap.Conf.Version,
		"loaded_at": snap.LoadedAt.UTC().Format(time.RFC3339),
		"config":    json.RawMessage(cfgJSON),
	})
}

func (g *Gateway) handleReload(w http.ResponseWriter, r *http.Request) {
	cfg, err := g.Reload()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "reload_failed", "errors": errorLines(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": cfg.Version})
}

// errorLines splits a config error list into one string per error.
func errorLines(err error) []string {
	if el, ok := err.(conf.ErrorList); ok {
		out := make([]string, 0, len(el))
		for _, e := range el {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
