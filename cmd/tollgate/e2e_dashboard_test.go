package main

// The live dashboard in a real headless Chromium driven by chromedp: the
// binary with routes, quotas, a breaker and a health-checked upstream;
// the page loads (through the "/" redirect), shows partner-x's quota
// falling as the test spends it, the breaker opening when the test makes
// the upstream fail, and the last reload's result and errors. A
// screenshot is checked to be a real PNG and, when TOLLGATE_DASHBOARD_PNG
// names a file, written there (docs/dashboard.png is made this way).

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tollgate/internal/testkit"
)

// chromiumPath finds a Chromium to drive. Missing, the test fails under
// CI (the CI environment variable set: .ci/run installs chromium) and is
// skipped elsewhere, saying how to install it.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found in PATH; .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("chromium not found in PATH: apt-get install -y chromium to run the dashboard test (under CI it fails instead)")
	return ""
}

// browser is one headless Chromium tab, closed (the process killed by
// chromedp, which started it) when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox, chromedp.WindowSize(1360, 1000),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return ctx
}

// pageText returns the text of the first element matching sel ("" when
// there is none yet).
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : "" })()`, sel)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// waitPage polls the page until the text at sel satisfies ok.
func waitPage(t *testing.T, ctx context.Context, what, sel string, ok func(string) bool) string {
	t.Helper()
	var last string
	if !testkit.Poll(15*time.Second, 50*time.Millisecond, func() bool {
		last = pageText(t, ctx, sel)
		return ok(last)
	}) {
		t.Fatalf("the page never showed %s: %s reads %q", what, sel, last)
	}
	return last
}

// is matches an exact text.
func is(want string) func(string) bool { return func(s string) bool { return s == want } }

// dashboardConfig: partner-x (20 tokens at 1/m: it only falls) and
// mobile-app on "orders" (breaker after 3 failures), "catalog" with
// health checks, and a public route on the default quota.
func dashboardConfig(orders, catalog string) string {
	return fmt.Sprintf(`
server:
  listen: "LISTEN"
  read_header_timeout: 2s
  shutdown_timeout: 2s
admin:
  listen: "ADMIN"
auth:
  api_keys:
    keys:
      - {sha256: "%s", client_id: partner-x}
      - {sha256: "%s", client_id: mobile-app}
upstreams:
  orders:
    targets: ["%s"]
    timeouts: {connect: 500ms, response_header: 2s}
    breaker: {consecutive_failures: 3, open_for: 60s}
  catalog:
    targets: ["%s"]
    health_check: {path: /healthz, interval: 1s}
clients:
  default: {rate: 1/s, burst: 5}
  partner-x: {rate: 1/m, burst: 20, routes: {catalog: {rate: 1/m, burst: 5}}}
  mobile-app: {rate: 200/s, burst: 400, concurrency: 50}
routes:
  - {name: orders, match: {path_prefix: /orders}, upstream: orders, auth: [api_key]}
  - {name: catalog, match: {path_prefix: /catalog}, upstream: catalog, auth: [api_key]}
  - {name: public, match: {path_prefix: /public}, upstream: catalog}
`, keyHash("partner-key"), keyHash("mobile-key"), orders, catalog)
}

// TestDashboardInChromium drives the dashboard in headless Chromium.
func TestDashboardInChromium(t *testing.T) {
	ctx := browser(t)
	var failing atomic.Bool
	orders := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "orders database unreachable", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	catalog := okOrigin(t)
	cfg := dashboardConfig(orders.addr, catalog.addr)
	g := startGateway(t, cfg)
	c := newClient()
	partner := func(path string) reply { return send(t, c, g.url(path), "X-API-Key: partner-key") }

	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+g.admin+"/?poll=200")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}
	if u := pageText(t, ctx, "h1"); u != "tollgate" {
		t.Fatalf("the page did not load: h1 %q", u)
	}
	waitPage(t, ctx, "the 200 ms poll asked for in the query", "#live", func(s string) bool { return strings.Contains(s, "every 200 ms") })
	remaining := `tr[data-client="partner-x"] .remaining`
	waitPage(t, ctx, "partner-x's full quota", remaining, is("20"))
	for range 5 {
		if r := partner("/orders/1"); r.status != 200 {
			t.Fatalf("partner-x: %d", r.status)
		}
	}
	waitPage(t, ctx, "partner-x's quota after 5 requests", remaining, is("15"))
	for range 5 {
		partner("/orders/2")
	}
	waitPage(t, ctx, "partner-x's quota after 10 requests", remaining, is("10"))
	waitPage(t, ctx, "partner-x's decisions per second", `tr[data-client="partner-x"] .rate`, func(s string) bool {
		v, err := strconv.ParseFloat(s, 64)
		return err == nil && v > 0
	})

	target := fmt.Sprintf(`tr[data-target="orders/%s"]`, orders.addr)
	waitPage(t, ctx, "the closed breaker", target+" .breaker", is("closed"))
	waitPage(t, ctx, "catalog's health", fmt.Sprintf(`tr[data-target="catalog/%s"] .health`, catalog.addr), is("healthy"))
	failing.Store(true)
	for i := 0; i < 3; i++ {
		if r := send(t, c, g.url("/orders/3"), "X-API-Key: mobile-key"); r.status != 500 {
			t.Fatalf("failing upstream answered %d, want its 500 relayed", r.status)
		}
	}
	if r := send(t, c, g.url("/orders/4"), "X-API-Key: mobile-key"); r.status != 503 {
		t.Errorf("with the breaker open: %d, want 503", r.status)
	}
	waitPage(t, ctx, "the breaker opening", target+" .breaker", is("open"))

	// A reload that fails shows its errors; the next good one clears them.
	g.writeConfig(strings.Replace(cfg, "open_for: 60s", "open_for: soon", 1))
	if code := adminDo(t, g, "POST", "/reload", "", nil); code != 400 {
		t.Fatalf("broken reload: %d, want 400", code)
	}
	waitPage(t, ctx, "the failed reload's error", "#reload-errors li", func(s string) bool {
		return strings.Contains(s, "upstreams.orders.breaker.open_for: invalid duration")
	})
	g.writeConfig(cfg)
	if code := adminDo(t, g, "POST", "/reload", "", nil); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	waitPage(t, ctx, "the good reload", "#reload", func(s string) bool { return strings.Contains(s, ": ok, version") })

	// Anonymous callers over the default quota: 20 requests within a few
	// seconds on a quota of 5 and 1/s are partly refused, however slow the
	// machine.
	for range 20 {
		fire(c, g.url("/public/x"), "")
	}
	waitPage(t, ctx, "the default quota's 429s", `tr[data-client="default"] .denied`, func(s string) bool { return s != "" && s != "0" })
	// Steady traffic while the page is read and pictured, mobile-app the
	// heaviest.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		lc := newClient()
		for i := 0; i < 3000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fire(lc, g.url("/catalog/item"), "mobile-key")
			fire(lc, g.url("/catalog/item"), "mobile-key")
			fire(lc, g.url("/catalog/item"), "mobile-key")
			fire(lc, g.url("/public/y"), "")
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	waitPage(t, ctx, "mobile-app first", `#clients tbody tr:first-child .name`, is("mobile-app"))
	screenshot(t, ctx)
}

// fire sends one GET (with an API key unless "") for background load; its
// answer and errors do not matter.
func fire(c *http.Client, url, key string) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if resp, err := c.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// screenshot takes a PNG of the whole page, checks it decodes to a page
// sized image, and writes it to $TOLLGATE_DASHBOARD_PNG when set.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 400 {
		t.Errorf("screenshot is %v", b)
	}
	if dst := os.Getenv("TOLLGATE_DASHBOARD_PNG"); dst != "" {
		if err := os.WriteFile(dst, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s (%d bytes)", dst, len(buf))
	}
}
