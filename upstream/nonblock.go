package upstream

import "tollgate/proxy/sock"

// ErrWouldBlock is returned by reads from Conn.R in non-blocking mode when
// the socket has nothing to read yet, and by WriteNow.
var ErrWouldBlock = sock.ErrWouldBlock

// connSource is the reader behind Conn.R: the net.Conn, or, while
// c.Sock.Nonblocking() (an event loop waits for readiness itself), raw
// non-blocking reads of the socket that return ErrWouldBlock at once. Every
// Acquire starts blocking.
type connSource struct{ c *Conn }

// Read implements io.Reader for Conn.R.
func (s *connSource) Read(p []byte) (int, error) {
	if !s.c.Sock.Nonblocking() {
		return s.c.Conn.Read(p)
	}
	return s.c.Sock.Read(p)
}

// WriteNow writes p for an event loop with a non-blocking write(2): a
// short request head goes out whole into an idle connection's empty socket
// buffer. If the socket takes less (the upstream is not reading), it
// returns how much went out and ErrWouldBlock; the connection is then out
// of step and must be closed.
func (c *Conn) WriteNow(p []byte) (int, error) {
	if c.Sock.FD() < 0 || len(p) == 0 {
		return c.Conn.Write(p)
	}
	return c.Sock.WriteNow(p)
}

// AcquireIdle returns a pooled idle connection that is still open, without
// dialling or waiting: ok is false when none is idle. An event loop uses it
// to forward without blocking; the caller ends with Release or Close.
// Among the most recently used idle connections it prefers one whose
// Sock.Loops has loop set and whose Sock.Quiet has not (one already armed in
// that loop's epoll set), so that loops keep their own connections.
// verify: check the connection is open even if it was used a moment ago
// (see AcquireVerified). A TLS target lends nothing here: its connections
// are taken with Acquire, off the loop.
func (t *Target) AcquireIdle(loop uint64, verify bool) (c *Conn, ok bool) {
	if t.tls != nil || t.h2 != nil {
		return nil, false // a TLS connection or an HTTP/2 bridge has no socket for the loop (tls.go, h2target.go)
	}
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
		if c.Sock.Loops&^c.Sock.Quiet&loop == 0 {
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
