package upstream

import (
	"sync"
	"sync/atomic"
	"time"

	"tollgate/conf"
)

// poolSettings are a target's normalised pool bounds. They are part of the
// target's identity: changing them on reload builds a fresh pool.
type poolSettings struct {
	// maxConns bounds active + idle + dialling connections; 0 = unlimited.
	maxConns int
	// maxIdle bounds the idle list; 0 = no keep-alive reuse.
	maxIdle int
	// idleTimeout closes connections idle for longer; 0 = never.
	idleTimeout time.Duration
}

// newPoolSettings normalises conf.Pool. The config loader fills the contract's
// defaults (512, 128, 90s); what reaches here keeps nginx's meaning of zero:
// MaxConnsPerTarget <= 0 is unlimited, MaxIdlePerTarget <= 0 keeps no idle
// connection, IdleTimeout <= 0 never expires idle connections (the liveness
// check on acquire still catches those the server closed).
func newPoolSettings(p conf.Pool) poolSettings {
	return poolSettings{
		maxConns:    max(p.MaxConnsPerTarget, 0),
		maxIdle:     max(p.MaxIdlePerTarget, 0),
		idleTimeout: max(p.IdleTimeout, 0),
	}
}

// pool is one target's set of connections: a LIFO idle stack, a count of
// slots in use and a FIFO of callers waiting for a slot.
//
// Invariant: waiters is non-empty only while idle is empty, because a
// connection released while someone waits is handed to the waiter directly.
type pool struct {
	settings poolSettings
	now      func() time.Time

	mu sync.Mutex
	// idle is ordered by idleSince: idle[len-1] is the most recently used,
	// so expired connections are always a prefix.
	idle    []*Conn
	total   int // slots in use: active + idle + dialling
	waiters []*waiter
	retired bool

	idleN atomic.Int64 // len(idle), for metrics without the lock
}

// waiter is a caller blocked on a full pool. It receives either a released
// connection or nil, which grants a free slot to dial with.
type waiter struct {
	ch chan *Conn
}

func newPool(s poolSettings, now func() time.Time) *pool {
	return &pool{settings: s, now: now}
}

// get returns an idle connection (not yet checked for liveness), or nil with a
// slot reserved for the caller to dial with. fresh skips the idle list and, if
// the pool is full, takes the slot of the oldest idle connection instead.
// errExhausted is returned if no slot frees up before deadline (zero = wait
// for ever).
func (p *pool) get(deadline time.Time, fresh bool, errExhausted error) (*Conn, error) {
	p.mu.Lock()
	if !fresh {
		if c := p.popIdleLocked(); c != nil {
			p.mu.Unlock()
			return c, nil
		}
	}
	if p.settings.maxConns == 0 || p.total < p.settings.maxConns {
		p.total++
		p.mu.Unlock()
		return nil, nil
	}
	if fresh && len(p.idle) > 0 {
		p.closeOldestIdleLocked() // its slot becomes ours
		p.mu.Unlock()
		return nil, nil
	}
	w := &waiter{ch: make(chan *Conn, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	return p.wait(w, deadline, errExhausted)
}

// wait blocks until w is served or deadline passes.
func (p *pool) wait(w *waiter, deadline time.Time, errExhausted error) (*Conn, error) {
	var expired <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case c := <-w.ch:
		return c, nil
	case <-expired:
	}
	p.mu.Lock()
	removed := p.removeWaiterLocked(w)
	p.mu.Unlock()
	if removed {
		return nil, errExhausted
	}
	return <-w.ch, nil // served while the timer fired: take it
}

// popIdleLocked pops the most recently used idle connection. If it is past
// the idle timeout, so is every older one: all are closed and nil returned.
func (p *pool) popIdleLocked() *Conn {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	if p.expired(c, p.now()) {
		p.closeIdlePrefixLocked(n)
		return nil
	}
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.idleN.Store(int64(n - 1))
	return c
}

func (p *pool) expired(c *Conn, now time.Time) bool {
	return p.settings.idleTimeout > 0 && now.Sub(c.idleSince) >= p.settings.idleTimeout
}

// closeOldestIdleLocked closes idle[0] and keeps its slot for the caller.
func (p *pool) closeOldestIdleLocked() {
	c := p.idle[0]
	copy(p.idle, p.idle[1:])
	p.idle[len(p.idle)-1] = nil
	p.idle = p.idle[:len(p.idle)-1]
	p.idleN.Store(int64(len(p.idle)))
	c.closeSocket()
}

// closeIdlePrefixLocked closes the k oldest idle connections and frees their
// slots. Closing a TCP socket does not block, so it is done under the lock.
func (p *pool) closeIdlePrefixLocked(k int) {
	for i := range k {
		p.idle[i].closeSocket()
		p.freeSlotLocked()
	}
	rest := copy(p.idle, p.idle[k:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	p.idleN.Store(int64(rest))
}

// freeSlotLocked gives a freed slot to the first waiter, or returns it.
func (p *pool) freeSlotLocked() {
	if w := p.popWaiterLocked(); w != nil {
		w.ch <- nil
		return
	}
	p.total--
}

func (p *pool) popWaiterLocked() *waiter {
	if len(p.waiters) == 0 {
		return nil
	}
	w := p.waiters[0]
	copy(p.waiters, p.waiters[1:])
	p.waiters[len(p.waiters)-1] = nil
	p.waiters = p.waiters[:len(p.waiters)-1]
	return w
}

func (p *pool) removeWaiterLocked(w *waiter) bool {
	for i, x := range p.waiters {
		if x == w {
			copy(p.waiters[i:], p.waiters[i+1:])
			p.waiters[len(p.waiters)-1] = nil
			p.waiters = p.waiters[:len(p.waiters)-1]
			return true
		}
	}
	return false
}

// put takes back a connection whose exchange finished cleanly: to a waiter
// first, else onto the idle stack, else (retired pool, idle list full) closed.
func (p *pool) put(c *Conn) {
	p.mu.Lock()
	c.idleSince = p.now() // also for a hand-off: it was used just now, no liveness probe needed
	if !p.retired {
		if w := p.popWaiterLocked(); w != nil {
			p.mu.Unlock()
			w.ch <- c
			return
		}
	}
	if p.retired || len(p.idle) >= p.settings.maxIdle {
		p.freeSlotLocked()
		p.mu.Unlock()
		c.closeSocket()
		return
	}
	p.idle = append(p.idle, c)
	p.idleN.Store(int64(len(p.idle)))
	p.mu.Unlock()
}

// discard closes a connection that must not be reused and frees its slot.
func (p *pool) discard(c *Conn) {
	p.mu.Lock()
	p.freeSlotLocked()
	p.mu.Unlock()
	c.closeSocket()
}

// freeSlot returns a slot reserved by get that was not used (failed dial).
func (p *pool) freeSlot() {
	p.mu.Lock()
	p.freeSlotLocked()
	p.mu.Unlock()
}

// reap closes idle connections past the idle timeout.
func (p *pool) reap(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := 0
	for k < len(p.idle) && p.expired(p.idle[k], now) {
		k++
	}
	if k > 0 {
		p.closeIdlePrefixLocked(k)
	}
}

// retire closes every idle connection; connections still active are closed
// when they come back. Retiring twice is harmless.
func (p *pool) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = true
	p.closeIdlePrefixLocked(len(p.idle))
}

// isRetired reports whether retire was called.
func (p *pool) isRetired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retired
}
