package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// switchable is an origin whose answers fail on command: with failing set
// every request gets status (a 5xx); /healthz follows sick. It counts the
// requests other than health checks.
type switchable struct {
	*origin
	failing atomic.Bool
	sick    atomic.Bool
	status  int
	served  atomic.Int64 // non-health requests
	probes  atomic.Int64
}

func startSwitchable(t *testing.T, status int, body string) *switchable {
	t.Helper()
	s := &switchable{status: status}
	s.origin = startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			s.probes.Add(1)
			if s.sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		s.served.Add(1)
		io.Copy(io.Discard, r.Body)
		if s.failing.Load() {
			w.WriteHeader(s.status)
		}
		io.WriteString(w, body)
	})
	return s
}

// fetch sends one request and returns the status, the Retry-After header
// and how long it took. A transport error fails the test.
func fetch(t *testing.T, method, url, body string) (int, string, time.Duration) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)
}

// breakerSample is the /metrics sample of one target's breaker state
// (labels are printed in name order).
func breakerSample(upstream, addr string) string {
	return fmt.Sprintf(`tollgate_breaker_state{target="%s",upstream="%s"}`, addr, upstream)
}

const e2eClients = `
clients:
  default: {rate: 100000/s, burst: 100000}
`

// TestBreakerOpensFailsFastAndRecovers: three 500s in a row open the
// breaker; then the gateway answers 503 with Retry-After at once, without
// reaching the origin; after open_for a half-open probe goes through and
// two successes close it again.
func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	o := startSwitchable(t, 500, "ok")
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app:
    targets: ["%s"]
    retries: {attempts: 0}
    breaker: {consecutive_failures: 3, min_requests: 100, open_for: 2s, half_open_requests: 2, failure_on: ["5xx"]}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
%s`, o.addr, e2eClients))
	sample := breakerSample("app", o.addr)
	if v := g.metric(sample); v != 0 {
		t.Fatalf("%s = %v before any failure, want 0", sample, v)
	}
	o.failing.Store(true)
	for i := 0; i < 3; i++ {
		if s, _, _ := fetch(t, "GET", g.url("/x"), ""); s != 500 {
			t.Fatalf("failure %d: status %d, want the origin's 500", i, s)
		}
	}
	if v := g.metric(sample); v != 2 {
		t.Fatalf("%s = %v after 3 failures, want 2 (open)", sample, v)
	}
	before := o.served.Load()
	for i := 0; i < 20; i++ {
		s, ra, d := fetch(t, "GET", g.url("/x"), "")
		if s != 503 || (ra != "2" && ra != "1") || d > 200*time.Millisecond {
			t.Fatalf("open breaker: status %d, Retry-After %q, %v; want 503 at once with Retry-After 1-2", s, ra, d)
		}
	}
	if n := o.served.Load() - before; n != 0 {
		t.Fatalf("the origin saw %d requests while the breaker was open", n)
	}

	o.failing.Store(false)
	time.Sleep(2100 * time.Millisecond) // open_for
	if s, _, _ := fetch(t, "GET", g.url("/x"), ""); s != 200 {
		t.Fatalf("half-open probe: status %d", s)
	}
	if v := g.metric(sample); v != 1 {
		t.Fatalf("%s = %v after one probe, want 1 (half-open)", sample, v)
	}
	if s, _, _ := fetch(t, "GET", g.url("/x"), ""); s != 200 {
		t.Fatalf("second probe: status %d", s)
	}
	if v := g.metric(sample); v != 0 {
		t.Fatalf("%s = %v after half_open_requests successes, want 0 (closed)", sample, v)
	}
	logs := g.logs.String()
	for _, want := range []string{`"to":"open"`, `"to":"half-open"`, `"to":"closed"`} {
		if !strings.Contains(logs, "upstream breaker state changed") || !strings.Contains(logs, want) {
			t.Errorf("no breaker transition log line with %s:\n%s", want, logs)
		}
	}
}

// TestBreakerCountsResetsAndTimeouts: resets answer 502 and slow origins
// 504; both feed the breaker, which then answers 503.
func TestBreakerCountsResetsAndTimeouts(t *testing.T) {
	resetAddr, resets := rawOrigin(t, func(c net.Conn) {
		readRequestHead(c)
		c.(*net.TCPConn).SetLinger(0) // close with RST
	})
	slowAddr, slows := rawOrigin(t, func(c net.Conn) {
		readRequestHead(c)
		time.Sleep(time.Second)
	})
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  reset:
    targets: ["%s"]
    retries: {attempts: 1, on: [reset, timeout]}
    breaker: {consecutive_failures: 2, open_for: 10s}
  slow:
    targets: ["%s"]
    timeouts: {connect: 1s, response_header: 200ms}
    retries: {attempts: 0}
    breaker: {consecutive_failures: 2, open_for: 10s}
routes:
  - {name: reset, match: {path_prefix: /reset}, upstream: reset}
  - {name: slow, match: {path_prefix: /slow}, upstream: slow}
%s`, resetAddr, slowAddr, e2eClients))
	// The reset GET is retried on the same (only) target: two failures.
	if s, _, _ := fetch(t, "GET", g.url("/reset"), ""); s != 502 {
		t.Fatalf("reset: status %d, want 502", s)
	}
	if n := resets.Load(); n != 2 {
		t.Fatalf("reset origin saw %d connections, want 2 (one retry)", n)
	}
	if s, ra, _ := fetch(t, "GET", g.url("/reset"), ""); s != 503 || ra == "" {
		t.Fatalf("after two resets: status %d, Retry-After %q; want 503 from the open breaker", s, ra)
	}
	for i := 0; i < 2; i++ {
		if s, _, d := fetch(t, "GET", g.url("/slow"), ""); s != 504 || d > 900*time.Millisecond {
			t.Fatalf("slow %d: status %d after %v, want 504 after ~200ms", i, s, d)
		}
	}
	if s, _, d := fetch(t, "GET", g.url("/slow"), ""); s != 503 || d > 100*time.Millisecond {
		t.Fatalf("after two timeouts: status %d after %v, want a fast 503", s, d)
	}
	if n := slows.Load(); n != 2 {
		t.Fatalf("slow origin saw %d connections, want 2", n)
	}
	if v := g.metric(breakerSample("slow", slowAddr)); v != 2 {
		t.Fatalf("slow breaker state %v, want 2", v)
	}
}

// TestHealthCheckTakesTargetOutAndBack: a target failing its health checks
// leaves the rotation and comes back when they pass; with every target down
// the gateway answers 503 with Retry-After.
func TestHealthCheckTakesTargetOutAndBack(t *testing.T) {
	a := startSwitchable(t, 500, "a")
	b := startSwitchable(t, 500, "b")
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app:
    targets: ["%s", "%s"]
    health_check: {path: /healthz, interval: 100ms, timeout: 500ms, unhealthy_after: 2, healthy_after: 2}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
%s`, a.addr, b.addr, e2eClients))
	// New targets are in rotation after their first passing check.
	waitFor(t, func() bool { s, _, _ := fetch(t, "GET", g.url("/x"), ""); return s == 200 })
	// spread sends 20 requests and returns how many each origin served;
	// any answer but 200 counts as served by neither.
	spread := func() (int64, int64) {
		a0, b0 := a.served.Load(), b.served.Load()
		for i := 0; i < 20; i++ {
			fetch(t, "GET", g.url("/x"), "")
		}
		return a.served.Load() - a0, b.served.Load() - b0
	}
	waitFor(t, func() bool { na, nb := spread(); return na > 0 && nb > 0 })

	a.sick.Store(true)
	waitFor(t, func() bool { na, nb := spread(); return na == 0 && nb == 20 })
	if na, nb := spread(); na != 0 || nb != 20 {
		t.Fatalf("with a down: a %d, b %d", na, nb)
	}

	b.sick.Store(true)
	waitFor(t, func() bool { s, _, _ := fetch(t, "GET", g.url("/x"), ""); return s == 503 })
	if s, ra, d := fetch(t, "GET", g.url("/x"), ""); s != 503 || ra != "1" || d > 100*time.Millisecond {
		t.Fatalf("all down: status %d, Retry-After %q, %v", s, ra, d)
	}

	a.sick.Store(false)
	b.sick.Store(false)
	waitFor(t, func() bool { na, nb := spread(); return na > 0 && nb > 0 })
	if !strings.Contains(g.logs.String(), "upstream target marked unhealthy") {
		t.Error("no health transition log line")
	}
}

// TestRetriesOnlyWhenAllowed: a GET answered 502 (listed in retries.on) is
// retried on the other target; a POST with a body is not; a connect failure
// is retried for any method.
func TestRetriesOnlyWhenAllowed(t *testing.T) {
	bad := startSwitchable(t, 502, "bad")
	bad.failing.Store(true)
	good := startSwitchable(t, 500, "good")
	refused := testkit.FreeAddr(t)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  status:
    targets: ["%s", "%s"]
    retries: {attempts: 1, on: ["502", connect_failure]}
  connect:
    targets: ["%s", "%s"]
    retries: {attempts: 1, on: [connect_failure]}
routes:
  - {name: status, match: {path_prefix: /s}, upstream: status}
  - {name: connect, match: {path_prefix: /c}, upstream: connect}
%s`, bad.addr, good.addr, refused, good.addr, e2eClients))

	for i := 0; i < 10; i++ {
		if s, _, _ := fetch(t, "GET", g.url("/s"), ""); s != 200 {
			t.Fatalf("GET %d: status %d, want 200 after a retry on the good target", i, s)
		}
	}
	if b, gd := bad.served.Load(), good.served.Load(); b != 5 || gd != 10 {
		t.Fatalf("GETs: bad saw %d, good %d; want 5 and 10", b, gd)
	}

	bad.served.Store(0)
	good.served.Store(0)
	var got502 int
	for i := 0; i < 10; i++ {
		s, _, _ := fetch(t, "POST", g.url("/s"), "payload")
		if s == 502 {
			got502++
		}
	}
	if b, gd := bad.served.Load(), good.served.Load(); b+gd != 10 || got502 != int(b) || b == 0 {
		t.Fatalf("POSTs: bad %d, good %d, 502s %d; want no retry (every 502 relayed)", b, gd, got502)
	}

	good.served.Store(0)
	for i := 0; i < 10; i++ {
		if s, _, _ := fetch(t, "POST", g.url("/c"), "payload"); s != 200 {
			t.Fatalf("POST %d to a refusing target: status %d, want 200 after a retry", i, s)
		}
	}
	if n := good.served.Load(); n != 10 {
		t.Fatalf("good saw %d POSTs, want 10", n)
	}
}

// TestRetryBudgetBoundsRetries: with every target failing, retries stay
// within 20% of requests (plus the small floor) instead of doubling load.
func TestRetryBudgetBoundsRetries(t *testing.T) {
	a := startSwitchable(t, 503, "a")
	b := startSwitchable(t, 503, "b")
	a.failing.Store(true)
	b.failing.Store(true)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app:
    targets: ["%s", "%s"]
    retries: {attempts: 1, on: ["503"]}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
%s`, a.addr, b.addr, e2eClients))
	const n = 300
	deadline := time.Now().Add(8 * time.Second)
	sent := 0
	for ; sent < n && time.Now().Before(deadline); sent++ {
		if s, _, _ := fetch(t, "GET", g.url("/x"), ""); s != 503 {
			t.Fatalf("status %d, want the origins' 503", s)
		}
	}
	retries := a.served.Load() + b.served.Load() - int64(sent)
	limit := int64(float64(sent)*0.2) + 5 + 3 // ratio + floor + slack
	t.Logf("%d requests, %d retries (limit %d)", sent, retries, limit)
	if retries < 5 || retries > limit {
		t.Fatalf("%d retries for %d requests; want some, at most %d", retries, sent, limit)
	}
}

// TestBreakerAndHealthStateSurviveReload: after SIGHUP with the same
// upstream settings, an open breaker stays open (no request reaches its
// origin) and a target failing health checks stays out.
func TestBreakerAndHealthStateSurviveReload(t *testing.T) {
	o := startSwitchable(t, 500, "o")
	o.failing.Store(true)
	h := startSwitchable(t, 500, "h")
	h.sick.Store(true)
	cfg := func(extraRoute string) string {
		return fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app:
    targets: ["%s"]
    retries: {attempts: 0}
    breaker: {consecutive_failures: 2, open_for: 30s}
  checked:
    targets: ["%s"]
    health_check: {path: /healthz, interval: 100ms, timeout: 500ms, unhealthy_after: 1, healthy_after: 1}
routes:
  - {name: checked, match: {path_prefix: /h}, upstream: checked}
  - {name: all, match: {path_prefix: /}, upstream: app}
%s
%s`, o.addr, h.addr, extraRoute, e2eClients)
	}
	g := startGateway(t, cfg(""))
	for i := 0; i < 2; i++ {
		fetch(t, "GET", g.url("/x"), "")
	}
	if s, _, _ := fetch(t, "GET", g.url("/x"), ""); s != 503 {
		t.Fatalf("breaker not open before the reload: %d", s)
	}
	waitFor(t, func() bool { return h.probes.Load() >= 2 })
	if s, _, _ := fetch(t, "GET", g.url("/h"), ""); s != 503 {
		t.Fatalf("unhealthy target served before the reload: %d", s)
	}

	g.writeConfig(cfg(`  - {name: extra, match: {path_prefix: /extra}, upstream: app}`))
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return g.metric(`tollgate_config_reloads_total{result="ok"}`) == 1 })

	served := o.served.Load()
	for _, path := range []string{"/x", "/extra"} {
		if s, ra, _ := fetch(t, "GET", g.url(path), ""); s != 503 || ra == "" {
			t.Fatalf("%s after reload: status %d, Retry-After %q; want the breaker still open", path, s, ra)
		}
	}
	if o.served.Load() != served {
		t.Fatal("a request reached the origin of an open breaker after the reload")
	}
	if v := g.metric(breakerSample("app", o.addr)); v != 2 {
		t.Fatalf("breaker state %v after reload, want 2", v)
	}
	if s, _, _ := fetch(t, "GET", g.url("/h"), ""); s != 503 || h.served.Load() != 0 {
		t.Fatalf("unhealthy target after reload: status %d, served %d", s, h.served.Load())
	}
	h.sick.Store(false)
	waitFor(t, func() bool { s, _, _ := fetch(t, "GET", g.url("/h"), ""); return s == 200 })
}

// TestBreakersOpenOnTimeoutsOnEveryPath: an origin that reads the request
// and then answers too late times out each try (response_header: 300ms);
// three in a row open the breaker, whichever way the request was served:
// a GET on the event loop, a small POST body read whole, a large body
// spliced by a worker, a chunked upload streamed on the loop, and a GET
// metered through the Redis store. Each try lasts longer than a third of
// the breaker's interval, so the three always straddle an interval's end
// (they were dropped when counted by the interval they began in).
func TestBreakersOpenOnTimeoutsOnEveryPath(t *testing.T) {
	slowAddr, _ := rawOrigin(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	rs := startRedis(t)
	paths := []string{"get", "small", "large", "chunked", "metered"}
	var ups, routes strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&ups, `  %s:
    targets: ["%s"]
    timeouts: {connect: 500ms, response_header: 300ms}
    retries: {attempts: 0}
    breaker: {consecutive_failures: 3, min_requests: 20, failure_ratio: 0.5, interval: 500ms, open_for: 10s, failure_on: ["5xx", timeout, connect_failure]}
`, p, slowAddr)
		fmt.Fprintf(&routes, "  - {name: %s, match: {path_prefix: /%s}, upstream: %s, timeout: 5s}\n", p, p, p)
	}
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
%s
clients:
  default: {rate: 100000/s, burst: 100000}
limits:
%s
routes:
%s`, ups.String(), redisLimits(rs.addr, "allow"), routes.String()))
	bodies := map[string]func() io.Reader{
		"get":     func() io.Reader { return nil },
		"small":   func() io.Reader { return strings.NewReader(strings.Repeat("s", 1000)) },
		"large":   func() io.Reader { return strings.NewReader(strings.Repeat("l", 200_000)) },
		"chunked": func() io.Reader { return io.MultiReader(strings.NewReader(strings.Repeat("c", 5000))) },
		"metered": func() io.Reader { return nil },
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, p := range paths {
		for i := 0; i < 4; i++ {
			method := "POST"
			if body := bodies[p](); body == nil {
				method = "GET"
			}
			req, _ := http.NewRequest(method, g.url("/"+p), bodies[p]())
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %d: %v", p, i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want := 504
			if i == 3 {
				want = 503 // the breaker opened on the third timeout
			}
			if resp.StatusCode != want {
				t.Fatalf("%s request %d: status %d after %v, want %d", p, i, resp.StatusCode, time.Since(start), want)
			}
		}
		if v := g.metric(breakerSample(p, slowAddr)); v != 2 {
			t.Errorf("%s: breaker state %v, want open (2)", p, v)
		}
	}
	if n := strings.Count(g.logs.String(), `"to":"open"`); n != len(paths) {
		t.Errorf("%d breaker-open log lines, want %d", n, len(paths))
	}
}
