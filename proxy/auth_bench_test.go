package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/auth"
	"tollgate/conf"
	"tollgate/plugins"
	"tollgate/upstream"
)

// BenchmarkEngineJWT measures what JWT verification adds to a keep-alive
// GET through the engine: the same request with auth off and with an
// HS256 token (verified once, then served from the token cache).
func BenchmarkEngineJWT(b *testing.B) {
	origin := rawOrigin(b, string(bytes.Repeat([]byte("x"), 128)))
	secret := filepath.Join(b.TempDir(), "hs.key")
	os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "bench", "client_id": "bench-client", "scope": "read", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := conf.Parse("bench.yaml", []byte(`
server: {listen: "127.0.0.1:0"}
admin: {listen: ""}
auth:
  jwt: {algorithms: [HS256], keys: [{file: `+secret+`}]}
upstreams: {app: {targets: ["`+origin+`"]}}
routes:
  - {name: jwt, match: {path_prefix: /jwt}, upstream: app, auth: [jwt], scopes: [read]}
  - {name: open, match: {path_prefix: /}, upstream: app}
`), ".")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := upstream.NewRegistry(log)
	defer reg.Close()
	m := NewMetrics()
	filters := func(cfg *conf.Config, pm plugins.Metrics) (plugins.Deps, func(), error) {
		a, err := auth.New(cfg.Auth, nil, auth.Options{Logger: log})
		if err != nil {
			return plugins.Deps{}, nil, err
		}
		return plugins.Deps{Metrics: pm, Auth: func(r *conf.Route) (plugins.Filter, error) {
			return plugins.NewAuthFilter(a, r, pm, ""), nil
		}}, a.Close, nil
	}
	snap, err := BuildSnapshot(cfg, BuildDeps{Upstreams: reg, Metrics: m, Filters: filters})
	if err != nil {
		b.Fatal(err)
	}
	defer snap.Retire()
	e := NewEngine(m, log, 1)
	e.Swap(snap)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go e.Serve(l)
	for _, c := range []struct{ name, req string }{
		{"off", "GET /open HTTP/1.1\r\nHost: b\r\n\r\n"},
		{"on", "GET /jwt HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " + tok + "\r\n\r\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			client, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			br := bufio.NewReader(client)
			req := []byte(c.req)
			client.Write(req)
			if status, _ := br.Peek(12); string(status) != "HTTP/1.1 200" {
				b.Fatalf("status line %q", status)
			}
			readResponse(br)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				client.Write(req)
				if err := readResponse(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
