package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// FuzzAuthenticate feeds arbitrary Authorization and API-key values
// through every method (the introspection server is real, on loopback)
// and checks that nothing panics and every answer is well formed.
func FuzzAuthenticate(f *testing.F) {
	clock := testkit.NewClock(testEpoch)
	secret := []byte("0123456789abcdef0123456789abcdef")
	ec := ecKey(f)
	jwks := newJWKSServer(f, jwkOf(f, "ec-1", &ec.PublicKey))
	intro := newIntroServer(f)
	intro.set("opaque-1", map[string]any{"active": true, "client_id": "svc-1", "scope": "read"})
	cfg := conf.Auth{
		JWT: &conf.JWT{Issuer: "https://auth.test", Audiences: []string{"api"},
			Algorithms: []string{"HS256", "RS256", "ES256"}, Leeway: time.Second,
			Keys: []conf.JWTKey{
				{File: writeFile(f, "s", secret)},
				{File: writeFile(f, "rsa.pem", pemPublic(f, &rsaKey(f, 0).PublicKey))},
				{JWKSURL: jwks.URL, Refresh: time.Hour},
			}},
		Introspection: &conf.Introspection{URL: intro.URL, ClientID: "gateway", ClientSecret: "s3cret",
			CacheTTL: time.Minute, Timeout: time.Second},
		APIKeys: &conf.APIKeys{Keys: []conf.APIKey{{SHA256: hexSum(goodAPIKey), ClientID: "partner-x"}}},
	}
	a := mustNew(f, cfg, nil, Options{Now: clock.Now, JWKSTimeout: 200 * time.Millisecond})

	now := clock.Now()
	hs := sign(f, jwt.SigningMethodHS256, secret, "", claimsAt(now))
	for _, seed := range []string{
		"Bearer " + hs,
		"Bearer " + sign(f, jwt.SigningMethodRS256, rsaKey(f, 0), "", claimsAt(now)),
		"Bearer " + sign(f, jwt.SigningMethodES256, ec, "ec-1", claimsAt(now)),
		"Bearer " + sign(f, jwt.SigningMethodES256, ec, "nope", claimsAt(now)),
		"Bearer " + sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsAt(now)),
		"Bearer " + hs256(secret, `{"alg":"HS256","kid":{}}`, `{"exp":1e400}`),
		"Bearer " + hs256(secret, `{"alg":"HS256"}`, `{"scope":[null],"sub":"x"}`),
		"Bearer " + strings.Replace(hs, ".", "..", 1),
		"Bearer opaque-1", "Bearer ", "Bearer", "bearer a.b.c", "Basic Zm9vOmJhcg==", "",
		"Bearer ....", "Bearer \x00.\xff.\n",
	} {
		f.Add(seed, "")
	}
	f.Add("", goodAPIKey)
	f.Add("Bearer x", "bad")

	methods := []string{conf.AuthJWT, conf.AuthIntrospection, conf.AuthAPIKey}
	f.Fuzz(func(t *testing.T, authz, key string) {
		c := Credentials{Authorization: []byte(authz), APIKey: []byte(key)}
		id, err := a.Authenticate(context.Background(), methods, []string{"read"}, c)
		checkVerdict(t, id, err)
	})
}

// checkVerdict asserts the invariants of any Authenticate answer.
func checkVerdict(t *testing.T, id Identity, err *Error) {
	if err == nil {
		if !headerSafe(id.ClientID) || id.Method == "" {
			t.Fatalf("accepted with identity %+v", id)
		}
		return
	}
	switch {
	case err.Status == 401 && err.Code == CodeUnauthorized && strings.HasPrefix(err.WWWAuthenticate, "Bearer"):
	case err.Status == 403 && err.Code == CodeForbidden && strings.Contains(err.WWWAuthenticate, "insufficient_scope"):
	case err.Status == 503 && err.Code == CodeUnavailable:
	default:
		t.Fatalf("malformed refusal %+v", err)
	}
	if err.Reason == "" || err.Method == "" || strings.ContainsAny(err.WWWAuthenticate, "\r\n") {
		t.Fatalf("malformed refusal %+v", err)
	}
}
