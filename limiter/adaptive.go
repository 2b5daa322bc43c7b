package limiter

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AIMD constants of the adaptive factor.
const (
	// decrease multiplies the factor when an upstream is overloaded.
	decrease = 0.75
	// increase is added to the factor per healthy window.
	increase = 0.05
	// badRatio is the share of slow (or failed) requests in a window above
	// which the upstream counts as overloaded.
	badRatio = 0.1
	// minSamples is the number of observations a window needs to judge
	// latency; emptier windows count as healthy.
	minSamples = 5
)

// adaptive is the AIMD factor of one upstream. Observations are counted
// with atomics; the window is judged lazily by whichever call first sees
// it has ended (no goroutine, no timer).
type adaptive struct {
	total, slow, failed atomic.Int64
	windowEnd           atomic.Int64
	factor              atomic.Uint64 // math.Float64bits
	judging             sync.Mutex
}

// adaptiveSet maps upstream names to their factors. The map is copied on
// write (a new upstream name is rare), so lookups never lock.
type adaptiveSet struct {
	window int64 // ns
	m      atomic.Pointer[map[string]*adaptive]
	mu     sync.Mutex
	desc   *prometheus.Desc
}

// newAdaptiveSet returns an empty set judging windows of the given length.
func newAdaptiveSet(window time.Duration) *adaptiveSet {
	s := &adaptiveSet{
		window: int64(window),
		desc: prometheus.NewDesc("tollgate_ratelimit_factor",
			"Adaptive factor scaling client refill rates on routes to the upstream (1 when healthy).",
			[]string{"upstream"}, nil),
	}
	m := map[string]*adaptive{}
	s.m.Store(&m)
	return s
}

// get returns the upstream's state, or nil when never observed.
func (s *adaptiveSet) get(upstream string) *adaptive { return (*s.m.Load())[upstream] }

// getOrCreate returns the upstream's state, creating it (factor 1).
func (s *adaptiveSet) getOrCreate(upstream string, now int64) *adaptive {
	if a := s.get(upstream); a != nil {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if a := old[upstream]; a != nil {
		return a
	}
	a := &adaptive{}
	a.factor.Store(math.Float64bits(1))
	a.windowEnd.Store(now + s.window)
	m := make(map[string]*adaptive, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[upstream] = a
	s.m.Store(&m)
	return a
}

// observe records one finished request to the upstream.
func (s *adaptiveSet) observe(upstream string, now int64, slow, failed bool, minFactor float64) {
	a := s.getOrCreate(upstream, now)
	a.judge(now, s.window, minFactor)
	a.total.Add(1)
	if slow {
		a.slow.Add(1)
	}
	if failed {
		a.failed.Add(1)
	}
}

// current returns the upstream's factor at now (1 when never observed).
func (s *adaptiveSet) current(upstream string, now int64, minFactor float64) float64 {
	a := s.get(upstream)
	if a == nil {
		return 1
	}
	a.judge(now, s.window, minFactor)
	return max(minFactor, math.Float64frombits(a.factor.Load()))
}

// judge closes every window that ended before now: multiplicative
// decrease when a window was overloaded, additive increase otherwise
// (empty windows included, so a quiet upstream recovers); never below
// minFactor.
func (a *adaptive) judge(now, window int64, minFactor float64) {
	if now < a.windowEnd.Load() || !a.judging.TryLock() {
		return
	}
	defer a.judging.Unlock()
	end := a.windowEnd.Load()
	if now < end {
		return
	}
	f := math.Float64frombits(a.factor.Load())
	total, slow, failed := a.total.Swap(0), a.slow.Swap(0), a.failed.Swap(0)
	if total >= minSamples && float64(max(slow, failed)) > badRatio*float64(total) {
		f *= decrease
	} else {
		f = math.Min(1, f+increase)
	}
	// Windows that passed without any call are healthy: each adds increase.
	if idle := (now - end) / window; idle > 0 {
		f = math.Min(1, f+float64(idle)*increase)
	}
	a.factor.Store(math.Float64bits(math.Max(f, minFactor)))
	a.windowEnd.Store(now + window)
}

// scaled returns the effective refill rate of a policy of the given rate
// under factor f. The factor caps every client at f times the largest
// configured rate (top), and no rate falls below minFactor of its own
// value: the heaviest quotas lose the most absolute rate and small
// clients keep theirs until the cap reaches them (max-min fairness).
func scaled(rate, f, top, minFactor float64) float64 {
	if f >= 1 {
		return rate
	}
	return max(rate*minFactor, min(rate, f*top))
}

// Describe implements prometheus.Collector.
func (s *adaptiveSet) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// collect sends one gauge per observed upstream.
func (s *adaptiveSet) collect(ch chan<- prometheus.Metric, now int64, minFactor float64, enabled bool) {
	for name := range *s.m.Load() {
		f := 1.0
		if enabled {
			f = s.current(name, now, minFactor)
		}
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, f, name)
	}
}
