package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authServer is a real JWKS + introspection server on loopback.
type authServer struct {
	key            *rsa.PrivateKey
	introspections atomic.Int64
}

func startAuthServer(t *testing.T) (*authServer, *origin) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a := &authServer{key: key}
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jwks":
			json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{a.jwk()}})
		case "/introspect":
			a.introspections.Add(1)
			user, pass, _ := r.BasicAuth()
			r.ParseForm()
			active := user == "gateway" && pass == "s3cret" && r.PostForm.Get("token") == "opaque-good"
			json.NewEncoder(w).Encode(map[string]any{"active": active, "client_id": "opaque-client", "scope": "users:read", "exp": time.Now().Add(time.Hour).Unix()})
		}
	})
	return a, o
}

// jwk is the server's public key as a JWK (kid k1).
func (a *authServer) jwk() map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(a.key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(a.key.E)).Bytes()),
	}
}

func (a *authServer) token(t *testing.T, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(a.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticationEndToEnd(t *testing.T) {
	as, asOrigin := startAuthServer(t)
	up := startOrigin(t, echoHandler)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "introspect"), []byte("s3cret\n"), 0o600)
	sum := sha256.Sum256([]byte("partner-key-1"))
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
auth:
  jwt:
    issuer: https://auth.test
    audiences: [api]
    algorithms: [RS256]
    keys: [{jwks_url: "http://%[1]s/jwks"}]
  introspection:
    url: "http://%[1]s/introspect"
    client_id: gateway
    client_secret_file: %[2]s
  api_keys:
    keys: [{sha256: "%[3]s", client_id: partner-x}]
upstreams: {app: {targets: ["%[4]s"]}}
routes:
  - {name: users, match: {path_prefix: /users}, upstream: app, auth: [jwt, introspection, api_key], scopes: ["users:read"]}
  - {name: open, match: {path_prefix: /}, upstream: app}
`, asOrigin.addr, filepath.Join(dir, "introspect"), hex.EncodeToString(sum[:]), up.addr))

	good := as.token(t, jwt.MapClaims{"iss": "https://auth.test", "aud": "api", "sub": "u1", "client_id": "mobile-app",
		"scope": "users:read", "exp": time.Now().Add(time.Hour).Unix()})
	noScope := as.token(t, jwt.MapClaims{"iss": "https://auth.test", "aud": "api", "client_id": "c2", "exp": time.Now().Add(time.Hour).Unix()})
	expired := as.token(t, jwt.MapClaims{"iss": "https://auth.test", "aud": "api", "client_id": "c3", "scope": "users:read", "exp": time.Now().Add(-time.Hour).Unix()})
	cases := []struct {
		name, header, value string
		status              int
		clientID, wwwAuth   string
	}{
		{"valid jwt", "Authorization", "Bearer " + good, 200, "mobile-app", ""},
		{"no credentials", "", "", 401, "", "Bearer"},
		{"expired jwt", "Authorization", "Bearer " + expired, 401, "", `Bearer error="invalid_token"`},
		{"tampered jwt", "Authorization", "Bearer " + good[:len(good)-4] + "AAAA", 401, "", `Bearer error="invalid_token"`},
		{"missing scope", "Authorization", "Bearer " + noScope, 403, "", `Bearer error="insufficient_scope"`},
		{"opaque active", "Authorization", "Bearer opaque-good", 200, "opaque-client", ""},
		{"opaque inactive", "Authorization", "Bearer opaque-bad", 401, "", `Bearer error="invalid_token"`},
		{"api key", "X-API-Key", "partner-key-1", 403, "", `Bearer error="insufficient_scope"`},
		{"bad api key", "X-API-Key", "nope", 401, "", `Bearer error="invalid_token"`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", g.url("/users/1"), nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		req.Header.Set("X-Client-Id", "forged")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
		}
		if got := resp.Header.Get("X-Echo-X-Client-Id"); got != c.clientID {
			t.Errorf("%s: upstream saw X-Client-Id %q, want %q", c.name, got, c.clientID)
		}
		if c.name == "no credentials" && resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("missing credentials: WWW-Authenticate %q, want a bare Bearer (no error code)", resp.Header.Get("WWW-Authenticate"))
		}
		if c.wwwAuth != "" && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), c.wwwAuth) {
			t.Errorf("%s: WWW-Authenticate %q, want prefix %q", c.name, resp.Header.Get("WWW-Authenticate"), c.wwwAuth)
		}
		if c.status >= 400 && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: content type %q", c.name, resp.Header.Get("Content-Type"))
		}
	}
	// Introspection results are cached: the active opaque token, used again,
	// is not introspected again.
	before := as.introspections.Load()
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", g.url("/users/1"), nil)
		req.Header.Set("Authorization", "Bearer opaque-good")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("cached opaque token: %d", resp.StatusCode)
		}
	}
	if n := as.introspections.Load() - before; n != 0 {
		t.Errorf("%d introspection calls for a cached token, want 0", n)
	}
	if as.introspections.Load() == 0 {
		t.Error("the introspection endpoint was never called")
	}
	// The open route needs nothing, and a forged X-Client-Id never passes.
	req, _ := http.NewRequest("GET", g.url("/open"), nil)
	req.Header.Set("X-Client-Id", "forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Echo-X-Client-Id") != "" {
		t.Fatalf("open route: %d client id %q", resp.StatusCode, resp.Header.Get("X-Echo-X-Client-Id"))
	}
	if v := g.metric(`tollgate_auth_failures_total{method="jwt",reason="expired"}`); v != 1 {
		t.Errorf("auth failure metric for expired = %v", v)
	}
}
