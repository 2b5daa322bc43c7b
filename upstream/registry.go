package upstream

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/conf"
)

// defaultReapEvery is how often the reaper sweeps idle connections.
const defaultReapEvery = time.Second

// Registry owns upstream state that outlives config snapshots: Targets, with
// their pools, keyed by (upstream name, address, pool settings). Each Apply
// returns a Set pointing into it. Safe for concurrent use.
type Registry struct {
	log     *slog.Logger
	now     func() time.Time
	readers *sync.Pool
	conns   *prometheus.Desc
	reaper  *reaper

	mu      sync.Mutex
	targets map[targetKey]*Target
	closed  bool
	sweep   []*Target // reaper's scratch, reused between ticks; guarded by mu
}

// registryOptions are the knobs tests turn; NewRegistry uses the defaults.
type registryOptions struct {
	reapEvery time.Duration
	now       func() time.Time
}

// NewRegistry returns an empty registry and starts its idle reaper; Close
// stops it. A nil log discards messages.
func NewRegistry(log *slog.Logger) *Registry {
	return newRegistry(log, registryOptions{})
}

func newRegistry(log *slog.Logger, o registryOptions) *Registry {
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
		log:     log,
		now:     o.now,
		readers: newReaderPool(),
		conns:   newConnsDesc(),
		targets: make(map[targetKey]*Target),
	}
	r.reaper = startReaper(o.reapEvery, r.reapIdle, log)
	return r
}

// Apply builds the upstream set for a new config snapshot. A target whose
// upstream name, address and pool settings are unchanged keeps its Target and
// pool (idle connections carried over, not re-dialled). Targets no longer
// referenced are closed when the returned Set's predecessor is released. On
// error nothing changes.
func (r *Registry) Apply(cfg map[string]*conf.Upstream) (*Set, error) {
	specs, err := buildSpecs(cfg)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	s := &Set{reg: r, upstreams: make(map[string]*Upstream, len(specs))}
	for i := range specs {
		s.upstreams[specs[i].name] = r.buildUpstreamLocked(&specs[i], s)
	}
	return s, nil
}

// buildUpstreamLocked takes a reference on each of spec's targets, creating
// those the registry does not hold yet, and records them in s.
func (r *Registry) buildUpstreamLocked(spec *upstreamSpec, s *Set) *Upstream {
	targets := make([]*Target, len(spec.addrs))
	for i, addr := range spec.addrs {
		key := targetKey{upstream: spec.name, addr: addr, pool: spec.pool}
		t := r.targets[key]
		if t == nil {
			t = newTarget(key, r.readers, r.now)
			r.targets[key] = t
			r.log.Debug("upstream target added", "upstream", spec.name, "addr", addr)
		}
		t.refs++
		t.connectTimeout.Store(int64(spec.connect))
		targets[i] = t
		s.targets = append(s.targets, t)
	}
	return newUpstream(spec.name, spec.conf, spec.policy, targets, spec.weights)
}

// release drops one reference per entry; a Target left without any is
// removed and its pool retired.
func (r *Registry) release(targets []*Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range targets {
		t.refs--
		if t.refs > 0 {
			continue
		}
		if r.targets[t.key] == t {
			delete(r.targets, t.key)
		}
		t.pool.retire()
		r.log.Debug("upstream target retired", "upstream", t.key.upstream, "addr", t.Addr)
	}
}

// Close stops the reaper and closes every pool: idle connections at once,
// active ones when released. Sets already handed out keep answering Get, but
// their connections are no longer reused. Calling it again does nothing.
func (r *Registry) Close() {
	r.reaper.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for key, t := range r.targets {
		t.pool.retire()
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
