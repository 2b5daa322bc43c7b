package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// jwtFixture is an Authenticator over an RSA PEM file, an HS256 secret
// file and a JWKS server holding one EC key ("ec-1").
type jwtFixture struct {
	a      *Authenticator
	clock  *testkit.Clock
	jwks   *jwksServer
	rsa    []byte // the RSA public key PEM
	secret []byte
	ec     any
}

func newJWTFixture(t *testing.T, mutate func(*conf.JWT)) *jwtFixture {
	f := &jwtFixture{clock: testkit.NewClock(testEpoch), secret: []byte("0123456789abcdef0123456789abcdef")}
	f.rsa = pemPublic(t, &rsaKey(t, 0).PublicKey)
	ec := ecKey(t)
	f.ec = ec
	f.jwks = newJWKSServer(t, jwkOf(t, "ec-1", &ec.PublicKey))
	cfg := &conf.JWT{
		Issuer: "https://auth.test", Audiences: []string{"api"},
		Algorithms: []string{"RS256", "ES256", "HS256"},
		Keys: []conf.JWTKey{
			{File: writeFile(t, "rsa.pem", f.rsa)},
			{File: writeFile(t, "secret", append([]byte("  "), append(f.secret, '\n')...))},
			{JWKSURL: f.jwks.URL, Refresh: time.Hour},
		},
		Leeway: 30 * time.Second, ClientIDClaim: "client_id", ScopesClaim: "scope",
	}
	if mutate != nil {
		mutate(cfg)
	}
	f.a = mustNew(t, conf.Auth{JWT: cfg}, nil, Options{Now: f.clock.Now})
	return f
}

func (f *jwtFixture) auth(tok string, scopes ...string) (Identity, *Error) {
	return f.a.Authenticate(context.Background(), []string{conf.AuthJWT}, scopes, bearerCreds(tok))
}

func TestJWTValidTokens(t *testing.T) {
	f := newJWTFixture(t, nil)
	now := f.clock.Now()
	cases := map[string]string{
		"RS256 file":  sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "", claimsAt(now)),
		"ES256 jwks":  sign(t, jwt.SigningMethodES256, f.ec, "ec-1", claimsAt(now)),
		"HS256 file":  sign(t, jwt.SigningMethodHS256, f.secret, "", claimsAt(now)),
		"ES256 nokid": sign(t, jwt.SigningMethodES256, f.ec, "", claimsAt(now)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			id, err := f.auth(tok, "read")
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if id.ClientID != "app-1" || id.Method != "jwt" || strings.Join(id.Scopes, ",") != "read,write" {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestJWTClientIDAndScopes(t *testing.T) {
	f := newJWTFixture(t, nil)
	now := f.clock.Now()
	cases := []struct {
		name   string
		edit   func(jwt.MapClaims)
		client string
		scopes string
	}{
		{"client_id wins", func(c jwt.MapClaims) { c["azp"] = "azp-1" }, "app-1", "read,write"},
		{"azp next", func(c jwt.MapClaims) { delete(c, "client_id"); c["azp"] = "azp-1" }, "azp-1", "read,write"},
		{"sub last", func(c jwt.MapClaims) { delete(c, "client_id") }, "user-1", "read,write"},
		{"scope array", func(c jwt.MapClaims) { c["scope"] = []string{"a", "b"} }, "app-1", "a,b"},
		{"no scope", func(c jwt.MapClaims) { delete(c, "scope") }, "app-1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsAt(now)
			tc.edit(c)
			id, err := f.auth(sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "", c))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if id.ClientID != tc.client || strings.Join(id.Scopes, ",") != tc.scopes {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestJWTRefusedClaims(t *testing.T) {
	f := newJWTFixture(t, nil)
	now := f.clock.Now()
	cases := []struct {
		name   string
		edit   func(jwt.MapClaims)
		reason string
	}{
		{"expired", func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }, ReasonExpired},
		{"expired within leeway", func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }, ""},
		{"not yet valid", func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }, ReasonNotYetValid},
		{"nbf within leeway", func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Second).Unix() }, ""},
		{"iat in future", func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }, ReasonIssuedInFuture},
		{"wrong issuer", func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }, ReasonWrongIssuer},
		{"no issuer", func(c jwt.MapClaims) { delete(c, "iss") }, ReasonMissingClaim},
		{"wrong audience", func(c jwt.MapClaims) { c["aud"] = []string{"other", "x"} }, ReasonWrongAudience},
		{"audience in list", func(c jwt.MapClaims) { c["aud"] = []string{"other", "api"} }, ""},
		{"no audience", func(c jwt.MapClaims) { delete(c, "aud") }, ReasonMissingClaim},
		{"exp is a string", func(c jwt.MapClaims) { c["exp"] = "tomorrow" }, ReasonInvalidClaims},
		{"no client id", func(c jwt.MapClaims) { delete(c, "client_id"); delete(c, "sub") }, ReasonInvalidClaims},
		{"client id with CRLF", func(c jwt.MapClaims) { c["client_id"] = "a\r\nX-Admin: 1" }, ReasonInvalidClaims},
		{"scope of numbers", func(c jwt.MapClaims) { c["scope"] = []int{1} }, ReasonInvalidClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsAt(now)
			tc.edit(c)
			_, err := f.auth(sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "", c))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefusal(t, err, 401, tc.reason)
			if err.WWWAuthenticate != `Bearer error="invalid_token"` || err.Code != CodeUnauthorized {
				t.Fatalf("refusal %+v", err)
			}
		})
	}
}

func TestJWTAlgNone(t *testing.T) {
	f := newJWTFixture(t, nil)
	tok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsAt(f.clock.Now()))
	_, err := f.auth(tok)
	wantRefusal(t, err, 401, ReasonAlgNotAllowed)
	// "none" with a signature part glued on is refused the same way.
	_, err = f.auth(tok + "c2ln")
	wantRefusal(t, err, 401, ReasonAlgNotAllowed)
	for _, algs := range [][]string{{"none"}, {"RS256", "none"}, {}, {"XS999"}} {
		cfg := conf.JWT{Algorithms: algs}
		if _, err := New(conf.Auth{JWT: &cfg}, nil, Options{}); err == nil {
			t.Errorf("New accepted algorithms %v", algs)
		}
	}
}

func TestJWTAlgNotConfigured(t *testing.T) {
	f := newJWTFixture(t, func(c *conf.JWT) { c.Algorithms = []string{"RS256", "ES256"}; c.Keys = c.Keys[:1] })
	tok := sign(t, jwt.SigningMethodRS512, rsaKey(t, 0), "", claimsAt(f.clock.Now()))
	_, err := f.auth(tok)
	wantRefusal(t, err, 401, ReasonAlgNotAllowed)
	_, pk, _ := ed25519.GenerateKey(rand.Reader)
	_, err = f.auth(sign(t, jwt.SigningMethodEdDSA, pk, "", claimsAt(f.clock.Now())))
	wantRefusal(t, err, 401, ReasonAlgNotAllowed)
}

// TestJWTKeyConfusion signs HS256 tokens with the RSA public key's bytes
// (the classic attack on libraries that let the token pick the algorithm).
func TestJWTKeyConfusion(t *testing.T) {
	f := newJWTFixture(t, func(c *conf.JWT) {
		c.Algorithms = []string{"RS256", "HS256"}
		c.Keys = c.Keys[:1] // only the RSA PEM file
	})
	now := f.clock.Now()
	n := rsaKey(t, 0).PublicKey.N.Bytes()
	for name, secret := range map[string][]byte{
		"pem":         f.rsa,
		"pem trimmed": []byte(strings.TrimSpace(string(f.rsa))),
		"modulus":     n,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.auth(sign(t, jwt.SigningMethodHS256, secret, "", claimsAt(now)))
			wantRefusal(t, err, 401, ReasonNoKey)
		})
	}
	// A PEM file is never read as a secret, even with only HS* allowed.
	cfg := conf.JWT{Algorithms: []string{"HS256"}, Keys: []conf.JWTKey{{File: writeFile(t, "k.pem", f.rsa)}}}
	if _, err := New(conf.Auth{JWT: &cfg}, nil, Options{}); err == nil {
		t.Fatal("New accepted an RSA PEM key for HS256 only")
	}
	// A secret file is refused when no HS* algorithm is configured.
	cfg = conf.JWT{Algorithms: []string{"RS256"}, Keys: []conf.JWTKey{{File: writeFile(t, "s", []byte("secret"))}}}
	if _, err := New(conf.Auth{JWT: &cfg}, nil, Options{}); err == nil {
		t.Fatal("New accepted a shared secret without HS* algorithms")
	}
}

func TestJWTBadSignature(t *testing.T) {
	f := newJWTFixture(t, nil)
	now := f.clock.Now()
	other := sign(t, jwt.SigningMethodRS256, rsaKey(t, 1), "", claimsAt(now))
	_, err := f.auth(other)
	wantRefusal(t, err, 401, ReasonBadSignature)
	_, err = f.auth(sign(t, jwt.SigningMethodHS256, []byte("another secret of enough length!!"), "", claimsAt(now)))
	wantRefusal(t, err, 401, ReasonBadSignature)
	// Claims swapped under a valid signature.
	good := strings.Split(sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "", claimsAt(now)), ".")
	c := claimsAt(now)
	c["client_id"] = "admin"
	forged := strings.Split(sign(t, jwt.SigningMethodRS256, rsaKey(t, 1), "", c), ".")
	_, err = f.auth(good[0] + "." + forged[1] + "." + good[2])
	wantRefusal(t, err, 401, ReasonBadSignature)
}

// hs256 builds an HS256 token from raw header and payload JSON.
func hs256(secret []byte, header, payload string) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

func TestJWTMalformed(t *testing.T) {
	f := newJWTFixture(t, nil)
	valid := sign(t, jwt.SigningMethodHS256, f.secret, "", claimsAt(f.clock.Now()))
	parts := strings.Split(valid, ".")
	cases := map[string]string{
		"empty parts":         "..",
		"one empty":           parts[0] + ".." + parts[2],
		"not base64":          "a!b.c$d.e%f",
		"header not json":     "bm90IGpzb24." + parts[1] + "." + parts[2],
		"header json array":   b64([]byte(`[1,2]`)) + "." + parts[1] + "." + parts[2],
		"payload not json":    parts[0] + ".bm90IGpzb24." + parts[2],
		"payload array":       parts[0] + "." + b64([]byte(`[]`)) + "." + parts[2],
		"signature not b64":   parts[0] + "." + parts[1] + ".***",
		"padded segments":     parts[0] + "==." + parts[1] + "." + parts[2],
		"huge":                strings.Repeat("a", maxJWTLen) + ".b.c",
		"kid not a string":    hs256(f.secret, `{"alg":"HS256","kid":7}`, `{"sub":"x"}`),
		"alg missing":         hs256(f.secret, `{"typ":"JWT"}`, `{"sub":"x"}`),
		"alg not a string":    hs256(f.secret, `{"alg":["HS256"]}`, `{"sub":"x"}`),
		"alg unknown":         hs256(f.secret, `{"alg":"HS1024"}`, `{"sub":"x"}`),
		"exp object":          hs256(f.secret, `{"alg":"HS256"}`, `{"sub":"x","exp":{}}`),
		"aud number":          hs256(f.secret, `{"alg":"HS256"}`, `{"sub":"x","aud":5,"iss":"https://auth.test"}`),
		"null payload":        hs256(f.secret, `{"alg":"HS256"}`, `null`),
		"unicode in client":   hs256(f.secret, `{"alg":"HS256"}`, `{"sub":"\u0000"}`),
		"truncated signature": parts[0] + "." + parts[1] + "." + parts[2][:10],
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.auth(tok)
			if err == nil || err.Status != 401 {
				t.Fatalf("got %v; want a 401", err)
			}
		})
	}
	for _, tok := range []string{"", "abc", "a.b", "a.b.c.d"} {
		_, err := f.auth(tok)
		wantRefusal(t, err, 401, ReasonMalformed)
	}
}

func TestJWTCacheSkipsVerification(t *testing.T) {
	f := newJWTFixture(t, nil)
	tok := sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "", claimsAt(f.clock.Now()))
	if _, err := f.auth(tok); err != nil {
		t.Fatal(err)
	}
	if n := f.a.jwt.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries", n)
	}
	creds, methods, scopes := bearerCreds(tok), []string{conf.AuthJWT}, []string{"read"}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := f.a.Authenticate(context.Background(), methods, scopes, creds); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("cached verification allocates %.0f times", allocs)
	}
	// The cached verdict ends with exp + leeway.
	f.clock.Advance(time.Hour + 29*time.Second)
	if _, err := f.auth(tok); err != nil {
		t.Fatalf("refused within leeway: %v", err)
	}
	f.clock.Advance(2 * time.Second)
	_, err := f.auth(tok)
	wantRefusal(t, err, 401, ReasonExpired)
}
