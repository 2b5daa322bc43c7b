// Package limiter enforces tollgate's per-client quotas: token buckets per
// client and route policy, concurrency bounds, shadow mode, a Redis store
// that shares one quota between gateway instances without a round trip
// per request, and an adaptive factor that scales refill rates down when
// an upstream struggles.
//
// The package is transport-free: it takes a client id, address, route and
// upstream and returns a Decision; the adapter in package plugins turns
// decisions into headers and 429 replies. Bucket state lives in the
// Limiter, keyed by stable identity (client name and policy, or caller
// key), so it outlives config snapshots: Apply publishes a new snapshot
// with one pointer swap and every Allow reads the pointer once.
package limiter

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/conf"
)

// Options configures a Limiter. Every zero value is normalised by New.
type Options struct {
	// Logger receives warnings (Redis outages). Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now. It must not go backwards.
	Now func() time.Time
	// Shards is the number of locks the caller table is split over, rounded
	// up to a power of two. Zero means 256.
	Shards int
	// SweepInterval is how often idle caller buckets are dropped and idle
	// Redis leases give their tokens back. Zero means 5s; negative disables
	// the background sweeper (call Sweep).
	SweepInterval time.Duration
	// LeaseSpan sizes Redis lease batches: the tokens a quota refills in
	// this time. Zero means 200ms.
	LeaseSpan time.Duration
	// AdaptiveWindow is the length of the window the adaptive factor judges
	// an upstream over. Zero means 500ms.
	AdaptiveWindow time.Duration
	// InstanceID names this gateway in Redis. Empty means host-pid-random.
	InstanceID string
}

// Limiter decides requests against the configured quotas. It owns bucket
// state that outlives config snapshots and is safe for concurrent use.
type Limiter struct {
	log    *slog.Logger
	now    func() time.Time
	epoch  time.Time
	wallNs int64 // epoch as Unix ns: wall-clock time for quota periods
	opts   Options

	snap  atomic.Pointer[snapshot]
	ips   *table[ipKey]
	ids   *table[idKey]
	adapt *adaptiveSet

	applyMu sync.Mutex // serialises Apply and Close; guards reg and closed
	reg     registry
	closed  bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// snapshot is one compiled config: immutable once published.
type snapshot struct {
	named    map[string]*client
	plans    map[string]*client
	deflt    *client
	top      float64 // largest configured rate, the adaptive cap's base
	adaptive conf.Adaptive
	store    *redisStore // nil for the local store
}

// registry is the state kept across snapshots, by stable identity.
type registry struct {
	buckets  map[string]*bucket      // named policy name → bucket
	states   map[string]*clientState // named client → concurrency counter
	routeIDs map[string]uint32       // route name → id in caller keys
	planIDs  map[string]uint32       // plan name → id in caller keys
	store    *redisStore
}

// New returns a Limiter with no quotas (every request allowed) until the
// first Apply. It starts the sweeper unless opts disable it.
func New(opts Options) *Limiter {
	opts = normalise(opts)
	l := &Limiter{
		log: opts.Logger, now: opts.Now, opts: opts,
		adapt: newAdaptiveSet(opts.AdaptiveWindow),
		stop:  make(chan struct{}),
		reg:   registry{routeIDs: map[string]uint32{}, planIDs: map[string]uint32{}},
	}
	l.epoch = l.now().Add(-time.Second)
	l.wallNs = l.epoch.UnixNano()
	h := newHasher()
	l.ips = newTable(opts.Shards, h.ip)
	l.ids = newTable(opts.Shards, h.id)
	l.ips.onEvict, l.ids.onEvict = l.evicted, l.evicted
	l.ips.wallOff, l.ids.wallOff = l.wallNs, l.wallNs
	if opts.SweepInterval > 0 {
		l.wg.Add(1)
		go l.sweeper()
	}
	return l
}

// normalise fills Options' zero values.
func normalise(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := 1
	for n < o.Shards || (o.Shards == 0 && n < 256) {
		n <<= 1
	}
	o.Shards = n
	if o.SweepInterval == 0 {
		o.SweepInterval = 5 * time.Second
	}
	if o.LeaseSpan <= 0 {
		o.LeaseSpan = 200 * time.Millisecond
	}
	if o.AdaptiveWindow <= 0 {
		o.AdaptiveWindow = 500 * time.Millisecond
	}
	if o.InstanceID == "" {
		o.InstanceID = instanceID()
	}
	return o
}

// instanceID returns host-pid-random.
func instanceID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// nowNs returns the clock as nanoseconds since the limiter's epoch.
func (l *Limiter) nowNs() int64 { return int64(l.now().Sub(l.epoch)) }

// Config is what a Limiter is configured with: the clients, plans and
// limits blocks, and the route names (nil: do not warn about overrides
// naming no route).
type Config struct {
	Clients conf.Clients
	Plans   map[string]*conf.Quota
	Limits  conf.Limits
	Routes  []string
}

// Apply installs the quotas of a new config snapshot without plans; see
// ApplyConfig.
func (l *Limiter) Apply(clients conf.Clients, limits conf.Limits, routes []string) error {
	return l.ApplyConfig(Config{Clients: clients, Limits: limits, Routes: routes})
}

// ApplyConfig installs the quotas of a new config snapshot. Clients whose
// quota did not change keep their bucket and quota state; changed ones
// keep their spent fraction rescaled to the new burst; removed ones are
// forgotten. The store is (re)configured: a Redis client of unchanged
// settings is kept. On error nothing changes.
func (l *Limiter) ApplyConfig(cfg Config) error {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	if l.closed {
		return errors.New("limiter: apply after close")
	}
	limits := cfg.Limits
	sn, reg, err := l.compile(cfg)
	if err != nil {
		return fmt.Errorf("limiter: %w", err)
	}
	store, err := l.storeFor(limits)
	if err != nil {
		return fmt.Errorf("limiter: %w", err)
	}
	sn.store, reg.store = store, store
	old := l.reg.store
	keys := limits.MaxTrackedKeys
	if keys <= 0 {
		keys = 1_000_000
	}
	l.ips.setLimit(keys)
	l.ids.setLimit(keys)
	if store != nil && store != old {
		store.start()
	}
	l.reg = reg
	l.snap.Store(sn)
	if old != nil && old != store {
		old.close()
		l.dropLeases()
	}
	return nil
}

// storeFor returns the store limits ask for: nil for local, the current
// Redis store when its settings are unchanged, else a new one (unstarted).
func (l *Limiter) storeFor(limits conf.Limits) (*redisStore, error) {
	switch limits.Store {
	case "", "local":
		return nil, nil
	case "redis":
	default:
		return nil, fmt.Errorf("limits.store: unknown store %q", limits.Store)
	}
	switch limits.Redis.OnFailure {
	case "", FailLocal, FailAllow, FailDeny:
	default:
		return nil, fmt.Errorf("limits.redis.on_failure: unknown mode %q", limits.Redis.OnFailure)
	}
	if cur := l.reg.store; cur != nil && cur.settings == storeSettings(limits.Redis) {
		cur.configure(limits.Redis)
		return cur, nil
	}
	st, err := newRedisStore(limits.Redis, l.log, l.opts.InstanceID, l.opts.LeaseSpan, l.nowNs)
	if err != nil {
		return nil, fmt.Errorf("limits.redis: %w", err)
	}
	return st, nil
}

// dropLeases forgets every lease after the store changed: their keys and
// grants belong to the old store.
func (l *Limiter) dropLeases() {
	clearLease := func(s *slot) { s.lease = nil }
	l.ips.each(clearLease)
	l.ids.each(clearLease)
	for _, b := range l.reg.buckets {
		b.mu.Lock()
		b.s.lease = nil
		b.mu.Unlock()
	}
}

// Allow decides one request of cost 1 for a caller without a plan or
// tenant; see Decide.
func (l *Limiter) Allow(clientID string, clientIP netip.Addr, route, upstream string) Decision {
	return l.Decide(&Request{ClientID: clientID, ClientIP: clientIP, Route: route, Upstream: upstream, Cost: 1})
}

// rate returns the policy's refill rate under the upstream's adaptive
// factor.
func (l *Limiter) rate(m *meter, upstream string) float64 {
	a := m.sn.adaptive
	if !a.Enabled {
		return m.p.rate
	}
	f := l.adapt.current(upstream, m.now, a.MinFactor)
	return scaled(m.p.rate, f, m.sn.top, a.MinFactor)
}

// Release gives back the concurrency slot of a Decision that had Acquired
// set; call it once, with the arguments given to Allow.
//
// Release resolves the slot in the current snapshot; when a reload may
// have happened since Allow, ReleaseDecision is the one to use.
func (l *Limiter) Release(clientID string, clientIP netip.Addr, route string) {
	l.release(l.snap.Load(), &Request{ClientID: clientID, ClientIP: clientIP, Route: route})
}

// ReleaseDecision gives back the concurrency slot of d (Acquired), resolved
// in the snapshot d was decided with, so a reload between Allow and the
// end of the request (a per-route override added, a client named or
// removed) cannot send the release to another slot and leave the first
// one held for good.
func (l *Limiter) ReleaseDecision(d *Decision, clientID string, clientIP netip.Addr, route string) {
	l.ReleaseRequest(d, &Request{ClientID: clientID, ClientIP: clientIP, Route: route})
}

// ReleaseRequest is ReleaseDecision for a request decided by Decide.
func (l *Limiter) ReleaseRequest(d *Decision, r *Request) {
	if d.Acquired {
		l.release(d.sn, r)
	}
}

func (l *Limiter) release(sn *snapshot, r *Request) {
	if sn == nil {
		return
	}
	sj := sn.subject(r)
	switch {
	case sj.own:
		sj.c.state.release()
	case sj.anon:
		releaseTracked(l.ips, keyOfAddr(r.ClientIP, sj.p.route))
	default:
		releaseTracked(l.ids, sj.key)
	}
}

// releaseTracked gives back a tracked caller's slot if it is still there.
func releaseTracked[K comparable](t *table[K], k K) {
	sh, s := t.find(k)
	if s == nil {
		return
	}
	s.releaseSlot()
	sh.mu.Unlock()
}

// Observe feeds the adaptive factor with one finished upstream request.
func (l *Limiter) Observe(upstream string, latency time.Duration, failed bool) {
	sn := l.snap.Load()
	if sn == nil {
		return
	}
	a := sn.adaptive
	if !a.Enabled {
		l.adapt.getOrCreate(upstream, l.nowNs())
		return
	}
	l.adapt.observe(upstream, l.nowNs(), latency > a.TargetLatency, failed, a.MinFactor)
}

// Factor returns the upstream's adaptive factor (1 when adaptive is off or
// the upstream is healthy).
func (l *Limiter) Factor(upstream string) float64 {
	sn := l.snap.Load()
	if sn == nil || !sn.adaptive.Enabled {
		return 1
	}
	return l.adapt.current(upstream, l.nowNs(), sn.adaptive.MinFactor)
}

// Describe implements prometheus.Collector.
func (l *Limiter) Describe(ch chan<- *prometheus.Desc) { l.adapt.Describe(ch) }

// Collect implements prometheus.Collector: tollgate_ratelimit_factor per
// upstream seen by Observe.
func (l *Limiter) Collect(ch chan<- prometheus.Metric) {
	sn := l.snap.Load()
	if sn == nil {
		return
	}
	l.adapt.collect(ch, l.nowNs(), sn.adaptive.MinFactor, sn.adaptive.Enabled)
}

// Tracked returns the number of buckets held for callers not named in
// clients: (anonymous addresses and unlisted client ids).
func (l *Limiter) Tracked() int { return l.ips.len() + l.ids.len() }

// StoreStatus returns "local", "redis" or "redis-down" (on_failure in
// force).
func (l *Limiter) StoreStatus() string {
	sn := l.snap.Load()
	switch {
	case sn == nil || sn.store == nil:
		return "local"
	case sn.store.up.Load():
		return "redis"
	}
	return "redis-down"
}

// Remote reports whether decisions use the Redis store. A decision never
// waits for it: tokens are leased in batches in the background.
func (l *Limiter) Remote() bool {
	sn := l.snap.Load()
	return sn != nil && sn.store != nil
}

// Instances returns the number of gateway instances seen in Redis (1 with
// the local store).
func (l *Limiter) Instances() int {
	if sn := l.snap.Load(); sn != nil && sn.store != nil {
		return int(sn.store.instances.Load())
	}
	return 1
}

// RedisCalls returns the number of Redis round trips (script calls) made by
// the current store.
func (l *Limiter) RedisCalls() int64 {
	if sn := l.snap.Load(); sn != nil && sn.store != nil {
		return sn.store.calls.Load()
	}
	return 0
}

// Close stops the sweeper and the Redis sync goroutine, waits for them and
// closes the Redis client. The Limiter keeps deciding with its last
// snapshot (with Redis, as if the store were down).
func (l *Limiter) Close() {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	close(l.stop)
	l.wg.Wait()
	if st := l.reg.store; st != nil {
		st.up.Store(false)
		st.close()
	}
}
