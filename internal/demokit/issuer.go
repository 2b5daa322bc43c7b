package demokit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer names and audience of the tokens an Issuer mints; the JWT
// example checks both.
const (
	IssuerName     = "https://auth.demo.tollgate"
	IssuerAudience = "api"
	issuerKeyID    = "demo-es256"
)

// Issuer is an example token issuer with a P-256 key made at start (the
// private half never leaves the process). GET /jwks.json serves the public
// key as a JWKS; GET /token?client_id=ID&scope=S1+S2&ttl=1h mints an
// ES256 JWT for that client.
type Issuer struct {
	key  *ecdsa.PrivateKey
	jwks []byte
}

// NewIssuer makes a fresh key.
func NewIssuer() (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demokit: generate issuer key: %w", err)
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("demokit: encode issuer key: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": issuerKeyID,
		"x": b64(pub[1:33]), "y": b64(pub[33:]),
	}}})
	if err != nil {
		return nil, fmt.Errorf("demokit: encode jwks: %w", err)
	}
	return &Issuer{key: key, jwks: jwks}, nil
}

// Token mints a token for clientID with the given scopes, valid for ttl.
func (is *Issuer) Token(clientID string, scopes []string, ttl time.Duration) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": IssuerName, "aud": IssuerAudience, "sub": clientID, "client_id": clientID,
		"scope": strings.Join(scopes, " "), "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	})
	tok.Header["kid"] = issuerKeyID
	s, err := tok.SignedString(is.key)
	if err != nil {
		return "", fmt.Errorf("demokit: sign token: %w", err)
	}
	return s, nil
}

// ServeHTTP serves /jwks.json and /token.
func (is *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/jwks.json":
		w.Header().Set("Content-Type", "application/json")
		w.Write(is.jwks)
	case "/token":
		q := r.URL.Query()
		ttl, err := time.ParseDuration(q.Get("ttl"))
		if q.Get("ttl") == "" {
			ttl, err = time.Hour, nil
		}
		if q.Get("client_id") == "" || err != nil || ttl <= 0 {
			http.Error(w, "want /token?client_id=ID[&scope=S1+S2][&ttl=1h]", http.StatusBadRequest)
			return
		}
		tok, err := is.Token(q.Get("client_id"), strings.Fields(q.Get("scope")), ttl)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, tok)
	default:
		http.NotFound(w, r)
	}
}
