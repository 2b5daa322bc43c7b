package upstream

import "tollgate/proxy/sock"

// ErrWouldBlock is returned by reads from Conn.R in non-blocking mode when
// the socket has nothing to read yet, and by WriteNow.
var ErrWouldBlock = sock.ErrWouldBlock

// FD returns the connection's socket descriptor for an event loop's epoll
// set, or -1. It stays the same while the connection lives (whether or not
// it has a net.Conn), and is valid only while the Conn is lent.
func (c *Conn) FD() int { return c.fd }

// SetNonblocking switches how R reads: on, a read that would wait returns
// ErrWouldBlock at once (an event loop waits for readiness itself); off,
// reads wait as usual, honouring the read deadline (the Conn must have its
// net.Conn: see Materialize). Every Acquire starts off.
func (c *Conn) SetNonblocking(on bool) { c.src.nonblock = on && c.fd >= 0 }

// connSource is the reader behind Conn.R: the net.Conn, or raw
// non-blocking read(2)s on FD.
type connSource struct {
	c        *Conn
	nonblock bool
}

// Read implements io.Reader for Conn.R.
func (s *connSource) Read(p []byte) (int, error) {
	if !s.nonblock {
		return s.c.Conn.Read(p)
	}
	return sock.Read(s.c.fd, p)
}

// WriteNow writes p for an event loop with a non-blocking write(2): a
// short request head goes out whole into an idle connection's empty socket
// buffer. If the socket takes less (the upstream is not reading), it
// returns how much went out and ErrWouldBlock; the connection is then out
// of step and must be closed.
func (c *Conn) WriteNow(p []byte) (int, error) {
	if c.fd < 0 || len(p) == 0 {
		return c.Conn.Write(p)
	}
	return sock.WriteNow(c.fd, p)
}

// AcquireIdle returns a pooled idle connection that is still open, without
// dialling or waiting: ok is false when none is idle. An event loop uses it
// to forward without blocking; the caller ends with Release or Close.
// Among the most recently used idle connections it prefers one whose
// LoopMask has loop set and whose LoopQuiet has not (one already armed in
// that loop's epoll set), so that loops keep their own connections.
// verify: check the connection is open even if it was used a moment ago
// (see AcquireVerified).
func (t *Target) AcquireIdle(loop uint64, verify bool) (c *Conn, ok bool) {
	for {
		if c = t.pool.getIdle(loop); c == nil {
			return nil, false
		}
		if (!verify && c.recentlyUsed(t.pool.now())) || c.alive() {
			c.leaveNetpoller()
			c.lend(true)
			return c, true
		}
		t.pool.discard(c)
	}
}

// affinityScan is how many of the most recently used idle connections
// getIdle looks through for one armed in the asking loop.
const affinityScan = 64

// getIdle pops an idle connection (not yet checked for liveness), or nil:
// the most recent one armed in loop, else the most recent one.
func (p *pool) getIdle(loop uint64) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	for i := n - 1; i >= max(0, n-affinityScan) && loop != 0; i-- {
		c := p.idle[i]
		if c.LoopMask&^c.LoopQuiet&loop == 0 {
			continue
		}
		if p.expired(c, p.now()) {
			break // so is every older one: popIdleLocked closes them
		}
		copy(p.idle[i:], p.idle[i+1:])
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.idleN.Store(int64(n - 1))
		return c
	}
	return p.popIdleLocked()
}
