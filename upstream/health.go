package upstream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"tollgate/upstream/h2"
)

// healthJitter spreads probe intervals by ±10%, so targets configured
// together drift apart instead of being probed in lockstep.
const healthJitter = 0.1

// healthChecker probes one target with GET <path> every interval (jittered)
// and flips the target's health flag: down after unhealthy_after failures
// in a row, up after healthy_after successes in a row. A target that has
// never passed a check (a new target) comes up on its first success.
//
// It is one goroutine owned by the Registry (STYLE.md item 15): started when
// a target with health_check appears, stopped when the target is retired or
// its health_check changes. The goroutine has a recover around each probe;
// stop cancels the context, which also aborts a probe in flight, and waits.
type healthChecker struct {
	t        *Target
	settings healthSettings
	client   *http.Client
	log      *slog.Logger
	url      string
	h2       *h2.Pool   // the target's HTTP/2 connections, which probes use; nil: HTTP/1.1 probes with client
	rnd      *rand.Rand // goroutine-local
	cancel   context.CancelFunc
	done     chan struct{}

	// Goroutine-local streaks.
	okRun, failRun int
	unproven       bool // no check has passed yet: the first success brings it up
}

// startHealthChecker starts probing t. A fresh target (never checked, kept
// out of rotation by the caller) comes up on its first passing check. A
// target out of rotation is probed at once; one in rotation after a random
// part of one interval.
func startHealthChecker(t *Target, s healthSettings, client *http.Client, log *slog.Logger, fresh bool) *healthChecker {
	immediate := fresh || !t.Healthy()
	url := "http://" + t.Addr + s.path
	if t.tls != nil && t.h2 == nil { // probes go over TLS too, with the target's settings
		url = "https://" + t.Addr + s.path
		client = newHealthClient()
		client.Transport.(*http.Transport).TLSClientConfig = t.tls
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &healthChecker{
		t:        t,
		settings: s,
		client:   client,
		log:      log,
		url:      url,
		h2:       t.h2,
		rnd:      newCheckerRand(t),
		cancel:   cancel,
		done:     make(chan struct{}),
		unproven: fresh,
	}
	first := time.Duration(0)
	if !immediate {
		first = h.firstDelay()
	}
	go h.run(ctx, first)
	return h
}

// newCheckerRand seeds a checker's generator from its address and the
// clock, so checkers of different targets (and processes) draw differently.
func newCheckerRand(t *Target) *rand.Rand {
	return rand.New(rand.NewPCG(t.seed, uint64(time.Now().UnixNano())))
}

// firstDelay is a uniformly random phase in [0, interval).
func (h *healthChecker) firstDelay() time.Duration {
	return time.Duration(h.rnd.Int64N(int64(h.settings.interval)))
}

// nextDelay is the interval scaled by a random factor in [0.9, 1.1).
func (h *healthChecker) nextDelay() time.Duration {
	f := 1 - healthJitter + 2*healthJitter*h.rnd.Float64()
	return time.Duration(float64(h.settings.interval) * f)
}

func (h *healthChecker) run(ctx context.Context, first time.Duration) {
	defer close(h.done)
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		h.check(ctx)
		timer.Reset(h.nextDelay())
	}
}

// check runs one probe and records it; a panic is logged and the next
// interval tries again.
func (h *healthChecker) check(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("upstream health check panicked", "upstream", h.t.Upstream(), "target", h.t.Addr,
				"panic", v, "stack", string(debug.Stack()))
		}
	}()
	err := h.probe(ctx)
	if ctx.Err() != nil {
		return // stopped mid-probe: not the target's fault
	}
	h.record(err)
}

// probe sends one GET and wants a 2xx within the timeout. An HTTP/2
// target is probed with a stream on its own HTTP/2 connections.
func (h *healthChecker) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.settings.timeout)
	defer cancel()
	if h.h2 != nil {
		status, err := h.h2.Probe(ctx, h.h2.Addr(), h.settings.path)
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		return healthStatus(status)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return fmt.Errorf("health check request: %w", err)
	}
	req.Header.Set("User-Agent", "tollgate-health-check")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return healthStatus(resp.StatusCode)
}

// healthStatus passes a 2xx.
func healthStatus(status int) error {
	if status < 200 || status > 299 {
		return fmt.Errorf("health check: status %d", status)
	}
	return nil
}

// record updates the streaks and flips the target's flag when one reaches
// its threshold.
func (h *healthChecker) record(err error) {
	t := h.t
	if err != nil {
		h.okRun, h.failRun = 0, h.failRun+1
		switch {
		case t.Healthy() && h.failRun >= h.settings.unhealthyAfter:
			t.SetHealthy(false)
			h.log.Warn("upstream target marked unhealthy", "upstream", t.Upstream(), "target", t.Addr,
				"failures", h.failRun, "error", err.Error())
		case h.unproven && h.failRun == h.settings.unhealthyAfter:
			// A new target that never passed a check was never in
			// rotation, so it makes no transition: say once why it stays out.
			h.log.Warn("upstream target failing its health checks; not in rotation yet", "upstream", t.Upstream(),
				"target", t.Addr, "failures", h.failRun, "error", err.Error())
		}
		return
	}
	h.failRun, h.okRun = 0, h.okRun+1
	if !t.Healthy() && (h.unproven || h.okRun >= h.settings.healthyAfter) {
		t.SetHealthy(true)
		h.log.Info("upstream target marked healthy", "upstream", t.Upstream(), "target", t.Addr,
			"successes", h.okRun)
	}
	h.unproven = false
}

// stop cancels the checker without waiting; wait waits for its goroutine.
// They are split so the Registry can cancel under its lock and wait after.
func (h *healthChecker) stop() { h.cancel() }

func (h *healthChecker) wait() { <-h.done }

// newHealthClient is the Registry's HTTP client for probes: no proxy, no
// redirects followed (a 3xx is not healthy), one idle connection per target.
func newHealthClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
