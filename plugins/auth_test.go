package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/auth"
	"tollgate/conf"
)

// authRecorder is a Metrics that remembers auth failures.
type authRecorder struct {
	mu       sync.Mutex
	failures []string
}

func (r *authRecorder) AuthFailure(method, reason string) {
	r.mu.Lock()
	r.failures = append(r.failures, method+"/"+reason)
	r.mu.Unlock()
}

func (r *authRecorder) RateLimitDecision(string, string) {}

var authSecret = []byte("0123456789abcdef0123456789abcdef")

// newTestAuthenticator has HS256 JWTs, an API key ("key-1" → partner-x)
// and introspection against intro.
func newTestAuthenticator(t *testing.T, intro string) *auth.Authenticator {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, authSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("key-1"))
	a, err := auth.New(conf.Auth{
		JWT:           &conf.JWT{Algorithms: []string{"HS256"}, Keys: []conf.JWTKey{{File: path}}},
		Introspection: &conf.Introspection{URL: intro, ClientID: "gw", ClientSecret: "s", Timeout: 200 * time.Millisecond},
		APIKeys:       &conf.APIKeys{Header: "X-Key", Keys: []conf.APIKey{{SHA256: hex.EncodeToString(sum[:]), ClientID: "partner-x"}}},
	}, nil, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func authToken(t *testing.T, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(authSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthFilterNilWithoutAuth(t *testing.T) {
	if f := NewAuthFilter(nil, &conf.Route{Name: "open"}, nil, ""); f != nil {
		t.Fatalf("filter %T for a route without auth", f)
	}
	if f := NewAuthFilter(nil, nil, nil, ""); f != nil {
		t.Fatal("filter for a nil route")
	}
}

func TestAuthFilter(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	a := newTestAuthenticator(t, down.URL)
	route := &conf.Route{Name: "users", Auth: []string{conf.AuthJWT, conf.AuthIntrospection, conf.AuthAPIKey}, Scopes: []string{"users:read"}}
	exp := time.Now().Add(time.Hour).Unix()
	good := authToken(t, jwt.MapClaims{"client_id": "app-1", "scope": "users:read", "exp": exp})
	noScope := authToken(t, jwt.MapClaims{"client_id": "app-1", "scope": "other", "exp": exp})
	forged := authToken(t, jwt.MapClaims{"client_id": "app-1", "scope": "users:read", "exp": exp}) + "x"

	cases := []struct {
		name      string
		head      *kvHead
		status    int
		challenge string
		failure   string
		client    string
	}{
		{"jwt", newKVHead("Authorization", "Bearer "+good), 0, "", "", "app-1"},
		{"spoofed client id replaced", newKVHead("Authorization", "Bearer "+good, "X-Client-Id", "admin"), 0, "", "", "app-1"},
		{"missing", newKVHead(), 401, "Bearer", "none/missing", ""},
		{"bad signature", newKVHead("Authorization", "Bearer "+forged), 401, `Bearer error="invalid_token"`, "jwt/bad_signature", ""},
		{"missing scope", newKVHead("Authorization", "Bearer "+noScope), 403, `Bearer error="insufficient_scope", scope="users:read"`, "jwt/insufficient_scope", ""},
		{"api key lacks scope", newKVHead("x-key", "key-1"), 403, `Bearer error="insufficient_scope", scope="users:read"`, "api_key/insufficient_scope", ""},
		{"bad api key", newKVHead("X-Key", "key-2"), 401, `Bearer error="invalid_token"`, "api_key/unknown_key", ""},
		{"introspection down", newKVHead("Authorization", "Bearer opaque"), 503, "", "introspection/introspection_unavailable", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &authRecorder{}
			f := NewAuthFilter(a, route, rec, "X-Key")
			x := newExchange("GET", tc.head)
			x.Ctx = context.Background()
			reply := f.Request(x)
			if tc.status == 0 {
				if reply != nil {
					t.Fatalf("refused: %+v", reply)
				}
				if x.ClientID != tc.client || x.AuthMethod != "jwt" || len(x.Scopes) != 1 {
					t.Fatalf("exchange identity %q %q %v", x.ClientID, x.AuthMethod, x.Scopes)
				}
				if got := tc.head.values("X-Client-Id"); len(got) != 1 || got[0] != tc.client {
					t.Fatalf("X-Client-Id upstream = %v", got)
				}
				if len(rec.failures) != 0 {
					t.Fatalf("counted failures %v", rec.failures)
				}
				return
			}
			if reply == nil || reply.Status != tc.status {
				t.Fatalf("reply %+v; want status %d", reply, tc.status)
			}
			wantCode := map[int]string{401: "unauthorized", 403: "forbidden", 503: "unavailable"}[tc.status]
			if reply.Code != wantCode || reply.Message == "" {
				t.Fatalf("reply %+v", reply)
			}
			hdr := map[string]string{}
			for _, h := range reply.Header {
				hdr[h[0]] = h[1]
			}
			if hdr["WWW-Authenticate"] != tc.challenge {
				t.Fatalf("WWW-Authenticate %q; want %q", hdr["WWW-Authenticate"], tc.challenge)
			}
			if tc.status == 503 && hdr["Retry-After"] == "" {
				t.Fatal("503 without Retry-After")
			}
			if len(rec.failures) != 1 || rec.failures[0] != tc.failure {
				t.Fatalf("counted %v; want [%s]", rec.failures, tc.failure)
			}
			if x.ClientID != "" || tc.head.Get("X-Client-Id") != nil {
				t.Fatalf("refused exchange has client %q / header %q", x.ClientID, tc.head.Get("X-Client-Id"))
			}
		})
	}
}

// BenchmarkAuthFilter is the auth step's cost per request with a reused
// JWT (verified-token cache on), against a route without auth (no filter).
func BenchmarkAuthFilter(b *testing.B) {
	path := filepath.Join(b.TempDir(), "secret")
	os.WriteFile(path, authSecret, 0o600)
	a, err := auth.New(conf.Auth{JWT: &conf.JWT{Algorithms: []string{"HS256"}, Keys: []conf.JWTKey{{File: path}}}}, nil, auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"client_id": "app-1", "scope": "users:read",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString(authSecret)
	head := newKVHead("Authorization", "Bearer "+tok, "X-Client-Id", "")
	x := newExchange("GET", head)
	x.Ctx = context.Background()
	b.Run("jwt", func(b *testing.B) {
		f := NewAuthFilter(a, &conf.Route{Auth: []string{conf.AuthJWT}, Scopes: []string{"users:read"}}, nil, "")
		b.ReportAllocs()
		for b.Loop() {
			if r := f.Request(x); r != nil {
				b.Fatal(r)
			}
		}
	})
}
