package upstream

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// healthServer is a loopback HTTP server whose /healthz fails on command.
type healthServer struct {
	srv     *httptest.Server
	addr    string
	failing atomic.Bool
	probes  atomic.Int64
}

func newHealthServer(t testing.TB) *healthServer {
	t.Helper()
	h := &healthServer{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		h.probes.Add(1)
		if h.failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	h.addr = strings.TrimPrefix(h.srv.URL, "http://")
	t.Cleanup(h.srv.Close)
	return h
}

// fastHealth probes every 20 ms; down after 2 failures, up after 2 passes.
func fastHealth() *conf.HealthCheck {
	return &conf.HealthCheck{Path: "/healthz", Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond,
		UnhealthyAfter: 2, HealthyAfter: 2}
}

func TestHealthCheckMarksDownAndUp(t *testing.T) {
	hs := newHealthServer(t)
	logs := &testkit.LogBuffer{}
	reg := testRegistry(t, registryOptions{log: logs.Logger()})
	_, u := guarded(t, reg, nil, fastHealth(), hs.addr)
	tg := u.Targets()[0]
	testkit.Eventually(t, "first check brings the new target up", tg.Healthy)

	hs.failing.Store(true)
	testkit.Eventually(t, "target marked down", func() bool { return !tg.Healthy() })
	if _, err := u.Pick(0, nil); !errors.Is(err, ErrAllUnavailable) {
		t.Fatalf("pick with the only target down: %v", err)
	}
	if d := u.RetryAfter(); d != time.Second {
		t.Fatalf("RetryAfter %v, want the 1 s floor", d)
	}
	n := hs.probes.Load()
	hs.failing.Store(false)
	testkit.Eventually(t, "target back up", tg.Healthy)
	if hs.probes.Load()-n < 2 {
		t.Fatalf("came back after %d passing probes, want healthy_after = 2", hs.probes.Load()-n)
	}
	if _, err := u.Pick(0, nil); err != nil {
		t.Fatalf("pick after recovery: %v", err)
	}
	for _, want := range []string{"upstream target marked unhealthy", "upstream target marked healthy"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q log line", want)
		}
	}
}

func TestNewTargetOutOfRotationUntilFirstCheck(t *testing.T) {
	hs := newHealthServer(t)
	hs.failing.Store(true)
	reg := testRegistry(t, registryOptions{})
	h := fastHealth()
	h.Interval = time.Hour // only the immediate first check runs
	_, u := guarded(t, reg, nil, h, hs.addr)
	tg := u.Targets()[0]
	if tg.Healthy() {
		t.Fatal("a new target with a health check starts in rotation")
	}
	testkit.Eventually(t, "first probe", func() bool { return hs.probes.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	if tg.Healthy() {
		t.Fatal("a failed first check put the target in rotation")
	}

	// A passing first check brings a new target up at once, without
	// waiting for healthy_after passes.
	ok := newHealthServer(t)
	_, u2 := guarded(t, reg, nil, h, hs.addr, ok.addr)
	testkit.Eventually(t, "the new target's first check", u2.Targets()[1].Healthy)
	if got, err := u2.Pick(0, nil); err != nil || got != u2.Targets()[1] {
		t.Fatalf("pick: %v, %v; want the new healthy target", got, err)
	}
}

func TestHealthStateCarriesOverReload(t *testing.T) {
	hs := newHealthServer(t)
	reg := testRegistry(t, registryOptions{})
	s1, u1 := guarded(t, reg, nil, fastHealth(), hs.addr)
	tg := u1.Targets()[0]
	testkit.Eventually(t, "up", tg.Healthy)
	hs.failing.Store(true)
	testkit.Eventually(t, "down", func() bool { return !tg.Healthy() })
	checker := tg.checker

	// Same health settings: same checker, still down.
	s2, u2 := guarded(t, reg, nil, fastHealth(), hs.addr)
	s1.Release()
	if u2.Targets()[0] != tg || tg.Healthy() {
		t.Fatal("reload lost the target or its health state")
	}
	reg.mu.Lock()
	same := tg.checker == checker
	reg.mu.Unlock()
	if !same {
		t.Fatal("unchanged health settings restarted the checker")
	}

	// Changed settings: a new checker, the state is kept.
	h := fastHealth()
	h.HealthyAfter = 1
	s3, _ := guarded(t, reg, nil, h, hs.addr)
	s2.Release()
	if tg.Healthy() {
		t.Fatal("changed health settings put a down target back in rotation")
	}
	select {
	case <-checker.done:
	default:
		t.Fatal("the replaced checker is still running")
	}
	hs.failing.Store(false)
	testkit.Eventually(t, "up under the new settings", tg.Healthy)

	// Health check removed: checker stopped, target in rotation.
	_, u4 := guarded(t, reg, nil, nil, hs.addr)
	s3.Release()
	if !u4.Targets()[0].Healthy() || u4.Targets()[0].checker != nil {
		t.Fatal("removing health_check left the target checked")
	}
}

func TestHealthCheckerStopsWhenTargetRetired(t *testing.T) {
	hs := newHealthServer(t)
	reg := testRegistry(t, registryOptions{})
	c := poolConf(defaultPool, hs.addr)
	c.HealthCheck = fastHealth()
	s, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	checker := s.Get("u").Targets()[0].checker
	testkit.Eventually(t, "a few probes", func() bool { return hs.probes.Load() >= 3 })
	s.Release() // waits for the goroutine
	select {
	case <-checker.done:
	default:
		t.Fatal("Release returned with the checker still running")
	}
}

func TestHealthCheckerStopsOnClose(t *testing.T) {
	hs := newHealthServer(t)
	reg := newRegistry(nil, registryOptions{})
	c := poolConf(defaultPool, hs.addr)
	c.HealthCheck = fastHealth()
	s, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	checker := s.Get("u").Targets()[0].checker
	reg.Close()
	select {
	case <-checker.done:
	default:
		t.Fatal("Close returned with a checker running")
	}
	s.Release() // after Close: nothing restarts
	if s.Get("u").Targets()[0].checker != nil {
		t.Fatal("a checker was started after Close")
	}
}

func TestHealthCheckTimeoutAndRefusal(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	h := &healthChecker{settings: newHealthSettings(&conf.HealthCheck{Timeout: 50 * time.Millisecond}), client: newHealthClient()}
	h.url = hang.URL + "/healthz"
	start := time.Now()
	if err := h.probe(t.Context()); err == nil || time.Since(start) > time.Second {
		t.Fatalf("probe of a hanging server: %v after %v", err, time.Since(start))
	}
	h.url = "http://" + testkit.FreeAddr(t) + "/healthz"
	if err := h.probe(t.Context()); err == nil {
		t.Fatal("probe of a closed port passed")
	}
}

func TestHealthJitter(t *testing.T) {
	hs := newHealthServer(t)
	reg := testRegistry(t, registryOptions{})
	h := fastHealth()
	h.Interval = time.Second
	_, u := guarded(t, reg, nil, h, hs.addr)
	tg := u.Targets()[0]
	// A private checker with the same settings: the live one's rand belongs
	// to its goroutine.
	c2 := &healthChecker{t: tg, settings: newHealthSettings(h), rnd: newCheckerRand(tg)}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := c2.nextDelay()
		if d < 900*time.Millisecond || d >= 1100*time.Millisecond {
			t.Fatalf("next delay %v outside interval ±10%%", d)
		}
		f := c2.firstDelay()
		if f < 0 || f >= time.Second {
			t.Fatalf("first delay %v outside [0, interval)", f)
		}
		seen[d.Round(10*time.Millisecond)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("delays are not spread: %d distinct values in 200", len(seen))
	}
}
