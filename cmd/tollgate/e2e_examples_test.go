package main

// End-to-end tests of the configs in examples/: each starts the real
// binary with the example file as written — only its fixed addresses are
// swapped for free loopback ports — next to the servers its comments name
// (internal/demokit, the same code examples/demo.sh runs), and makes the
// requests those comments promise.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"tollgate/internal/demokit"
	"tollgate/internal/testkit"
)

// exampleConfig reads examples/NAME.yaml for startGateway: the listen and
// admin addresses become LISTEN and ADMIN, and each fixed address in addrs
// becomes its test value. An address the file no longer holds fails the
// test, so the test and the example cannot drift apart.
func exampleConfig(t *testing.T, name string, addrs map[string]string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(data)
	for from, to := range map[string]string{`listen: ":8080"`: `listen: "LISTEN"`, `listen: "127.0.0.1:9901"`: `listen: "ADMIN"`} {
		addrs[from] = to
	}
	for from, to := range addrs {
		if !strings.Contains(cfg, from) {
			t.Fatalf("examples/%s.yaml no longer holds %q", name, from)
		}
		cfg = strings.ReplaceAll(cfg, from, to)
	}
	return cfg
}

// serveExample runs h on a free loopback port until the test ends.
func serveExample(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// exampleAnswer is one answer through the gateway, with the origin's
// description of what it received when the origin answered.
type exampleAnswer struct {
	status int
	header http.Header
	origin demokit.Answer
}

// ask sends a GET with headers ("Name: value") and reads the answer.
func ask(t *testing.T, url string, headers ...string) exampleAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := exampleAnswer{status: resp.StatusCode, header: resp.Header}
	if resp.Header.Get("X-Origin") != "" {
		if err := json.Unmarshal(body, &a.origin); err != nil {
			t.Fatalf("GET %s: origin answer %q: %v", url, body, err)
		}
	}
	return a
}

// expect checks an answer's status and the exact values of some headers.
func (a exampleAnswer) expect(t *testing.T, what string, status int, headers ...string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: status %d, want %d", what, a.status, status)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if got := a.header.Get(k); got != v {
			t.Errorf("%s: %s: %q, want %q", what, k, got, v)
		}
	}
}

// TestExampleAPIKeys runs examples/api-keys.yaml.
func TestExampleAPIKeys(t *testing.T) {
	t.Parallel()
	orders := serveExample(t, demokit.NewOrigin("orders"))
	g := startGateway(t, exampleConfig(t, "api-keys", map[string]string{"127.0.0.1:9001": orders}))
	u := g.url("/orders/1")

	ask(t, u).expect(t, "no key", 401, "WWW-Authenticate: Bearer")
	ask(t, u, "X-API-Key: not-a-key").expect(t, "unknown key", 401, `WWW-Authenticate: Bearer error="invalid_token"`)
	for i := 1; i <= 3; i++ {
		a := ask(t, u, "X-API-Key: demo-partner-key")
		a.expect(t, fmt.Sprintf("partner-x request %d", i), 200, `RateLimit-Policy: "partner-x";q=3;w=60`)
		if a.origin.ClientID != "partner-x" || a.origin.Path != "/orders/1" {
			t.Errorf("partner-x request %d: the origin saw %+v", i, a.origin)
		}
	}
	fourth := ask(t, u, "X-API-Key: demo-partner-key")
	fourth.expect(t, "partner-x's 4th request in a minute", 429)
	if fourth.header.Get("Retry-After") == "" {
		t.Error("the 429 has no Retry-After")
	}
	ask(t, u, "X-API-Key: demo-mobile-key").expect(t, "mobile-app", 200, `RateLimit-Policy: "mobile-app";q=200;w=2`)
	ask(t, g.url("/status")).expect(t, "anonymous /status", 200, `RateLimit-Policy: "default";q=20;w=2`)
	if v := g.metric(`tollgate_ratelimit_decisions_total{client="partner-x",decision="deny"}`); v != 1 {
		t.Errorf("partner-x denials on /metrics: %v, want 1", v)
	}
}

// TestExampleJWTWithJWKS runs examples/jwt-jwks.yaml with the demo issuer.
func TestExampleJWTWithJWKS(t *testing.T) {
	t.Parallel()
	issuer, err := demokit.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	issuerAddr := serveExample(t, issuer)
	reports := serveExample(t, demokit.NewOrigin("reports"))
	g := startGateway(t, exampleConfig(t, "jwt-jwks", map[string]string{"127.0.0.1:9100": issuerAddr, "127.0.0.1:9001": reports}))
	u := g.url("/reports/q3")
	token := func(query string) string {
		resp, err := http.Get("http://" + issuerAddr + "/token?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("issuer: %d %s", resp.StatusCode, b)
		}
		return strings.TrimSpace(string(b))
	}
	good := token("client_id=reporting-app&scope=reports:read")

	var a exampleAnswer
	waitFor(t, func() bool { // the JWKS is fetched in the background at start
		a = ask(t, u, "Authorization: Bearer "+good)
		return a.status == 200
	})
	a.expect(t, "reporting-app", 200, `RateLimit-Policy: "reporting-app";q=5;w=5`)
	if a.origin.ClientID != "reporting-app" {
		t.Errorf("the origin saw %+v", a.origin)
	}
	ask(t, u).expect(t, "no token", 401, "WWW-Authenticate: Bearer")
	other := token("client_id=reporting-app&scope=profile")
	forged := good[:strings.LastIndexByte(good, '.')] + other[strings.LastIndexByte(other, '.'):] // other's signature
	ask(t, u, "Authorization: Bearer "+forged).expect(t, "bad signature", 401, `WWW-Authenticate: Bearer error="invalid_token"`)
	ask(t, u, "Authorization: Bearer "+other).expect(t, "wrong scope", 403, `WWW-Authenticate: Bearer error="insufficient_scope", scope="reports:read"`)
	expired := token("client_id=reporting-app&scope=reports:read&ttl=1ms")
	time.Sleep(1100 * time.Millisecond) // exp has one-second resolution
	ask(t, u, "Authorization: Bearer "+expired).expect(t, "expired", 401, `WWW-Authenticate: Bearer error="invalid_token"`)
}

// TestExampleRedis runs examples/redis.yaml as three instances on one
// redis-server: together they admit partner-x's 6 requests a minute, not
// 6 each.
func TestExampleRedis(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	inventory := serveExample(t, demokit.NewOrigin("inventory"))
	gs := startGateways(t, rs, 3, exampleConfig(t, "redis", map[string]string{"127.0.0.1:6380": rs.addr, "127.0.0.1:9001": inventory}))
	var ok, limited int
	for i := 0; i < 18; i++ {
		switch a := ask(t, gs[i%3].url("/inventory/1"), "X-API-Key: demo-partner-key"); a.status {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("request %d: status %d", i, a.status)
		}
		time.Sleep(20 * time.Millisecond) // round-robin at a human pace, as the example's loop
	}
	t.Logf("18 requests over 3 instances: %d admitted, %d limited", ok, limited)
	if ok < 5 || ok > 8 {
		t.Errorf("admitted %d of 18, want about partner-x's 6 (each instance alone would admit 6: 18)", ok)
	}
}

// TestExampleBreakers runs examples/breakers.yaml: a target that starts
// failing is retried around, its breaker opens, health checks take it out,
// and it comes back when it heals.
func TestExampleBreakers(t *testing.T) {
	t.Parallel()
	a, b := demokit.NewOrigin("catalog-a"), demokit.NewOrigin("catalog-b")
	addrA, addrB := serveExample(t, a), serveExample(t, b)
	g := startGateway(t, exampleConfig(t, "breakers", map[string]string{"127.0.0.1:9001": addrA, "127.0.0.1:9002": addrB}))
	u := g.url("/catalog/1")
	servedBy := func(name string) func() bool {
		return func() bool { return ask(t, u).origin.Origin == name }
	}
	waitFor(t, servedBy("catalog-b")) // both in rotation once their first health check passed
	waitFor(t, servedBy("catalog-a"))

	post(t, "http://"+addrB+"/_origin/fail")
	for i := 0; i < 10; i++ {
		ans := ask(t, u)
		if ans.status != 200 || ans.origin.Origin != "catalog-a" {
			t.Errorf("request %d while catalog-b fails: %d from %q, want 200 from catalog-a", i, ans.status, ans.origin.Origin)
		}
	}
	if v := g.metric(breakerSample("catalog", addrB)); v != 2 {
		t.Errorf("catalog-b's breaker state after its failures: %v, want 2 (open)", v)
	}
	if v := g.metric(breakerSample("catalog", addrA)); v != 0 {
		t.Errorf("catalog-a's breaker state: %v, want 0 (closed)", v)
	}

	post(t, "http://"+addrB+"/_origin/recover")
	if !testkit.Poll(15*time.Second, 100*time.Millisecond, servedBy("catalog-b")) {
		t.Fatal("catalog-b did not come back within 15s of healing (open_for 5s, one good health check)")
	}
	waitFor(t, func() bool { return g.metric(breakerSample("catalog", addrB)) == 0 })
}

// post sends an empty POST and expects 200.
func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 500 {
		t.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

// TestExampleTollgate runs examples/tollgate.yaml, the realistic config.
func TestExampleTollgate(t *testing.T) {
	t.Parallel()
	usersA := serveExample(t, demokit.NewOrigin("users-a"))
	usersB := serveExample(t, demokit.NewOrigin("users-b"))
	search := serveExample(t, demokit.NewOrigin("search"))
	g := startGateway(t, exampleConfig(t, "tollgate", map[string]string{
		"127.0.0.1:9001": usersA, "127.0.0.1:9002": usersB, "127.0.0.1:9101": search,
	}))

	a := ask(t, g.url("/v1/users/42"), "Host: api.example.com", "X-API-Key: demo-mobile-key")
	a.expect(t, "users as mobile-app", 200, `RateLimit-Policy: "mobile-app";q=2000;w=2`, "Server: ")
	if !strings.HasPrefix(a.origin.Origin, "users-") || a.origin.Path != "/users/42" || a.origin.ClientID != "mobile-app" {
		t.Errorf("the users origin saw %+v", a.origin)
	}
	ask(t, g.url("/v1/users/42")).expect(t, "users without its host", 404)
	for i := 0; i < 4; i++ {
		a := ask(t, g.url("/v1/search?q=tea"), "X-API-Key: demo-partner-key")
		a.expect(t, fmt.Sprintf("search as partner-x, request %d (shadow mode)", i+1), 200, `RateLimit-Policy: "partner-x/search";q=2;w=1`)
		if a.origin.Origin != "search" || a.origin.ClientID != "partner-x" {
			t.Errorf("the search origin saw %+v", a.origin)
		}
	}
	if v := g.metric(`tollgate_ratelimit_decisions_total{client="partner-x",decision="shadow_deny"}`); v < 1 {
		t.Errorf("partner-x shadow denials: %v, want at least 1", v)
	}
	ask(t, g.url("/v1/search?q=tea")).expect(t, "search without a key", 401)
}
