package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

const goodAPIKey = "k-3f9a1c"

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// fullFixture has all three methods configured.
type fullFixture struct {
	a      *Authenticator
	clock  *testkit.Clock
	intro  *introServer
	secret []byte
}

func newFullFixture(t *testing.T) *fullFixture {
	f := &fullFixture{clock: testkit.NewClock(testEpoch), intro: newIntroServer(t), secret: []byte("0123456789abcdef0123456789abcdef")}
	f.intro.set("opaque-1", map[string]any{"active": true, "client_id": "svc-1", "scope": "read"})
	cfg := conf.Auth{
		JWT: &conf.JWT{Algorithms: []string{"HS256"}, Keys: []conf.JWTKey{{File: writeFile(t, "s", f.secret)}}},
		Introspection: &conf.Introspection{URL: f.intro.URL, ClientID: "gateway", ClientSecret: "s3cret",
			CacheTTL: time.Minute, Timeout: time.Second},
		APIKeys: &conf.APIKeys{Header: "X-API-Key", Keys: []conf.APIKey{
			{SHA256: hexSum("other"), ClientID: "other"},
			{SHA256: hexSum(goodAPIKey), ClientID: "partner-x"},
		}},
	}
	f.a = mustNew(t, cfg, nil, Options{Now: f.clock.Now})
	return f
}

func (f *fullFixture) jwt(t *testing.T) string {
	return sign(t, jwt.SigningMethodHS256, f.secret, "", claimsAt(f.clock.Now()))
}

func TestAPIKeys(t *testing.T) {
	f := newFullFixture(t)
	api := []string{conf.AuthAPIKey}
	id, err := f.a.Authenticate(context.Background(), api, nil, Credentials{APIKey: []byte(goodAPIKey)})
	if err != nil || id.ClientID != "partner-x" || id.Method != "api_key" {
		t.Fatalf("good key: %+v %v", id, err)
	}
	for _, bad := range []string{"k-3f9a1d", goodAPIKey + " ", hexSum(goodAPIKey), "x"} {
		_, err := f.a.Authenticate(context.Background(), api, nil, Credentials{APIKey: []byte(bad)})
		wantRefusal(t, err, 401, ReasonUnknownKey)
	}
	_, err = f.a.Authenticate(context.Background(), api, nil, Credentials{})
	wantRefusal(t, err, 401, ReasonMissing)
	// API keys carry no scopes.
	_, err = f.a.Authenticate(context.Background(), api, []string{"read"}, Credentials{APIKey: []byte(goodAPIKey)})
	wantRefusal(t, err, 403, ReasonInsufficientScope)
	for _, k := range []conf.APIKey{{SHA256: "abc", ClientID: "x"}, {SHA256: hexSum("a"), ClientID: ""}, {SHA256: hexSum("a"), ClientID: "a\nb"}} {
		if _, err := New(conf.Auth{APIKeys: &conf.APIKeys{Keys: []conf.APIKey{k}}}, nil, Options{}); err == nil {
			t.Errorf("New accepted %+v", k)
		}
	}
}

func TestMethodChoice(t *testing.T) {
	f := newFullFixture(t)
	jwtTok := f.jwt(t)
	all := []string{conf.AuthJWT, conf.AuthIntrospection, conf.AuthAPIKey}
	cases := []struct {
		name    string
		methods []string
		creds   Credentials
		method  string // "" = refused
		reason  string
	}{
		{"jwt shape", all, bearerCreds(jwtTok), "jwt", ""},
		{"opaque", all, bearerCreds("opaque-1"), "introspection", ""},
		{"api key", all, Credentials{APIKey: []byte(goodAPIKey)}, "api_key", ""},
		{"scheme case", all, Credentials{Authorization: []byte("bEaReR  " + jwtTok + " ")}, "jwt", ""},
		{"first listed wins", []string{conf.AuthAPIKey, conf.AuthJWT}, Credentials{Authorization: []byte("Bearer " + jwtTok), APIKey: []byte(goodAPIKey)}, "api_key", ""},
		{"jwt before key", all, Credentials{Authorization: []byte("Bearer " + jwtTok), APIKey: []byte("bad")}, "jwt", ""},
		{"opaque skips jwt", []string{conf.AuthJWT, conf.AuthAPIKey}, Credentials{Authorization: []byte("Bearer opaque-1"), APIKey: []byte(goodAPIKey)}, "api_key", ""},
		{"opaque on jwt-only route", []string{conf.AuthJWT}, bearerCreds("opaque-1"), "", ReasonMalformed},
		{"nothing", all, Credentials{}, "", ReasonMissing},
		{"basic scheme", all, Credentials{Authorization: []byte("Basic dXNlcjpwYXNz")}, "", ReasonMissing},
		{"bearer glued", all, Credentials{Authorization: []byte("Bearerabc")}, "", ReasonMissing},
		{"empty bearer", all, Credentials{Authorization: []byte("Bearer ")}, "", ReasonMalformed},
		{"no methods", nil, bearerCreds(jwtTok), "", ReasonMissing},
		{"unknown method", []string{"kerberos"}, bearerCreds(jwtTok), "", ReasonMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := f.a.Authenticate(context.Background(), tc.methods, nil, tc.creds)
			if tc.method != "" {
				if err != nil || id.Method != tc.method {
					t.Fatalf("got %+v %v; want method %s", id, err, tc.method)
				}
				return
			}
			wantRefusal(t, err, 401, tc.reason)
		})
	}
	// Missing credentials: a challenge without an error code.
	_, err := f.a.Authenticate(context.Background(), all, nil, Credentials{})
	if err.WWWAuthenticate != "Bearer" || err.Method != MethodNone || err.Code != CodeUnauthorized {
		t.Fatalf("missing: %+v", err)
	}
}

func TestScopes(t *testing.T) {
	f := newFullFixture(t)
	tok := f.jwt(t) // scope "read write"
	methods := []string{conf.AuthJWT}
	if _, err := f.a.Authenticate(context.Background(), methods, []string{"write", "read"}, bearerCreds(tok)); err != nil {
		t.Fatalf("refused: %v", err)
	}
	_, err := f.a.Authenticate(context.Background(), methods, []string{"read", "users:admin"}, bearerCreds(tok))
	wantRefusal(t, err, 403, ReasonInsufficientScope)
	want := `Bearer error="insufficient_scope", scope="read users:admin"`
	if err.WWWAuthenticate != want || err.Code != CodeForbidden || err.Method != "jwt" {
		t.Fatalf("refusal %+v; want challenge %s", err, want)
	}
	_, err = f.a.Authenticate(context.Background(), []string{conf.AuthIntrospection}, []string{"write"}, bearerCreds("opaque-1"))
	wantRefusal(t, err, 403, ReasonInsufficientScope)
}

func TestNilAndEmptyAuthenticator(t *testing.T) {
	var a *Authenticator
	_, err := a.Authenticate(context.Background(), []string{conf.AuthJWT}, nil, bearerCreds("a.b.c"))
	wantRefusal(t, err, 401, ReasonMissing)
	a.Close()
	b := mustNew(t, conf.Auth{}, nil, Options{})
	_, err = b.Authenticate(context.Background(), []string{conf.AuthJWT}, nil, bearerCreds("a.b.c"))
	wantRefusal(t, err, 401, ReasonMissing)
	b.Close() // twice is fine
}

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]conf.Auth{
		"missing key file": {JWT: &conf.JWT{Algorithms: []string{"RS256"}, Keys: []conf.JWTKey{{File: dir + "/nope.pem"}}}},
		"empty secret":     {JWT: &conf.JWT{Algorithms: []string{"HS256"}, Keys: []conf.JWTKey{{File: writeFile(t, "e", []byte(" \n"))}}}},
		"private key PEM":  {JWT: &conf.JWT{Algorithms: []string{"RS256"}, Keys: []conf.JWTKey{{File: writeFile(t, "p", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))}}}},
		"bad intro url":    {Introspection: &conf.Introspection{URL: "ftp://x"}},
	}
	for name, cfg := range cases {
		if _, err := New(cfg, nil, Options{}); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
