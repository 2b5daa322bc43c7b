package testkit

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestClock(t *testing.T) {
	c := NewClock(Epoch)
	if !c.Now().Equal(Epoch) {
		t.Fatalf("Now %v, want %v", c.Now(), Epoch)
	}
	c.Advance(90 * time.Second)
	c.Advance(-30 * time.Second)
	if got := c.Now().Sub(Epoch); got != time.Minute {
		t.Fatalf("moved %v, want 1m", got)
	}
}

func TestPollIsBounded(t *testing.T) {
	var calls atomic.Int64
	start := time.Now()
	if Poll(50*time.Millisecond, 10*time.Millisecond, func() bool { calls.Add(1); return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if n := calls.Load(); n < 2 || n > 6 {
		t.Errorf("%d calls in 50ms at 10ms, want 2..6", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Poll took %v for a 50ms timeout", d)
	}

	// A slow condition ends the wait by time, not by count.
	calls.Store(0)
	start = time.Now()
	Poll(50*time.Millisecond, time.Millisecond, func() bool { calls.Add(1); time.Sleep(30 * time.Millisecond); return false })
	if n := calls.Load(); n > 3 {
		t.Errorf("%d calls of a 30ms condition in 50ms", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Poll of a slow condition took %v for a 50ms timeout", d)
	}

	// A zero timeout still checks once.
	calls.Store(0)
	if !Poll(0, time.Millisecond, func() bool { return calls.Add(1) == 1 }) || calls.Load() != 1 {
		t.Errorf("Poll(0): %d calls", calls.Load())
	}

	calls.Store(0)
	Eventually(t, "the third call", func() bool { return calls.Add(1) == 3 })
}

func TestLogBuffer(t *testing.T) {
	var b LogBuffer
	log := b.Logger()
	log.Info("hello", "n", 1)
	log.Warn("hello again")
	if b.Count("hello") != 2 || !strings.Contains(b.String(), "level=WARN msg=\"hello again\"") {
		t.Fatalf("buffer:\n%s", b.String())
	}
}

func TestFreeAddr(t *testing.T) {
	a := FreeAddr(t)
	if !strings.HasPrefix(a, "127.0.0.1:") || strings.HasSuffix(a, ":0") {
		t.Fatalf("FreeAddr %q", a)
	}
}

func TestParseSamples(t *testing.T) {
	s, err := ParseSamples(strings.NewReader(`# HELP x_total A counter.
# TYPE x_total counter
x_total{code="200",route="a b}"} 3
x_total{code="500",route="all"} 1 1700000000000
up 1
nan NaN
inf +Inf
`))
	if err != nil {
		t.Fatal(err)
	}
	if s[`x_total{code="200",route="a b}"}`] != 3 || s[`x_total{code="500",route="all"}`] != 1 || s["up"] != 1 || s["inf"] <= 1e308 {
		t.Fatalf("samples %v", s)
	}
	if _, ok := s["nan"]; !ok || len(s) != 5 {
		t.Fatalf("samples %v", s)
	}
	if f := s.Family("x_total"); len(f) != 2 {
		t.Fatalf("family %v", f)
	}
	if _, err := ParseSamples(strings.NewReader("x_total{a=\"b\"}\n")); err == nil {
		t.Fatal("a sample without a value parsed")
	}
}

func TestGather(t *testing.T) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_gauge", Help: "h"}, []string{"upstream", "state"})
	g.WithLabelValues("u", "idle").Set(1)
	g.WithLabelValues("u", "active").Set(2.5)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_total", Help: "h"})
	c.Add(7)
	s := Gather(t, g, c)
	if len(s) != 3 || s[`t_gauge{state="idle",upstream="u"}`] != 1 || s[`t_gauge{state="active",upstream="u"}`] != 2.5 || s["t_total"] != 7 {
		t.Fatalf("samples %v", s)
	}
}

func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestParseH2SpecReport(t *testing.T) {
	report := `<testsuites>
<testsuite name="6.7. PING" package="http2/6.7">
<testcase package="http2/6.7" classname="Sends a PING frame"></testcase>
<testcase package="http2/6.7" classname="Sends a PING frame with ACK"><failure>
  Expected: PING Frame (length:8, flags:0x01)
    Actual: Timeout</failure></testcase>
</testsuite>
<testsuite name="5.1.2" package="http2/5.1.2">
<testcase package="http2/5.1.2" classname="Sends HEADERS past the limit"><skipped>no limit</skipped></testcase>
</testsuite>
</testsuites>`
	cases, err := ParseH2SpecReport([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 3 || !cases[0].Passed() || cases[1].Passed() || cases[2].Passed() {
		t.Fatalf("cases %+v", cases)
	}
	bad := H2SpecNotPassed(cases)
	want := []string{
		"  http2/6.7 Sends a PING frame with ACK: failed: Expected: PING Frame (length:8, flags:0x01) Actual: Timeout",
		"  http2/5.1.2 Sends HEADERS past the limit: skipped",
	}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Errorf("not passed:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ParseH2SpecReport([]byte("<testsuites>")); err == nil {
		t.Error("a truncated report parsed")
	}
	// A failed case's frames may hold zero bytes (a PING's opaque data).
	withZeros := "<testsuites><testsuite><testcase package=\"http2/7\" classname=\"GOAWAY\"><error>PING Frame (opaque_data:h2spec\x00\x00)</error></testcase></testsuite></testsuites>"
	cases, err = ParseH2SpecReport([]byte(withZeros))
	if err != nil || len(cases) != 1 || cases[0].Passed() || !strings.Contains(cases[0].String(), "h2spec\uFFFD\uFFFD") {
		t.Errorf("a report with zero bytes: %+v, %v", cases, err)
	}
}
