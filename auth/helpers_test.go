package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
)

// testEpoch is the fake clock's start; tokens are stamped relative to it.
var testEpoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Keys are generated once per test binary: RSA generation is slow.
var (
	rsaOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey
)

func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeFile writes data to a fresh file in t's temp dir.
func writeFile(t testing.TB, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pemPublic returns the PKIX PEM of pub.
func pemPublic(t testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// sign makes a token; kid "" leaves the header without one.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsAt returns ordinary valid claims at the fake clock's epoch.
func claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://auth.test", "aud": "api", "sub": "user-1", "client_id": "app-1",
		"scope": "read write", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf encodes a public key as a JWK map.
func jwkOf(t testing.TB, kid string, pub crypto.PublicKey) map[string]string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (len(raw) - 1) / 2
		return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256",
			"x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	}
	t.Fatalf("no jwk for %T", pub)
	return nil
}

// jwksServer is a real JWKS endpoint on loopback whose document and
// behaviour tests change while it runs.
type jwksServer struct {
	*httptest.Server
	mu    sync.Mutex
	doc   []byte
	mode  string // "", "down", "garbage", "slow"
	calls atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...map[string]string) *jwksServer {
	s := &jwksServer{}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t testing.TB, keys ...map[string]string) {
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *jwksServer) setMode(m string) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.mu.Lock()
	doc, mode := s.doc, s.mode
	s.mu.Unlock()
	switch mode {
	case "down":
		http.Error(w, "down", http.StatusInternalServerError)
	case "garbage":
		w.Write([]byte(`{"keys": [{"kty": "RSA", "n": "!!"}], "x`))
	case "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}
}

// bearerCreds wraps a token as an Authorization header.
func bearerCreds(tok string) Credentials {
	return Credentials{Authorization: []byte("Bearer " + tok)}
}

// mustNew builds an Authenticator closed at the end of the test.
func mustNew(t testing.TB, cfg conf.Auth, prev *Authenticator, opts Options) *Authenticator {
	t.Helper()
	a, err := New(cfg, prev, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// wantRefusal checks a refusal's status and reason.
func wantRefusal(t testing.TB, err *Error, status int, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %d %s", status, reason)
	}
	if err.Status != status || err.Reason != reason {
		t.Fatalf("refused with %d %s (%v); want %d %s", err.Status, err.Reason, err, status, reason)
	}
}
