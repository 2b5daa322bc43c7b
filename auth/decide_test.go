package auth

import (
	"testing"
	"time"

	"tollgate/conf"
)

// Decide never waits: a JWT whose kid no loaded key set has is left
// pending without a fetch; a token whose key is loaded is verified at
// once, and a verified token comes from the cache.
func TestDecideLeavesJWKSFetchPending(t *testing.T) {
	f := newJWKSFixture(t, time.Hour)
	tok := f.token(t, 0, "k0")
	methods := []string{conf.AuthJWT}
	if err := f.auth(f.a, tok); err != nil { // waits for the first fetch
		t.Fatalf("Authenticate: %v", err)
	}
	calls := f.srv.calls.Load()
	f.clock.Advance(time.Second)
	other := f.token(t, 0, "k0") // not cached, its key loaded
	for _, tk := range []string{tok, other} {
		id, err, done := f.a.Decide(methods, nil, bearerCreds(tk))
		if !done || err != nil || id.ClientID == "" {
			t.Fatalf("with keys loaded: %+v, %v, done %v", id, err, done)
		}
	}
	f.clock.Advance(11 * time.Second) // past the unknown-kid refetch limit
	if err, done := decideErr(f.a, methods, f.token(t, 1, "k9")); done || err != nil {
		t.Fatalf("unknown kid: done %v, err %v; want pending", done, err)
	}
	if err, done := decideErr(f.a, methods, "not.a.jwt"); !done || err == nil {
		t.Fatalf("malformed token: done %v, err %v; want refused", done, err)
	}
	if n := f.srv.calls.Load(); n != calls {
		t.Fatalf("Decide fetched the JWKS %d times", n-calls)
	}
}

// decideErr returns Decide's refusal and whether it decided.
func decideErr(a *Authenticator, methods []string, tok string) (*Error, bool) {
	_, err, done := a.Decide(methods, nil, bearerCreds(tok))
	return err, done
}

// Decide answers an introspected token from the cache only: a token not
// cached is pending and causes no call.
func TestDecideIntrospectionFromCacheOnly(t *testing.T) {
	f := newIntroFixture(t, 30*time.Second)
	methods := []string{conf.AuthIntrospection}
	if err, done := decideErr(f.a, methods, "tok-active"); done || err != nil {
		t.Fatalf("not cached: done %v, err %v; want pending", done, err)
	}
	if n := f.srv.calls.Load(); n != 0 {
		t.Fatalf("Decide made %d introspection calls", n)
	}
	if _, err := f.auth("tok-active"); err != nil {
		t.Fatal(err)
	}
	id, err, done := f.a.Decide(methods, []string{"read"}, bearerCreds("tok-active"))
	if !done || err != nil || id.ClientID != "svc-1" {
		t.Fatalf("cached: %+v, %v, done %v", id, err, done)
	}
	wantRefusal(t, decideScopes(f.a, methods, "tok-active", "admin"), 403, ReasonInsufficientScope)
	if n := f.srv.calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls; want 1", n)
	}
}

// decideScopes returns Decide's refusal of tok for the given scopes.
func decideScopes(a *Authenticator, methods []string, tok string, scopes ...string) *Error {
	_, err, _ := a.Decide(methods, scopes, bearerCreds(tok))
	return err
}
