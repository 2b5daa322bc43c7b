package proxy

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/auth"
	"tollgate/conf"
	"tollgate/limiter"
	"tollgate/plugins"
	"tollgate/upstream"
)

// testSecret is the HS256 key of the gateway engines built here.
const testSecret = "0123456789abcdef0123456789abcdef"

// hs256Token signs a token for client with testSecret, valid for an hour.
func hs256Token(tb testing.TB, client string) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": client, "client_id": client, "scope": "read", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// gatewayConf is a config with the filters users run: an HS256 JWT route
// with per-client limits (/jwt, quota never reached), an open route (/),
// and a route for a test filter (/test). SECRET and ORIGIN are replaced.
const gatewayConf = `
server: {listen: "127.0.0.1:0", idle_timeout: 60s}
admin: {listen: ""}
auth:
  jwt: {algorithms: [HS256], keys: [{file: SECRET}]}
clients:
  default: {rate: 1000000/s, burst: 1000000}
  bench-client: {rate: 1000000/s, burst: 1000000}
limits: {headers: ietf}
upstreams: {app: {targets: ["ORIGIN"], timeouts: {response_header: 2s}}}
routes:
  - {name: jwt, match: {path_prefix: /jwt}, upstream: app, auth: [jwt], scopes: [read]}
  - {name: open, match: {path_prefix: /}, upstream: app, limit: false}
`

// newGatewayEngine serves gatewayConf with real auth and limiter filters
// (built as cmd/tollgate builds them) on a loopback listener, and returns
// the engine and its address.
func newGatewayEngine(tb testing.TB, origin string) (*Engine, string) {
	tb.Helper()
	secret := filepath.Join(tb.TempDir(), "hs.key")
	if err := os.WriteFile(secret, []byte(testSecret), 0o600); err != nil {
		tb.Fatal(err)
	}
	text := strings.NewReplacer("SECRET", secret, "ORIGIN", origin).Replace(gatewayConf)
	cfg, err := conf.Parse("gateway.yaml", []byte(text), ".")
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lim := limiter.New(limiter.Options{Logger: log})
	a, err := auth.New(cfg.Auth, nil, auth.Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	filters := func(cfg *conf.Config, pm plugins.Metrics) (plugins.Deps, func(), error) {
		return plugins.Deps{Metrics: pm,
			Auth: func(r *conf.Route) (plugins.Filter, error) { return plugins.NewAuthFilter(a, r, pm, ""), nil },
			Limit: func(r *conf.Route) (plugins.Filter, error) {
				return plugins.NewLimitFilter(lim, r, cfg.Limits.Headers, pm), nil
			}}, a.Close, nil
	}
	reg := upstream.NewRegistry(log)
	m := NewMetrics()
	snap, err := BuildSnapshot(cfg, BuildDeps{Upstreams: reg, Metrics: m, Filters: filters})
	if err != nil {
		tb.Fatal(err)
	}
	if err := lim.Apply(cfg.Clients, cfg.Limits, []string{"jwt", "open"}); err != nil {
		tb.Fatal(err)
	}
	e := NewEngine(m, log, 1)
	e.Swap(snap)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go e.Serve(l)
	tb.Cleanup(func() {
		l.Close()
		e.draining.Store(true)
		if e.reactor != nil {
			e.reactor.stop()
		}
		snap.Retire()
		reg.Close()
		lim.Close()
	})
	return e, l.Addr().String()
}
