// Package dashboard is the admin listener's live page: a single HTML page
// with its script and style embedded in the binary (no CDN, nothing
// fetched from outside), served under /ui/, and the JSON document it polls,
// /ui/state.json.
//
// A browser's visit, top to bottom: GET /ui/ returns index.html, which
// loads app.js and style.css from the same embedded files; app.js fetches
// state.json every second (?poll=ms changes that) and redraws the page.
// The state is built by the gateway (package proxy) when asked, from what
// the gateway already keeps: the config snapshot, the upstream targets,
// the limiter's usage read without consuming, the metrics' counters and
// the last reload. Rates (decisions per second, error rates) are the
// differences between two polls, computed by the page, so the server
// keeps no history.
package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// State is the document /ui/state.json serves: everything the page shows.
type State struct {
	Now       time.Time  `json:"now"`
	Config    Config     `json:"config"`
	Reload    *Reload    `json:"reload"` // nil before the first reload
	Store     string     `json:"store"`  // local, redis, redis-down, none
	Routes    []Route    `json:"routes"`
	Upstreams []Upstream `json:"upstreams"`
	Clients   []Client   `json:"clients"`
}

// Config names the running config.
type Config struct {
	Version  string    `json:"version"`
	LoadedAt time.Time `json:"loaded_at"`
	Path     string    `json:"path"`
}

// Reload is the outcome of the last reload.
type Reload struct {
	At      time.Time `json:"at"`
	Result  string    `json:"result"` // ok or error
	Version string    `json:"version,omitempty"`
	Errors  []string  `json:"errors,omitempty"`
}

// Route is one route and its traffic since the process started.
type Route struct {
	Name     string   `json:"name"`
	Match    string   `json:"match"` // host and path as configured
	Methods  []string `json:"methods,omitempty"`
	Upstream string   `json:"upstream"`
	Auth     []string `json:"auth,omitempty"`
	Requests float64  `json:"requests"`
	Errors   float64  `json:"errors"` // answered 5xx
}

// Upstream is one upstream and its targets.
type Upstream struct {
	Name    string   `json:"name"`
	Balance string   `json:"balance"`
	Targets []Target `json:"targets"`
}

// Target is one upstream address.
type Target struct {
	Addr          string `json:"addr"`
	Healthy       bool   `json:"healthy"`
	HealthChecked bool   `json:"health_checked"`
	Breaker       string `json:"breaker"` // none, closed, half-open, open
	InFlight      int    `json:"in_flight"`
	Idle          int    `json:"idle"`
	Tries         uint64 `json:"tries"`
	Failures      uint64 `json:"failures"`
}

// Client is one client's quota (its base policy) and its decisions since
// the process started. The default quota is one row ("default"), its
// figures per caller, so without remaining.
type Client struct {
	Name         string   `json:"name"`
	Mode         string   `json:"mode"`
	Limit        int      `json:"limit"`
	Rate         float64  `json:"rate"`
	Remaining    *int     `json:"remaining"` // nil for the default row
	ResetSeconds int      `json:"reset_seconds"`
	Concurrency  int      `json:"concurrency"`
	InFlight     *int     `json:"in_flight"` // nil when not counted
	Tracked      int      `json:"tracked,omitempty"`
	Overrides    []Policy `json:"overrides,omitempty"`
	Allowed      float64  `json:"allowed"`
	Denied       float64  `json:"denied"` // answered 429
	ShadowDenied float64  `json:"shadow_denied"`
}

// Policy is a per-route override's bucket.
type Policy struct {
	Route     string `json:"route"`
	Limit     int    `json:"limit"`
	Remaining int    `json:"remaining"`
}

// Handler serves the page under /ui/ (the mux strips nothing: it must be
// mounted at "/ui/") and /ui/state.json from state, built per request.
func Handler(state func(r *http.Request) State) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/state.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(state(r))
	})
	mux.HandleFunc("GET /ui/{file...}", serveAsset)
	return mux
}

// serveAsset serves one embedded file; /ui/ is index.html.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	if !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets, path.Join("assets", name))
}
