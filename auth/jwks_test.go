package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// jwksFixture is an Authenticator whose only keys come from one JWKS
// server, which starts with RSA key 0 as kid "k0".
type jwksFixture struct {
	a     *Authenticator
	clock *testkit.Clock
	srv   *jwksServer
	cfg   conf.Auth
}

func newJWKSFixture(t *testing.T, refresh time.Duration) *jwksFixture {
	f := &jwksFixture{clock: testkit.NewClock(testEpoch)}
	f.srv = newJWKSServer(t, jwkOf(t, "k0", &rsaKey(t, 0).PublicKey))
	f.cfg = conf.Auth{JWT: &conf.JWT{
		Algorithms: []string{"RS256", "ES256"},
		Keys:       []conf.JWTKey{{JWKSURL: f.srv.URL, Refresh: refresh}},
	}}
	f.a = mustNew(t, f.cfg, nil, f.opts())
	return f
}

func (f *jwksFixture) opts() Options {
	return Options{Now: f.clock.Now, JWKSTimeout: 300 * time.Millisecond}
}

// token signs valid claims with RSA key i under kid.
func (f *jwksFixture) token(t *testing.T, i int, kid string) string {
	return sign(t, jwt.SigningMethodRS256, rsaKey(t, i), kid, claimsAt(f.clock.Now()))
}

func (f *jwksFixture) auth(a *Authenticator, tok string) *Error {
	_, err := a.Authenticate(context.Background(), []string{conf.AuthJWT}, nil, bearerCreds(tok))
	return err
}

func TestJWKSFirstRequestWaitsForInitialFetch(t *testing.T) {
	f := newJWKSFixture(t, time.Hour)
	if err := f.auth(f.a, f.token(t, 0, "k0")); err != nil {
		t.Fatalf("refused: %v", err)
	}
	if n := f.srv.calls.Load(); n != 1 {
		t.Fatalf("%d fetches; want 1", n)
	}
}

func TestJWKSUnknownKidThenRotation(t *testing.T) {
	f := newJWKSFixture(t, time.Hour)
	if err := f.auth(f.a, f.token(t, 0, "k0")); err != nil {
		t.Fatal(err)
	}
	// k1 is not published yet: refused, and the refetch it may trigger
	// is limited to one per 10s.
	f.clock.Advance(11 * time.Second)
	err := f.auth(f.a, f.token(t, 1, "k1"))
	wantRefusal(t, err, 401, ReasonUnknownKid)
	calls := f.srv.calls.Load()
	for range 20 {
		wantRefusal(t, f.auth(f.a, f.token(t, 1, "k1")), 401, ReasonUnknownKid)
	}
	if n := f.srv.calls.Load(); n != calls {
		t.Fatalf("unknown kids caused %d more fetches within 10s", n-calls)
	}
	// Rotate: the server now publishes k1 too; within 10s still refused.
	f.srv.setKeys(t, jwkOf(t, "k0", &rsaKey(t, 0).PublicKey), jwkOf(t, "k1", &rsaKey(t, 1).PublicKey))
	wantRefusal(t, f.auth(f.a, f.token(t, 1, "k1")), 401, ReasonUnknownKid)
	f.clock.Advance(10 * time.Second)
	if err := f.auth(f.a, f.token(t, 1, "k1")); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}
	if err := f.auth(f.a, f.token(t, 0, "k0")); err != nil {
		t.Fatalf("old key refused after rotation: %v", err)
	}
	// A kid whose key is another one's is still a bad signature.
	wantRefusal(t, f.auth(f.a, f.token(t, 2, "k1")), 401, ReasonBadSignature)
}

func TestJWKSDownKeepsKnownKeys(t *testing.T) {
	for _, mode := range []string{"down", "garbage", "slow"} {
		t.Run(mode, func(t *testing.T) {
			f := newJWKSFixture(t, 20*time.Millisecond)
			if err := f.auth(f.a, f.token(t, 0, "k0")); err != nil {
				t.Fatal(err)
			}
			f.srv.setMode(mode)
			calls := f.srv.calls.Load()
			testkit.Eventually(t, "a failed refresh", func() bool { return f.srv.calls.Load() > calls+1 })
			for i := range 20 {
				// A fresh token each time, so the cache cannot answer.
				tok := sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "k0",
					jwt.MapClaims{"sub": "u", "n": i, "exp": f.clock.Now().Add(time.Hour).Unix()})
				start := time.Now() // the check only: signing is the test's own work
				if err := f.auth(f.a, tok); err != nil {
					t.Fatalf("known kid refused while JWKS is %s: %v", mode, err)
				}
				// A wait for the failing JWKS would take its fetch timeout (seconds).
				if d := time.Since(start); d > 500*time.Millisecond {
					t.Fatalf("known kid waited %v while JWKS is %s", d, mode)
				}
			}
			// An unknown kid waits at most one fetch timeout, then is refused.
			f.clock.Advance(11 * time.Second)
			start := time.Now()
			wantRefusal(t, f.auth(f.a, f.token(t, 1, "k1")), 401, ReasonUnknownKid)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("unknown kid waited %v", d)
			}
		})
	}
}

func TestJWKSNeverFetchedIsUnavailable(t *testing.T) {
	srv := newJWKSServer(t)
	srv.setMode("down")
	clock := testkit.NewClock(testEpoch)
	cfg := conf.Auth{JWT: &conf.JWT{Algorithms: []string{"RS256"}, Keys: []conf.JWTKey{{JWKSURL: srv.URL}}}}
	a := mustNew(t, cfg, nil, Options{Now: clock.Now, JWKSTimeout: 200 * time.Millisecond})
	tok := sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "k0", claimsAt(clock.Now()))
	_, err := a.Authenticate(context.Background(), []string{conf.AuthJWT}, nil, bearerCreds(tok))
	wantRefusal(t, err, 503, ReasonKeysUnavailable)
	if err.Code != CodeUnavailable || err.WWWAuthenticate != "" {
		t.Fatalf("refusal %+v", err)
	}
}

func TestJWKSPeriodicRefresh(t *testing.T) {
	f := newJWKSFixture(t, 30*time.Millisecond)
	if err := f.auth(f.a, f.token(t, 0, "k0")); err != nil {
		t.Fatal(err)
	}
	f.srv.setKeys(t, jwkOf(t, "k1", &rsaKey(t, 1).PublicKey))
	// The fake clock stands still, so only the periodic refresh can
	// bring k1 in; and it drops k0, whose cached tokens must go too.
	cached := f.token(t, 0, "k0")
	if err := f.auth(f.a, cached); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the refresher to publish k1", func() bool { return f.auth(f.a, f.token(t, 1, "k1")) == nil })
	wantRefusal(t, f.auth(f.a, cached), 401, ReasonUnknownKid)
}

func TestJWKSUnknownKidSingleflight(t *testing.T) {
	f := newJWKSFixture(t, time.Hour)
	if err := f.auth(f.a, f.token(t, 0, "k0")); err != nil {
		t.Fatal(err)
	}
	f.srv.setKeys(t, jwkOf(t, "k0", &rsaKey(t, 0).PublicKey), jwkOf(t, "k1", &rsaKey(t, 1).PublicKey))
	f.clock.Advance(11 * time.Second)
	calls := f.srv.calls.Load()
	tok := f.token(t, 1, "k1")
	var wg sync.WaitGroup
	errs := make(chan *Error, 32)
	for range 32 {
		wg.Go(func() { errs <- f.auth(f.a, tok) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
	}
	if n := f.srv.calls.Load() - calls; n != 1 {
		t.Fatalf("%d concurrent unknown-kid requests made %d fetches; want 1", 32, n)
	}
}

func TestNewCarriesOverJWKSAndCache(t *testing.T) {
	f := newJWKSFixture(t, time.Hour)
	tok := f.token(t, 0, "k0")
	if err := f.auth(f.a, tok); err != nil {
		t.Fatal(err)
	}
	f.srv.setMode("down")
	calls := f.srv.calls.Load()

	b := mustNew(t, f.cfg, f.a, f.opts())
	f.a.Close()
	if b.jwt.cache != f.a.jwt.cache {
		t.Fatal("verified-token cache not carried over for an unchanged config")
	}
	fresh := f.token(t, 0, "k0")
	if err := f.auth(b, fresh); err != nil {
		t.Fatalf("carried-over keys refused a token: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // give a wrongly immediate refresh time to show
	if n := f.srv.calls.Load(); n != calls {
		t.Fatalf("reload fetched the JWKS %d times", n-calls)
	}

	// A changed jwt block keeps the JWKS keys but not the cache.
	cfg := f.cfg
	jwtCfg := *cfg.JWT
	jwtCfg.Leeway = time.Second
	cfg.JWT = &jwtCfg
	c := mustNew(t, cfg, b, f.opts())
	b.Close()
	if c.jwt.cache == b.jwt.cache {
		t.Fatal("cache carried over across a changed jwt block")
	}
	if err := f.auth(c, tok); err != nil {
		t.Fatalf("carried-over keys refused a token: %v", err)
	}
	// A new URL starts empty.
	other := newJWKSServer(t, jwkOf(t, "k2", &rsaKey(t, 2).PublicKey))
	jwt2 := jwtCfg
	jwt2.Keys = []conf.JWTKey{{JWKSURL: other.URL, Refresh: time.Hour}}
	cfg.JWT = &jwt2
	d := mustNew(t, cfg, c, f.opts())
	if len(d.jwt.sources[0].keys()) != 0 && d.jwt.sources[0].keys()[0].kid == "k0" {
		t.Fatal("keys of another URL carried over")
	}
	if err := f.auth(d, f.token(t, 2, "k2")); err != nil {
		t.Fatalf("new URL's key refused: %v", err)
	}
}

func TestParseJWKSRejectsBadKeys(t *testing.T) {
	bad := []string{
		`{"keys":[]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(make([]byte, 32)) + `"}]}`,
		`{"keys":[{"kty":"OKP","crv":"X25519","x":"` + b64(make([]byte, 32)) + `"}]}`,
		`not json`,
	}
	log := Options{}.normalise().Logger
	for _, doc := range bad {
		if keys, err := parseJWKS([]byte(doc), log); err == nil {
			t.Errorf("parseJWKS(%s) = %d keys", doc, len(keys))
		}
	}
}

// A key set that rotates while a kid-less static key is configured too:
// a token whose kid no key set has makes the (rate-limited) refetch happen
// before the kid-less key is tried, so the rotated key is accepted rather
// than refused as a bad signature by the static key. The static key still
// verifies its own tokens, whatever kid they carry.
func TestJWKSRotationBeforeKidlessStaticKey(t *testing.T) {
	clock := testkit.NewClock(testEpoch)
	srv := newJWKSServer(t, jwkOf(t, "k0", &rsaKey(t, 0).PublicKey))
	cfg := conf.Auth{JWT: &conf.JWT{
		Algorithms: []string{"RS256"},
		Keys: []conf.JWTKey{
			{File: writeFile(t, "static.pem", pemPublic(t, &rsaKey(t, 2).PublicKey))},
			{JWKSURL: srv.URL, Refresh: time.Hour},
		},
	}}
	a := mustNew(t, cfg, nil, Options{Now: clock.Now, JWKSTimeout: time.Second})
	tok := func(i int, kid string) string {
		return sign(t, jwt.SigningMethodRS256, rsaKey(t, i), kid, claimsAt(clock.Now()))
	}
	auth := func(s string) *Error {
		_, err := a.Authenticate(context.Background(), []string{conf.AuthJWT}, nil, bearerCreds(s))
		return err
	}
	if err := auth(tok(0, "k0")); err != nil {
		t.Fatalf("JWKS key refused: %v", err)
	}
	if err := auth(tok(2, "")); err != nil {
		t.Fatalf("static key without kid refused: %v", err)
	}

	// The issuer rotates to k1; the next token with k1 refetches first.
	srv.setKeys(t, jwkOf(t, "k1", &rsaKey(t, 1).PublicKey))
	clock.Advance(11 * time.Second)
	calls := srv.calls.Load()
	if err := auth(tok(1, "k1")); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}
	if n := srv.calls.Load() - calls; n != 1 {
		t.Fatalf("the unknown kid made %d fetches; want 1", n)
	}

	// Within the refetch limit an unknown kid goes straight to the static
	// key: its own tokens pass, others are bad signatures, and neither
	// fetches.
	clock.Advance(time.Second)
	calls = srv.calls.Load()
	if err := auth(tok(2, "static-1")); err != nil {
		t.Fatalf("static key with an unknown kid refused: %v", err)
	}
	wantRefusal(t, auth(tok(0, "k9")), 401, ReasonBadSignature)
	if n := srv.calls.Load() - calls; n != 0 {
		t.Fatalf("unknown kids within 10s made %d fetches", n)
	}

	// Decide (the event loop's path, which never waits) leaves an unknown
	// kid pending while a refetch is due, and decides with the static key
	// once the refetch has been made.
	clock.Advance(11 * time.Second)
	methods := []string{conf.AuthJWT}
	if err, done := decideErr(a, methods, tok(2, "static-2")); done || err != nil {
		t.Fatalf("unknown kid with a refetch due: done %v, err %v; want pending", done, err)
	}
	if err := auth(tok(2, "static-2")); err != nil {
		t.Fatalf("static key after the refetch: %v", err)
	}
	if err, done := decideErr(a, methods, tok(2, "static-3")); !done || err != nil {
		t.Fatalf("unknown kid with the refetch limited: done %v, err %v; want accepted", done, err)
	}
}
