package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// introServer is a real RFC 7662 endpoint on loopback. It checks the
// client authentication and form, counts calls and can be slowed down,
// broken or made to send garbage.
type introServer struct {
	*httptest.Server
	t     testing.TB
	mu    sync.Mutex
	resp  map[string]map[string]any // token → response
	mode  string                    // "", "garbage", "500"
	delay time.Duration
	calls atomic.Int64
}

func newIntroServer(t testing.TB) *introServer {
	s := &introServer{t: t, resp: map[string]map[string]any{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *introServer) set(token string, r map[string]any) {
	s.mu.Lock()
	s.resp[token] = r
	s.mu.Unlock()
}

func (s *introServer) setMode(mode string, delay time.Duration) {
	s.mu.Lock()
	s.mode, s.delay = mode, delay
	s.mu.Unlock()
}

func (s *introServer) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	user, pass, ok := r.BasicAuth()
	if r.Method != http.MethodPost || !ok || user != "gateway" || pass != "s3cret" ||
		r.PostFormValue("token_type_hint") != "access_token" {
		http.Error(w, "bad client", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	resp, mode, delay := s.resp[r.PostFormValue("token")], s.mode, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case mode == "garbage":
		w.Write([]byte("<html>oops"))
	case mode == "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case resp == nil:
		w.Write([]byte(`{"active": false}`))
	default:
		json.NewEncoder(w).Encode(resp)
	}
}

type introFixture struct {
	a     *Authenticator
	srv   *introServer
	clock *testkit.Clock
}

func newIntroFixture(t *testing.T, ttl time.Duration) *introFixture {
	f := &introFixture{srv: newIntroServer(t), clock: testkit.NewClock(testEpoch)}
	cfg := conf.Auth{Introspection: &conf.Introspection{
		URL: f.srv.URL, ClientID: "gateway", ClientSecret: "s3cret", CacheTTL: ttl, Timeout: 300 * time.Millisecond,
	}}
	f.a = mustNew(t, cfg, nil, Options{Now: f.clock.Now})
	f.srv.set("tok-active", map[string]any{"active": true, "client_id": "svc-1", "scope": "read write",
		"exp": f.clock.Now().Add(time.Hour).Unix()})
	return f
}

func (f *introFixture) auth(tok string, scopes ...string) (Identity, *Error) {
	return f.a.Authenticate(context.Background(), []string{conf.AuthIntrospection}, scopes, bearerCreds(tok))
}

func TestIntrospectionActiveAndCached(t *testing.T) {
	f := newIntroFixture(t, 30*time.Second)
	for range 5 {
		id, err := f.auth("tok-active", "read")
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if id.ClientID != "svc-1" || id.Method != "introspection" || len(id.Scopes) != 2 {
			t.Fatalf("identity %+v", id)
		}
	}
	if n := f.srv.calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls; want 1 (cached)", n)
	}
	f.clock.Advance(31 * time.Second)
	if _, err := f.auth("tok-active"); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.calls.Load(); n != 2 {
		t.Fatalf("%d calls after cache_ttl; want 2", n)
	}
}

func TestIntrospectionCacheNeverPastExp(t *testing.T) {
	f := newIntroFixture(t, time.Hour)
	f.srv.set("short", map[string]any{"active": true, "client_id": "svc-1", "exp": f.clock.Now().Add(10 * time.Second).Unix()})
	if _, err := f.auth("short"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(11 * time.Second)
	// The server still says active with the old exp: the token is expired.
	_, err := f.auth("short")
	wantRefusal(t, err, 401, ReasonInactive)
	if n := f.srv.calls.Load(); n != 2 {
		t.Fatalf("%d calls; want 2 (cache ends at exp)", n)
	}
}

func TestIntrospectionInactiveCachedBriefly(t *testing.T) {
	f := newIntroFixture(t, time.Minute)
	for range 10 {
		_, err := f.auth("revoked-token")
		wantRefusal(t, err, 401, ReasonInactive)
		if err.WWWAuthenticate != `Bearer error="invalid_token"` {
			t.Fatalf("challenge %q", err.WWWAuthenticate)
		}
	}
	if n := f.srv.calls.Load(); n != 1 {
		t.Fatalf("%d calls for a flood of one bad token; want 1", n)
	}
	f.clock.Advance(inactiveTTL)
	f.srv.set("revoked-token", map[string]any{"active": true, "client_id": "svc-2"})
	if id, err := f.auth("revoked-token"); err != nil || id.ClientID != "svc-2" {
		t.Fatalf("after the inactive TTL: %+v %v", id, err)
	}
}

func TestIntrospectionSingleflight(t *testing.T) {
	f := newIntroFixture(t, 30*time.Second)
	f.srv.setMode("", 100*time.Millisecond)
	const n = 50
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Go(func() {
			if _, err := f.auth("tok-active"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d refused", failed.Load(), n)
	}
	if c := f.srv.calls.Load(); c != 1 {
		t.Fatalf("%d concurrent requests made %d calls; want 1", n, c)
	}
}

func TestIntrospectionUnavailable(t *testing.T) {
	cases := map[string]func(*introFixture){
		"down":    func(f *introFixture) { f.srv.Close() },
		"slow":    func(f *introFixture) { f.srv.setMode("", 3*time.Second) },
		"garbage": func(f *introFixture) { f.srv.setMode("garbage", 0) },
		"500":     func(f *introFixture) { f.srv.setMode("500", 0) },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			f := newIntroFixture(t, 30*time.Second)
			breakIt(f)
			start := time.Now()
			_, err := f.auth("tok-active")
			wantRefusal(t, err, 503, ReasonIntrospectionError)
			if err.Code != CodeUnavailable || err.RetryAfter <= 0 {
				t.Fatalf("refusal %+v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %v; the timeout is 300ms", d)
			}
			// Failures are not cached: the next request asks again.
			if name != "down" {
				f.srv.setMode("", 0)
				if _, err := f.auth("tok-active"); err != nil {
					t.Fatalf("after recovery: %v", err)
				}
			}
		})
	}
}

func TestIntrospectionRefusesBadTokensWithoutCalling(t *testing.T) {
	f := newIntroFixture(t, 30*time.Second)
	for _, tok := range []string{"", "has space", "quote\"", "a=b", string(make([]byte, maxOpaqueLen+1))} {
		_, err := f.a.Authenticate(context.Background(), []string{conf.AuthIntrospection}, nil,
			Credentials{Authorization: []byte("Bearer " + tok)})
		wantRefusal(t, err, 401, ReasonMalformed)
	}
	if n := f.srv.calls.Load(); n != 0 {
		t.Fatalf("%d calls for malformed tokens", n)
	}
}

func TestIntrospectionClientID(t *testing.T) {
	f := newIntroFixture(t, 30*time.Second)
	f.srv.set("sub-only", map[string]any{"active": true, "sub": "user-9"})
	f.srv.set("nobody", map[string]any{"active": true})
	f.srv.set("crlf", map[string]any{"active": true, "client_id": "a\r\nb"})
	if id, err := f.auth("sub-only"); err != nil || id.ClientID != "user-9" {
		t.Fatalf("sub fallback: %+v %v", id, err)
	}
	for _, tok := range []string{"nobody", "crlf"} {
		_, err := f.auth(tok)
		wantRefusal(t, err, 401, ReasonInvalidClaims)
	}
}
