package main

// End-to-end tests of issue 5 (per-client quotas), from outside the
// process: the real binary on loopback, real origins, a real redis-server.
// Helpers for Redis live in e2e_redis_test.go.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// keyHash returns the api_keys sha256 entry of an API key.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// limitsConfig is a gateway with two routes to the origin at addr:
// "search" (/search) and "all" (/), both taking API keys when sent
// (anonymous callers pass, keyed by IP). clients and limits are the YAML
// bodies of those blocks (indented by two spaces); extra is appended.
// Keys "partner-key" and "other-key" authenticate partner-x and other-co.
func limitsConfig(addr, clients, limits, extra string) string {
	return fmt.Sprintf(`
server:
  listen: "LISTEN"
  read_header_timeout: 2s
  shutdown_timeout: 2s
  trusted_proxies: ["127.0.0.1/32"]
admin:
  listen: "ADMIN"
auth:
  api_keys:
    keys:
      - {sha256: "%s", client_id: partner-x}
      - {sha256: "%s", client_id: other-co}
upstreams:
  app:
    targets: ["%s"]
    timeouts: {connect: 500ms, response_header: 5s}
clients:
%s
limits:
%s
routes:
  - {name: search, match: {path_prefix: /search}, upstream: app, auth: [api_key]}
  - {name: free, match: {path_prefix: /free}, upstream: app, limit: false}
  - {name: keyed, match: {path_prefix: /keyed}, upstream: app, auth: [api_key]}
  - {name: plain, match: {path_prefix: /plain}, upstream: app}
  - {name: all, match: {path_prefix: /}, upstream: app}
%s`, keyHash("partner-key"), keyHash("other-key"), addr, clients, limits, extra)
}

// okOrigin answers 200 "ok".
func okOrigin(t *testing.T) *origin {
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

// reply is one response, body read.
type reply struct {
	status int
	header http.Header
	body   string
}

// newClient returns an HTTP client with its own keep-alive pool.
func newClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
}

// send does one GET with the given headers ("Name: value" pairs).
func send(t testing.TB, c *http.Client, url string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// tally counts the answers of a load loop.
type tally struct{ ok, limited, other atomic.Int64 }

func (t *tally) String() string {
	return fmt.Sprintf("200=%d 429=%d other=%d", t.ok.Load(), t.limited.Load(), t.other.Load())
}

// hammer runs workers goroutines, each sending GETs to url with headers
// for at most dur and at most maxEach requests, sleeping pace between
// requests (so parallel tests keep some CPU). It returns the tally and
// the time from the first request to the last answer.
func hammer(t testing.TB, workers int, dur, pace time.Duration, maxEach int, url string, headers ...string) (*tally, time.Duration) {
	t.Helper()
	var tl tally
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient()
			defer c.CloseIdleConnections()
			for i := 0; i < maxEach && time.Now().Before(deadline); i++ {
				req, _ := http.NewRequest("GET", url, nil)
				for _, h := range headers {
					k, v, _ := strings.Cut(h, ": ")
					req.Header.Set(k, v)
				}
				resp, err := c.Do(req)
				if err != nil {
					tl.other.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					tl.ok.Add(1)
				case 429:
					tl.limited.Add(1)
				default:
					tl.other.Add(1)
				}
				if pace > 0 {
					time.Sleep(pace)
				}
			}
		}()
	}
	wg.Wait()
	return &tl, time.Since(start)
}

// drain sends requests until the first 429 (at most max) and returns how
// many passed.
func drain(t testing.TB, c *http.Client, max int, url string, headers ...string) int {
	t.Helper()
	for i := 0; i < max; i++ {
		r := send(t, c, url, headers...)
		switch r.status {
		case 200:
		case 429:
			return i
		default:
			t.Fatalf("draining: status %d: %s", r.status, r.body)
		}
	}
	t.Fatalf("no 429 after %d requests", max)
	return max
}

// errorBody is the gateway's own error body.
type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// check429 checks a refusal: status, JSON body with rate_limited, and
// Retry-After; it returns the decoded body.
func check429(t testing.TB, r reply, retryAfter string) errorBody {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("status %d, want 429 (%s)", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("429 Content-Type %q", ct)
	}
	var eb errorBody
	if err := json.Unmarshal([]byte(r.body), &eb); err != nil {
		t.Fatalf("429 body %q: %v", r.body, err)
	}
	if eb.Error != "rate_limited" || eb.Message == "" || eb.RequestID == "" {
		t.Errorf("429 body %q", r.body)
	}
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	return eb
}

// within fails unless got is in [want*(1-lo), want*(1+hi)].
func within(t testing.TB, what string, got, want, lo, hi float64) {
	t.Helper()
	t.Logf("%s: %.0f (expected %.1f, %+.1f%%)", what, got, want, 100*(got/want-1))
	if got < want*(1-lo) || got > want*(1+hi) {
		t.Errorf("%s: %.0f outside [%.1f, %.1f]", what, got, want*(1-lo), want*(1+hi))
	}
}

// decisions reads tollgate_ratelimit_decisions_total for client and
// decision (0 when absent).
func decisions(g *gateway, client, decision string) float64 {
	v := g.metric(fmt.Sprintf(`tollgate_ratelimit_decisions_total{client=%q,decision=%q}`, client, decision))
	return math.Max(v, 0)
}

// TestLimitBurstThen429Headers: a burst passes with exact ietf headers,
// the next request is refused with 429, Retry-After and the JSON body;
// legacy sends X-RateLimit-*, none sends no rate-limit header; a route
// with limit: false is never metered.
func TestLimitBurstThen429Headers(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	clients := "  default: {rate: 1/s, burst: 5}"
	for _, mode := range []string{"ietf", "legacy", "none"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, limitsConfig(o.addr, clients, "  headers: "+mode, ""))
			c := newClient()
			for i := 0; i < 5; i++ {
				r := send(t, c, g.url("/x"))
				if r.status != 200 {
					t.Fatalf("request %d: status %d", i+1, r.status)
				}
				checkLimitHeaders(t, mode, r, 4-i)
			}
			r := send(t, c, g.url("/x"))
			eb := check429(t, r, "1")
			if eb.Message != "rate limit exceeded" {
				t.Errorf("message %q", eb.Message)
			}
			checkLimitHeaders(t, mode, r, 0)
			// Not metered: no headers, never refused.
			for i := 0; i < 3; i++ {
				r := send(t, c, g.url("/free/y"))
				if r.status != 200 || r.header.Get("RateLimit") != "" || r.header.Get("X-RateLimit-Limit") != "" {
					t.Fatalf("limit: false route: status %d, headers %v", r.status, r.header)
				}
			}
			if got := decisions(g, "default", "allow"); got != 5 {
				t.Errorf("allow decisions %v, want 5", got)
			}
			if got := decisions(g, "default", "deny"); got != 1 {
				t.Errorf("deny decisions %v, want 1", got)
			}
		})
	}
}

// checkLimitHeaders checks the rate-limit headers of the default policy
// (1/s, burst 5) with remaining tokens left.
func checkLimitHeaders(t *testing.T, mode string, r reply, remaining int) {
	t.Helper()
	h := r.header
	want := map[string]string{}
	switch mode {
	case "ietf":
		want["RateLimit-Policy"] = `"default";q=5;w=5`
		want["RateLimit"] = fmt.Sprintf(`"default";r=%d;t=1`, remaining)
		want["X-RateLimit-Limit"] = ""
	case "legacy":
		want["X-RateLimit-Limit"] = "5"
		want["X-RateLimit-Remaining"] = fmt.Sprint(remaining)
		want["X-RateLimit-Reset"] = "1"
		want["RateLimit"] = ""
		want["RateLimit-Policy"] = ""
	case "none":
		for _, k := range []string{"RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			want[k] = ""
		}
	}
	for k, v := range want {
		if vals := h.Values(k); len(vals) > 1 || h.Get(k) != v {
			t.Errorf("status %d: %s = %q, want %q", r.status, k, vals, v)
		}
	}
}

// TestLimitRefillRate: once the burst is spent, admitted requests over
// 2.5 s follow the refill rate within ±10%.
func TestLimitRefillRate(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	const rate = 100.0
	g := startGateway(t, limitsConfig(o.addr, "  default: {rate: 100/s, burst: 20}", "  headers: ietf", ""))
	c := newClient()
	if n := drain(t, c, 1000, g.url("/x")); n < 20 {
		t.Fatalf("burst: %d passed, want at least 20", n)
	}
	tl, elapsed := hammer(t, 2, 2500*time.Millisecond, time.Millisecond, 5000, g.url("/x"))
	if tl.other.Load() != 0 || tl.limited.Load() == 0 {
		t.Fatalf("load: %s", tl)
	}
	within(t, "admitted over "+elapsed.Round(time.Millisecond).String(), float64(tl.ok.Load()), rate*elapsed.Seconds(), 0.10, 0.10)
}

// TestLimitPerRouteOverride: a per-route override has its own bucket and
// policy name ("<client>/<route>"), for a named client and for the
// default; the base quota is not spent by the override.
func TestLimitPerRouteOverride(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	clients := `  default: {rate: 1/s, burst: 4, routes: {all: {rate: 1/s, burst: 3}}}
  partner-x: {rate: 1/s, burst: 5, routes: {search: {rate: 1/s, burst: 2}}}`
	g := startGateway(t, limitsConfig(o.addr, clients, "  headers: ietf", ""))
	c := newClient()
	cases := []struct {
		who                  []string
		policy, over         string // base policy, override policy
		overPath, basePath   string
		burst, overrideBurst int
	}{
		{[]string{"X-API-Key: partner-key"}, "partner-x", "partner-x/search", "/search?q=", "/keyed/1", 5, 2},
		{nil, "default", "default/all", "/x?q=", "/plain/1", 4, 3},
	}
	for _, cs := range cases {
		for i := 0; i < cs.overrideBurst; i++ {
			r := send(t, c, g.url(cs.overPath+fmt.Sprint(i)), cs.who...)
			if r.status != 200 {
				t.Fatalf("%s request %d: %d", cs.over, i+1, r.status)
			}
			if got, want := r.header.Get("RateLimit-Policy"), fmt.Sprintf(`%q;q=%d;w=%d`, cs.over, cs.overrideBurst, cs.overrideBurst); got != want {
				t.Errorf("RateLimit-Policy %q, want %q", got, want)
			}
			if got, want := r.header.Get("RateLimit"), fmt.Sprintf(`%q;r=%d;t=1`, cs.over, cs.overrideBurst-1-i); got != want {
				t.Errorf("RateLimit %q, want %q", got, want)
			}
		}
		r := send(t, c, g.url(cs.overPath+"last"), cs.who...)
		check429(t, r, "1")
		if got, want := r.header.Get("RateLimit"), fmt.Sprintf(`%q;r=0;t=1`, cs.over); got != want {
			t.Errorf("429 RateLimit %q, want %q", got, want)
		}
		// The base bucket is untouched by the override.
		r = send(t, c, g.url(cs.basePath), cs.who...)
		if r.status != 200 {
			t.Fatalf("%s base route: %d", cs.policy, r.status)
		}
		if got, want := r.header.Get("RateLimit-Policy"), fmt.Sprintf(`%q;q=%d;w=%d`, cs.policy, cs.burst, cs.burst); got != want {
			t.Errorf("base RateLimit-Policy %q, want %q", got, want)
		}
		if got, want := r.header.Get("RateLimit"), fmt.Sprintf(`%q;r=%d;t=1`, cs.policy, cs.burst-1); got != want {
			t.Errorf("base RateLimit %q, want %q", got, want)
		}
	}
}

// TestLimitDefaultPerAnonymousIP: anonymous callers get one default
// bucket each, keyed by the client IP found through trusted proxies; an
// X-Forwarded-For from an untrusted peer is not believed.
func TestLimitDefaultPerAnonymousIP(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	clients := "  default: {rate: 1/s, burst: 3}"
	g := startGateway(t, limitsConfig(o.addr, clients, "  headers: ietf", ""))
	c := newClient()
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "2001:db8::7"} {
		xff := "X-Forwarded-For: 192.0.2.99, " + ip // the right-most untrusted address counts
		if n := drain(t, c, 10, g.url("/x"), xff); n != 3 {
			t.Errorf("%s: %d admitted before 429, want 3", ip, n)
		}
	}
	// IPv4-mapped IPv6 is the same caller as its IPv4 address.
	check429(t, send(t, c, g.url("/x"), "X-Forwarded-For: ::ffff:10.0.0.1"), "1")
	if got := decisions(g, "default", "allow"); got != 9 {
		t.Errorf("allow decisions %v, want 9", got)
	}

	// Without trusted_proxies the header is not believed: every caller is
	// the loopback peer.
	cfg := strings.Replace(limitsConfig(o.addr, clients, "  headers: ietf", ""), `trusted_proxies: ["127.0.0.1/32"]`, `trusted_proxies: []`, 1)
	g2 := startGateway(t, cfg)
	total := 0
	for _, ip := range []string{"10.0.0.1", "10.0.0.2"} {
		total += drain(t, c, 10, g2.url("/x"), "X-Forwarded-For: "+ip)
	}
	if total != 3 {
		t.Errorf("untrusted X-Forwarded-For: %d admitted across two forged IPs, want 3", total)
	}
}

// TestLimitAuthenticatedClientQuota: an API key's client id gets its
// named quota (policy and metric label by name); an authenticated but
// unlisted client id gets its own default bucket, not shared with the
// anonymous caller from the same IP.
func TestLimitAuthenticatedClientQuota(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	clients := `  default: {rate: 1/s, burst: 2}
  partner-x: {rate: 1/s, burst: 4}`
	g := startGateway(t, limitsConfig(o.addr, clients, "  headers: ietf", ""))
	c := newClient()
	for i := 0; i < 4; i++ {
		r := send(t, c, g.url("/keyed/a"), "X-API-Key: partner-key")
		if r.status != 200 || r.header.Get("RateLimit-Policy") != `"partner-x";q=4;w=4` {
			t.Fatalf("partner-x request %d: %d %q", i+1, r.status, r.header.Get("RateLimit-Policy"))
		}
	}
	check429(t, send(t, c, g.url("/keyed/a"), "X-API-Key: partner-key"), "1")
	if n := drain(t, c, 10, g.url("/keyed/a"), "X-API-Key: other-key"); n != 2 {
		t.Errorf("other-co (unlisted): %d admitted, want 2 (default burst)", n)
	}
	if n := drain(t, c, 10, g.url("/anon")); n != 2 {
		t.Errorf("anonymous: %d admitted, want 2 (own default bucket)", n)
	}
	for _, m := range []struct {
		client, decision string
		want             float64
	}{{"partner-x", "allow", 4}, {"partner-x", "deny", 1}, {"default", "allow", 4}, {"default", "deny", 2}} {
		if got := decisions(g, m.client, m.decision); got != m.want {
			t.Errorf("decisions{client=%q,decision=%q} = %v, want %v", m.client, m.decision, got, m.want)
		}
	}
	// A bad key is refused by auth, not metered.
	if r := send(t, c, g.url("/keyed/a"), "X-API-Key: wrong"); r.status != 401 {
		t.Errorf("bad key: %d", r.status)
	}
}

// TestLimitConcurrency: with a slow origin, N+k parallel requests from a
// client limited to N in flight give exactly k immediate 429s; slots come
// back when requests end. Named client (per client) and default (per IP).
func TestLimitConcurrency(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	release := make(chan struct{})
	var inflight atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		mu.Lock()
		ch := release
		mu.Unlock()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "slow")
	})
	clients := `  default: {rate: 1000/s, burst: 1000, concurrency: 2}
  partner-x: {rate: 1000/s, burst: 1000, concurrency: 3}`
	g := startGateway(t, limitsConfig(o.addr, clients, "  headers: ietf", ""))
	cases := []struct {
		name, path string
		n, k       int
		headers    []string
	}{
		{"partner-x", "/keyed/c", 3, 2, []string{"X-API-Key: partner-key"}},
		{"default", "/c", 2, 3, []string{"X-Forwarded-For: 10.9.9.9"}},
	}
	for _, cs := range cases {
		var ok, limited, other atomic.Int64
		var slowest429 atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < cs.n+cs.k; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				r := send(t, newClient(), g.url(cs.path), cs.headers...)
				switch r.status {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
					for d := int64(time.Since(start)); ; {
						cur := slowest429.Load()
						if d <= cur || slowest429.CompareAndSwap(cur, d) {
							break
						}
					}
					if !strings.Contains(r.body, "too many concurrent requests") || r.header.Get("Retry-After") != "1" {
						t.Errorf("concurrency 429: %q Retry-After %q", r.body, r.header.Get("Retry-After"))
					}
				default:
					other.Add(1)
				}
			}()
		}
		waitFor(t, func() bool {
			return limited.Load() == int64(cs.k) && inflight.Load() == int64(cs.n)
		})
		time.Sleep(100 * time.Millisecond) // nothing more gets through or refused
		if limited.Load() != int64(cs.k) || inflight.Load() != int64(cs.n) {
			t.Errorf("%s: %d refused, %d at the origin", cs.name, limited.Load(), inflight.Load())
		}
		mu.Lock()
		close(release)
		release = make(chan struct{})
		mu.Unlock()
		wg.Wait()
		if ok.Load() != int64(cs.n) || limited.Load() != int64(cs.k) || other.Load() != 0 {
			t.Errorf("%s: %d ok, %d limited, %d other; want %d ok, %d limited", cs.name, ok.Load(), limited.Load(), other.Load(), cs.n, cs.k)
		}
		if d := time.Duration(slowest429.Load()); d > time.Second {
			t.Errorf("%s: a concurrency 429 took %v (queued, not immediate)", cs.name, d)
		}
		// The slots are back: N more run at once.
		go func() {
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			close(release)
			release = make(chan struct{})
			mu.Unlock()
		}()
		var again sync.WaitGroup
		var againOK atomic.Int64
		for i := 0; i < cs.n; i++ {
			again.Add(1)
			go func() {
				defer again.Done()
				if send(t, newClient(), g.url(cs.path), cs.headers...).status == 200 {
					againOK.Add(1)
				}
			}()
		}
		again.Wait()
		if againOK.Load() != int64(cs.n) {
			t.Errorf("%s: after release only %d of %d passed", cs.name, againOK.Load(), cs.n)
		}
	}
}

// TestLimitShadowMode: a shadow client is never refused; the would-be
// refusals are counted as shadow_deny and the headers are sent.
func TestLimitShadowMode(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	clients := `  default: {rate: 1/s, burst: 2}
  partner-x: {rate: 1/s, burst: 2, mode: shadow}`
	g := startGateway(t, limitsConfig(o.addr, clients, "  headers: ietf", ""))
	c := newClient()
	for i := 0; i < 6; i++ {
		r := send(t, c, g.url("/keyed/s"), "X-API-Key: partner-key")
		if r.status != 200 {
			t.Fatalf("shadow request %d: %d", i+1, r.status)
		}
		want := fmt.Sprintf(`"partner-x";r=%d;t=1`, max(0, 1-i))
		if got := r.header.Get("RateLimit"); got != want {
			t.Errorf("request %d: RateLimit %q, want %q", i+1, got, want)
		}
		if r.header.Get("RateLimit-Policy") != `"partner-x";q=2;w=2` {
			t.Errorf("request %d: RateLimit-Policy %q", i+1, r.header.Get("RateLimit-Policy"))
		}
	}
	if got := decisions(g, "partner-x", "shadow_deny"); got != 4 {
		t.Errorf("shadow_deny %v, want 4", got)
	}
	if got := decisions(g, "partner-x", "allow"); got != 2 {
		t.Errorf("allow %v, want 2", got)
	}
	if got := decisions(g, "partner-x", "deny"); got != 0 {
		t.Errorf("deny %v, want 0", got)
	}
}

// reloadOK sends SIGHUP after writing cfg and waits for the reload count.
func reloadOK(t *testing.T, g *gateway, cfg string, n float64) {
	t.Helper()
	g.writeConfig(cfg)
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return g.metric(`tollgate_config_reloads_total{result="ok"}`) >= n })
}

// TestLimitReloadKeepsState: a reload with an unchanged quota keeps the
// remaining tokens; a changed burst keeps the spent fraction. For a named
// client and for an anonymous caller. Refill is negligible (10/h).
func TestLimitReloadKeepsState(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	quota := func(n int) string {
		return fmt.Sprintf("  default: {rate: %d/h, burst: %d}\n  partner-x: {rate: %d/h, burst: %d}", n, n, n, n)
	}
	cfg := func(n int, extra string) string {
		return limitsConfig(o.addr, quota(n), "  headers: ietf", extra)
	}
	g := startGateway(t, cfg(10, ""))
	c := newClient()
	callers := []struct {
		name, path string
		headers    []string
	}{
		{"partner-x", "/keyed/r", []string{"X-API-Key: partner-key"}},
		{"default", "/r", []string{"X-Forwarded-For: 10.7.7.7"}},
	}
	remaining := func(name, path string, headers []string) string {
		r := send(t, c, g.url(path), headers...)
		if r.status != 200 {
			t.Fatalf("%s: status %d", name, r.status)
		}
		return r.header.Get("RateLimit")
	}
	for _, cl := range callers {
		for i := 0; i < 6; i++ {
			remaining(cl.name, cl.path, cl.headers)
		}
	}
	// Unchanged quota, another route added: 4 left, this request takes one.
	reloadOK(t, g, cfg(10, "  - {name: extra, match: {path_prefix: /extra}, upstream: app}\n"), 1)
	for _, cl := range callers {
		if got, want := remaining(cl.name, cl.path, cl.headers), fmt.Sprintf(`%q;r=3;t=360`, cl.name); got != want {
			t.Errorf("%s after an unchanged reload: RateLimit %q, want %q", cl.name, got, want)
		}
	}
	// 3 of 10 left; burst 20 keeps the fraction: 6 of 20, minus this request.
	reloadOK(t, g, cfg(20, ""), 2)
	for _, cl := range callers {
		if got, want := remaining(cl.name, cl.path, cl.headers), fmt.Sprintf(`%q;r=5;t=180`, cl.name); got != want {
			t.Errorf("%s after burst 10→20: RateLimit %q, want %q", cl.name, got, want)
		}
	}
}
