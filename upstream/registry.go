package upstream

import (
	"crypto/tls"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/conf"
)

// defaultReapEvery is how often the reaper sweeps idle connections.
const defaultReapEvery = time.Second

// Registry owns upstream state that outlives config snapshots: Targets, with
// their pools, breakers, health flags and health checkers, keyed by
// (upstream name, address, pool settings), and each upstream's retry budget,
// keyed by name. Each Apply returns a Set pointing into it. Safe for
// concurrent use.
type Registry struct {
	log      *slog.Logger
	now      func() time.Time
	readers  *sync.Pool
	conns    *prometheus.Desc
	breakers *prometheus.Desc
	healthy  *prometheus.Desc
	reaper   *reaper
	health   *http.Client

	mu      sync.Mutex
	targets map[targetKey]*Target
	budgets map[string]*budgetRef
	live    []*Set // unreleased Sets, oldest first
	closed  bool
	sweep   []*Target // reaper's scratch, reused between ticks; guarded by mu
}

// budgetRef is an upstream's retry budget with the number of unreleased
// Sets that use it.
type budgetRef struct {
	b    *retryBudget
	refs int
}

// registryOptions are the knobs tests turn; NewRegistry uses the defaults.
type registryOptions struct {
	reapEvery time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// NewRegistry returns an empty registry and starts its idle reaper; Close
// stops it and every health checker. A nil log discards messages.
func NewRegistry(log *slog.Logger) *Registry {
	return newRegistry(log, registryOptions{})
}

func newRegistry(log *slog.Logger, o registryOptions) *Registry {
	if log == nil {
		log = o.log
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.reapEvery <= 0 {
		o.reapEvery = defaultReapEvery
	}
	if o.now == nil {
		o.now = time.Now
	}
	r := &Registry{
		log:      log,
		now:      o.now,
		readers:  newReaderPool(),
		conns:    newConnsDesc(),
		breakers: newBreakerDesc(),
		healthy:  newHealthDesc(),
		health:   newHealthClient(),
		targets:  make(map[targetKey]*Target),
		budgets:  make(map[string]*budgetRef),
	}
	r.reaper = startReaper(o.reapEvery, r.reapIdle, log)
	return r
}

// Apply builds the upstream set for a new config snapshot. A target whose
// upstream name, address and pool settings are unchanged keeps its Target:
// its pool (idle connections carried over, not re-dialled), its breaker
// (unless the breaker settings changed) and its health state. A target new
// to the registry with health_check set starts out of rotation until its
// first check passes; that check runs at once. Targets no longer referenced
// are closed when the returned Set's predecessor is released. On error
// nothing changes.
func (r *Registry) Apply(cfg map[string]*conf.Upstream) (*Set, error) {
	specs, err := buildSpecs(cfg)
	if err != nil {
		return nil, err
	}
	var stopped []*healthChecker
	defer waitCheckers(&stopped)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	s := &Set{reg: r, upstreams: make(map[string]*Upstream, len(specs))}
	for i := range specs {
		s.upstreams[specs[i].name] = r.buildUpstreamLocked(&specs[i], s, &stopped)
	}
	r.live = append(r.live, s)
	return s, nil
}

// buildUpstreamLocked takes a reference on each of spec's targets, creating
// those the registry does not hold yet, configures them, and records them in
// s. Health checkers replaced by the new settings are added to stopped.
func (r *Registry) buildUpstreamLocked(spec *upstreamSpec, s *Set, stopped *[]*healthChecker) *Upstream {
	targets := make([]*Target, len(spec.addrs))
	for i, addr := range spec.addrs {
		key := targetKey{upstream: spec.name, addr: addr, pool: spec.pool, tls: spec.tlsID, proto: spec.proto}
		t := r.targets[key]
		fresh := false
		if t == nil {
			t, fresh = r.newTargetLocked(key, forTarget(spec.tls, addr))
		}
		t.refs++
		if h := r.configureLocked(t, spec.target, fresh); h != nil {
			*stopped = append(*stopped, h)
		}
		targets[i] = t
		s.targets = append(s.targets, t)
		s.settings = append(s.settings, spec.target)
	}
	var budget *retryBudget
	if spec.retries {
		budget = r.budgetLocked(spec.name)
		s.budgets = append(s.budgets, spec.name)
	}
	return newUpstream(spec, targets, budget)
}

// newTargetLocked creates and registers a Target. When a live Target with
// the same upstream and address exists (only its pool settings differ), the
// new one inherits its breaker and health flag, and is not fresh.
func (r *Registry) newTargetLocked(key targetKey, tc *tls.Config) (*Target, bool) {
	t := newTarget(key, r.readers, r.now)
	t.tls, t.log = tc, r.log
	t.h2 = t.newH2Pool()
	if tc != nil && tc.InsecureSkipVerify {
		r.log.Warn("upstream TLS certificates are not verified (insecure_skip_verify)", "upstream", key.upstream, "target", key.addr)
	}
	r.targets[key] = t
	r.log.Debug("upstream target added", "upstream", key.upstream, "addr", key.addr)
	for k, pred := range r.targets {
		if k.upstream == key.upstream && k.addr == key.addr && pred != t {
			t.breaker.Store(pred.breaker.Load())
			t.unhealthy.Store(pred.unhealthy.Load())
			return t, false
		}
	}
	return t, true
}

// configureLocked applies a snapshot's per-target settings to t and
// returns the health checker it replaced, if any, already cancelled (the
// caller waits for it after unlocking).
func (r *Registry) configureLocked(t *Target, ts targetSettings, fresh bool) *healthChecker {
	t.connectTimeout.Store(int64(ts.connect))
	t.share.Store(math.Float64bits(ts.share))
	r.configureBreakerLocked(t, ts.breaker)
	return r.configureHealthLocked(t, ts.health, fresh)
}

// configureBreakerLocked keeps t's breaker if its settings are unchanged,
// else replaces it (or removes it). The replaced breaker is remembered, so
// going back to its settings — a built reload abandoned, the previous one
// restored — brings its state back instead of a closed breaker.
func (r *Registry) configureBreakerLocked(t *Target, s *breakerSettings) {
	cur := t.breaker.Load()
	switch {
	case s == nil && cur == nil:
		return
	case s != nil && cur != nil && cur.settings == *s:
		return
	case s == nil:
		t.breaker.Store(nil)
		r.log.Info("upstream breaker removed", "upstream", t.Upstream(), "target", t.Addr)
	case t.prevBreaker != nil && t.prevBreaker.settings == *s:
		t.breaker.Store(t.prevBreaker)
	default:
		t.breaker.Store(newBreaker(*s, t.Upstream(), t.Addr, r.log))
		if cur != nil {
			r.log.Info("upstream breaker settings changed; breaker reset to closed", "upstream", t.Upstream(), "target", t.Addr)
		}
	}
	t.prevBreaker = cur
}

// configureHealthLocked keeps t's health checker if its settings are
// unchanged, else cancels it and starts one with the new settings (or none,
// which puts the target back in rotation). The health flag itself carries
// over; a fresh target with a health check starts out of rotation.
func (r *Registry) configureHealthLocked(t *Target, s *healthSettings, fresh bool) *healthChecker {
	cur := t.checker
	if cur != nil && s != nil && cur.settings == *s {
		return nil
	}
	if cur != nil {
		cur.stop()
		t.checker = nil
	}
	if s == nil {
		t.healthEvery.Store(0)
		t.SetHealthy(true)
		return cur
	}
	if fresh {
		t.SetHealthy(false)
	}
	t.healthEvery.Store(int64(s.interval))
	t.checker = startHealthChecker(t, *s, r.health, r.log, fresh)
	return cur
}

// budgetLocked returns the named upstream's retry budget, creating it, and
// takes a reference on it.
func (r *Registry) budgetLocked(name string) *retryBudget {
	ref := r.budgets[name]
	if ref == nil {
		ref = &budgetRef{b: newRetryBudget(r.now)}
		r.budgets[name] = ref
	}
	ref.refs++
	return ref.b
}

// release drops s's references. A Target left without any is removed: its
// pool retired, its health checker stopped. A Target still referenced is
// reconfigured from the newest live Set naming it, so releasing a Set that
// was built but never published (a failed reload) restores what the
// published one configured.
func (r *Registry) release(s *Set) {
	var stopped []*healthChecker
	defer waitCheckers(&stopped)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLiveLocked(s)
	for _, t := range s.targets {
		t.refs--
		if t.refs > 0 {
			continue
		}
		if r.targets[t.key] == t {
			delete(r.targets, t.key)
		}
		stopped = r.retireLocked(t, stopped)
		r.log.Debug("upstream target retired", "upstream", t.key.upstream, "addr", t.Addr)
	}
	for _, name := range s.budgets {
		if ref := r.budgets[name]; ref != nil {
			if ref.refs--; ref.refs <= 0 {
				delete(r.budgets, name)
			}
		}
	}
	if r.closed {
		return
	}
	for _, t := range s.targets {
		if ts, ok := r.newestSettingsLocked(t); ok && t.refs > 0 {
			if h := r.configureLocked(t, ts, false); h != nil {
				stopped = append(stopped, h)
			}
		}
	}
}

// retireLocked closes t's pool and cancels its health checker, which is
// appended to stopped for the caller to wait on.
func (r *Registry) retireLocked(t *Target, stopped []*healthChecker) []*healthChecker {
	t.pool.retire()
	if t.h2 != nil {
		t.h2.Retire()
	}
	if h := t.checker; h != nil {
		h.stop()
		t.checker = nil
		stopped = append(stopped, h)
	}
	return stopped
}

// dropLiveLocked removes s from the live list.
func (r *Registry) dropLiveLocked(s *Set) {
	for i, x := range r.live {
		if x == s {
			r.live = append(r.live[:i], r.live[i+1:]...)
			return
		}
	}
}

// newestSettingsLocked returns the settings the newest live Set gives t.
func (r *Registry) newestSettingsLocked(t *Target) (targetSettings, bool) {
	for i := len(r.live) - 1; i >= 0; i-- {
		s := r.live[i]
		for j, x := range s.targets {
			if x == t {
				return s.settings[j], true
			}
		}
	}
	return targetSettings{}, false
}

// waitCheckers waits for cancelled health checkers; Apply and release defer
// it so the wait happens after the registry lock is released.
func waitCheckers(stopped *[]*healthChecker) {
	for _, h := range *stopped {
		h.wait()
	}
}

// Close stops the reaper and every health checker and closes every pool:
// idle connections at once, active ones when released. Sets already handed
// out keep answering Get, but their connections are no longer reused.
// Calling it again does nothing.
func (r *Registry) Close() {
	r.reaper.Stop()
	var stopped []*healthChecker
	defer r.health.CloseIdleConnections()
	defer waitCheckers(&stopped)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for key, t := range r.targets {
		stopped = r.retireLocked(t, stopped)
		delete(r.targets, key)
	}
}

// reapIdle is the reaper's sweep: it closes expired idle connections of every
// live target. Pools are swept outside the registry lock.
func (r *Registry) reapIdle() {
	r.mu.Lock()
	r.sweep = r.sweep[:0]
	for _, t := range r.targets {
		r.sweep = append(r.sweep, t)
	}
	targets := r.sweep
	r.mu.Unlock()
	now := r.now()
	for _, t := range targets {
		t.pool.reap(now)
	}
}
