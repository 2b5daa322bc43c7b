package main

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// authorizer is a real external authorizer on loopback: it counts calls
// per credential and answers by the Authorization header.
type authorizer struct {
	mu    sync.Mutex
	calls map[string]int
	total atomic.Int64
}

func startAuthorizer(t *testing.T) (*authorizer, *origin) {
	a := &authorizer{calls: map[string]int{}}
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		cred := r.Header.Get("Authorization")
		a.mu.Lock()
		a.calls[cred]++
		a.mu.Unlock()
		a.total.Add(1)
		if r.Header.Get("X-Forwarded-Method") == "" || r.Header.Get("X-Forwarded-Uri") == "" {
			w.WriteHeader(400)
			return
		}
		switch cred {
		case "Bearer good", "Bearer burst":
			if cred == "Bearer burst" {
				time.Sleep(300 * time.Millisecond) // the burst arrives while this call is out
			}
			w.Header().Set("X-Client-Id", "user-1")
			w.Header().Set("X-User-Role", "admin")
			w.WriteHeader(200)
		case "Bearer unknown":
			w.WriteHeader(401)
		case "Bearer boom":
			w.WriteHeader(500)
		case "Bearer slow":
			time.Sleep(2 * time.Second)
		default:
			w.WriteHeader(403)
		}
	})
	return a, o
}

func (a *authorizer) callsFor(cred string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[cred]
}

// bearerGet sends GET path with a bearer credential and returns the
// response (body closed).
func bearerGet(t *testing.T, g *gateway, path, cred string, extra ...string) *http.Response {
	req, _ := http.NewRequest("GET", g.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestExternalAuthorizer: decisions, headers copied, cache, one call for
// a burst of 100, and both failure modes.
func TestExternalAuthorizer(t *testing.T) {
	az, azOrigin := startAuthorizer(t)
	up := startOrigin(t, echoHandler)
	cfg := func(onFailure string) string {
		return basicConfig(up.addr, "    auth: [external]\n") + fmt.Sprintf(`auth:
  external:
    url: "http://%s/check"
    timeout: 500ms
    headers_to_send: [Authorization]
    headers_to_copy: [X-Client-Id, X-User-Role]
    cache_ttl: 1m
    on_failure: %s
`, azOrigin.addr, onFailure)
	}
	g := startGateway(t, cfg("deny"))

	resp := bearerGet(t, g, "/a", "good", "X-User-Role", "forged")
	if resp.StatusCode != 200 || resp.Header.Get("X-Echo-X-Client-Id") != "user-1" || resp.Header.Get("X-Echo-X-User-Role") != "admin" {
		t.Fatalf("allowed: %d, upstream saw client %q role %q", resp.StatusCode, resp.Header.Get("X-Echo-X-Client-Id"), resp.Header.Get("X-Echo-X-User-Role"))
	}
	for i := 0; i < 3; i++ {
		bearerGet(t, g, "/a", "good")
	}
	if n := az.callsFor("Bearer good"); n != 1 {
		t.Errorf("authorizer called %d times for a cached credential, want 1", n)
	}
	if st := bearerGet(t, g, "/a", "nope").StatusCode; st != 403 {
		t.Errorf("denied: %d, want 403", st)
	}
	if st := bearerGet(t, g, "/a", "unknown").StatusCode; st != 401 {
		t.Errorf("authorizer 401: %d, want 401", st)
	}

	// A burst of 100 with one new credential: one call.
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if bearerGet(t, g, "/burst", "burst").StatusCode == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := az.callsFor("Bearer burst"); n != 1 || ok.Load() != 100 {
		t.Errorf("burst of 100: %d authorizer calls (want 1), %d answered 200", n, ok.Load())
	}

	// Failure modes: deny answers 503, allow lets the request through.
	before := up.requests.Load()
	for _, cred := range []string{"boom", "slow"} {
		if st := bearerGet(t, g, "/f", cred).StatusCode; st != 503 {
			t.Errorf("on_failure deny, %s: %d, want 503", cred, st)
		}
	}
	if up.requests.Load() != before {
		t.Error("a request refused on the authorizer's failure reached the upstream")
	}
	g.writeConfig(cfg("allow"))
	reloadAndWait(t, g, 1)
	resp = bearerGet(t, g, "/f", "boom")
	if resp.StatusCode != 200 || resp.Header.Get("X-Echo-X-Client-Id") != "" {
		t.Errorf("on_failure allow: %d, client id %q (want 200, anonymous)", resp.StatusCode, resp.Header.Get("X-Echo-X-Client-Id"))
	}
	for sample, min := range map[string]float64{
		`tollgate_external_auth_calls_total{result="allow"}`:                            2,
		`tollgate_external_auth_calls_total{result="deny"}`:                             2,
		`tollgate_external_auth_calls_total{result="error"}`:                            3,
		`tollgate_auth_failures_total{method="external",reason="denied"}`:               2,
		`tollgate_auth_failures_total{method="external",reason="external_unavailable"}`: 2,
	} {
		if got := g.metric(sample); got < min {
			t.Errorf("%s = %v, want at least %v", sample, got, min)
		}
	}
}
