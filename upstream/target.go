package upstream

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/internal/lograte"
	"tollgate/upstream/h2"
)

// targetKey is a Target's identity across reloads: a reload that keeps all
// of it keeps the Target, its pool and its idle connections.
type targetKey struct {
	upstream string
	addr     string
	pool     poolSettings
	tls      string // identity of the TLS setup (buildUpstreamTLS); "" = cleartext
	proto    string // conf.ProtocolHTTP1, H2C or H2
}

// Target is one address of an upstream with its connection pool. It outlives
// config snapshots: every Set whose config still names the same upstream,
// address and pool settings shares the same *Target. Safe for concurrent use.
type Target struct {
	// Addr is the target's "host:port" as configured.
	Addr string

	key     targetKey
	pool    *pool
	readers *sync.Pool // of *bufio.Reader, shared registry-wide
	seed    uint64     // per-address hash seed for rendezvous hashing

	// connectTimeout is the latest snapshot's timeouts.connect (ns; 0 = none).
	connectTimeout atomic.Int64
	// share is the latest snapshot's pool.max_conns_share (float64 bits).
	share     atomic.Uint64
	shares    shares
	active    atomic.Int64
	unhealthy atomic.Bool // set by the health checker; zero = healthy
	// healthEvery is the health check interval (ns; 0 = no health check).
	healthEvery atomic.Int64
	// breaker is nil when breaker: is not configured. A reload with other
	// breaker settings swaps in a new one; tries keep the one they began on.
	breaker     atomic.Pointer[breaker]
	checker     *healthChecker // guarded by Registry.mu; nil = no health check
	prevBreaker *breaker       // the breaker before the last change; guarded by Registry.mu

	refs         int // unreleased Sets naming this target; guarded by Registry.mu
	errExhausted error

	failLog lograte.Limiter // rate-limits the log lines of failed tries
	stats   tryStats

	// tls is the TLS client config of a TLS upstream's target (nil:
	// cleartext), fixed at creation: a change makes another target.
	tls    *tls.Config
	log    *slog.Logger
	tlsLog lograte.Limiter // handshake warnings: at most one a second

	// h2 is the HTTP/2 connections of an h2c or h2 target (nil: HTTP/1.1),
	// fixed at creation; its pool lends Bridges onto them (h2target.go).
	h2 *h2.Pool
}

func newTarget(key targetKey, readers *sync.Pool, now func() time.Time) *Target {
	return &Target{
		Addr:         key.addr,
		key:          key,
		pool:         newPool(key.pool, now),
		readers:      readers,
		seed:         addrSeed(key.addr),
		errExhausted: fmt.Errorf("upstream %q target %s: %w", key.upstream, key.addr, ErrPoolExhausted),
	}
}

// addrSeed hashes an address with a fixed seed, so a target scores the same
// keys the same way in every snapshot and every process.
func addrSeed(addr string) uint64 {
	return HashString(addr)
}

// HashString is the FNV-1a hash the proxy may use to turn a client id into
// the hashKey of Upstream.Pick. It allocates nothing.
func HashString(s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// Upstream returns the name of the upstream this target belongs to.
func (t *Target) Upstream() string { return t.key.upstream }

// Active returns the number of connections currently lent out.
func (t *Target) Active() int { return int(t.active.Load()) }

// Idle returns the number of idle pooled connections.
func (t *Target) Idle() int { return int(t.pool.idleN.Load()) }

// Healthy reports whether Pick may choose the target. Targets start healthy.
func (t *Target) Healthy() bool { return !t.unhealthy.Load() }

// SetHealthy marks the target healthy or not; Pick skips unhealthy targets.
// The health checker calls it.
func (t *Target) SetHealthy(ok bool) { t.unhealthy.Store(!ok) }

// usable reports whether Pick may choose t: healthy, and its breaker (if
// any) admits tries. Without a breaker it is one atomic load.
func (t *Target) usable() bool {
	if t.unhealthy.Load() {
		return false
	}
	b := t.breaker.Load()
	return b == nil || b.admits()
}

// BreakerState returns the target's breaker state as exported in
// tollgate_breaker_state: 0 closed, 1 half-open, 2 open; -1 without a
// breaker. Asking may move an open breaker whose open_for has passed to
// half-open.
func (t *Target) BreakerState() int {
	b := t.breaker.Load()
	if b == nil {
		return -1
	}
	return int(b.current())
}

// unavailableFor estimates how long t stays out of rotation: the rest of
// its breaker's open_for, and at least one health check interval while it
// is unhealthy. 0 means usable now.
func (t *Target) unavailableFor(now time.Time) time.Duration {
	var d time.Duration
	if b := t.breaker.Load(); b != nil {
		d = b.remaining(now)
	}
	if t.unhealthy.Load() {
		d = max(d, time.Duration(t.healthEvery.Load()))
	}
	return d
}

// Acquire returns a pooled idle connection that is checked to be still open,
// or dials a new one within the connect timeout. When max_conns_per_target
// connections are in use it waits for one to be released until deadline
// (zero = no limit), then returns an error wrapping ErrPoolExhausted. Dial
// failures return *DialError. The caller must end with Release or Close.
func (t *Target) Acquire(deadline time.Time) (*Conn, error) {
	return t.acquire(deadline, false)
}

// AcquireVerified is Acquire for a request that must not be sent twice: a
// pooled connection is checked to be open even if it was used a moment
// ago, since such a request is not retried when it meets a connection the
// upstream closed (see Conn.Reused).
func (t *Target) AcquireVerified(deadline time.Time) (*Conn, error) {
	return t.acquire(deadline, true)
}

func (t *Target) acquire(deadline time.Time, verify bool) (*Conn, error) {
	for {
		c, err := t.pool.get(deadline, false, t.errExhausted)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return t.dial(deadline)
		}
		if t.h2 != nil {
			return t.lendBridge(c, deadline)
		}
		if (!verify && c.recentlyUsed(t.pool.now())) || c.alive() {
			if err := c.Materialize(); err != nil {
				t.pool.discard(c)
				return nil, err
			}
			c.lend(true)
			return c, nil
		}
		t.pool.discard(c)
	}
}

// AcquireFresh is Acquire without the idle list: it always dials, for the
// retry after a reused connection hit the keep-alive race. When the pool is
// full it closes the oldest idle connection to make room, else it waits as
// Acquire does.
func (t *Target) AcquireFresh(deadline time.Time) (*Conn, error) {
	c, err := t.pool.get(deadline, true, t.errExhausted)
	if err != nil {
		return nil, err
	}
	if c != nil { // a released conn handed to us: keep its slot, not the conn
		c.closeSocket()
	}
	return t.dial(deadline)
}

// dialTCP opens a TCP connection to the target (keep-alive probes on)
// within the connect timeout and deadline.
func (t *Target) dialTCP(deadline time.Time) (net.Conn, error) {
	d := net.Dialer{
		Timeout:         time.Duration(t.connectTimeout.Load()),
		Deadline:        deadline,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true},
	}
	return d.Dial("tcp", t.Addr)
}

// dial opens a connection on a slot already reserved in the pool; on failure
// the slot is freed.
func (t *Target) dial(deadline time.Time) (*Conn, error) {
	if t.h2 != nil {
		return t.dialBridge(deadline)
	}
	nc, err := t.dialTCP(deadline)
	if err != nil {
		t.pool.freeSlot()
		return nil, &DialError{Addr: t.Addr, Err: err}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // Go's default, made explicit
	}
	if t.tls != nil {
		if nc, err = t.handshake(nc, t.tls, deadline); err != nil {
			t.pool.freeSlot()
			return nil, &DialError{Addr: t.Addr, Err: err}
		}
	}
	c := newConn(t, nc)
	c.lend(false)
	return c, nil
}
