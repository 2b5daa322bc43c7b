package upstream

import (
	"bufio"
	"net"
	"sync"
	"time"

	"tollgate/proxy/sock"
	"tollgate/upstream/h2"
)

// readerSize is the size of Conn.R's buffer.
const readerSize = 32 << 10

// Conn is one connection to a target, lent to a single caller between
// Acquire and exactly one call to Release or Close. After that call neither
// the Conn nor R may be used: the same *Conn may already be lent to someone
// else. To interrupt a blocked read from another goroutine use SetDeadline
// (or c.Conn.Close()), then let the owner call Close.
//
// A TCP connection owns a duplicate of its socket (Sock, a sock.Socket:
// the event loops' side of it) for the whole of its life. Lent by Acquire
// it also has Conn, a net.Conn registered with Go's netpoller; lent by
// AcquireIdle to an event loop it has none (Conn is nil), so that Go's
// netpoller does not wake for every answer the loop reads. Materialize
// makes Conn again when a loop hands the connection to a goroutine.
type Conn struct {
	// Conn is the TCP connection (a *net.TCPConn, so splice(2) applies);
	// nil while an event loop holds the connection (see above).
	net.Conn
	// R buffers reads from the connection; its 32 KiB buffer is pooled and
	// valid only until Release or Close.
	R *bufio.Reader
	// Reused is true when the connection has carried an earlier exchange, so
	// a failure before any response byte may be the keep-alive race (retry
	// once on Target.AcquireFresh).
	Reused bool

	t         *Target
	idleSince time.Time

	// Sock is the connection's own duplicate of its socket, for the
	// engine's event loops (FD -1 if not TCP); its Loops and Quiet bits
	// are theirs.
	Sock sock.Socket
	src  connSource // what R reads from

	// bridge is Conn itself on an HTTP/2 target (nil: a TCP or TLS
	// connection).
	bridge *h2.Bridge
}

// newConn wraps a freshly dialled connection for target t.
// It duplicates the socket for FD; if that fails the connection works
// with Conn alone (event loops hand it to goroutines).
func newConn(t *Target, nc net.Conn) *Conn {
	c := &Conn{Conn: nc, t: t, Sock: sock.NoSocket()}
	if tc, ok := nc.(*net.TCPConn); ok {
		c.Sock = sock.OwnSocket(tc)
	}
	c.src.c = c
	return c
}

// Materialize gives a connection an event loop held its net.Conn again
// (a duplicate of FD, registered with Go's netpoller), for a goroutine that
// goes on with it. It does nothing if Conn is there.
func (c *Conn) Materialize() error {
	if c.Conn != nil {
		return nil
	}
	nc, err := c.Sock.NetConn("upstream")
	if err != nil {
		return err
	}
	c.Conn = nc
	return nil
}

// leaveNetpoller drops Conn (and with it the socket's registration with
// Go's netpoller) for an event loop, which reads and writes FD itself.
// LeaveNetpoller drops the connection's net.Conn (an event loop reads and
// writes FD itself from now on; Materialize makes it again). It does
// nothing for a connection without FD.
func (c *Conn) LeaveNetpoller() { c.leaveNetpoller() }

func (c *Conn) leaveNetpoller() {
	if c.Conn != nil && c.Sock.FD() >= 0 {
		c.Conn.Close()
		c.Conn = nil
	}
}

// Release returns the connection for reuse after an exchange that finished
// cleanly (response fully read, nothing unread in R). It goes to a waiting
// caller or the idle list, or is closed if the idle list is full, the target
// has been retired, or R still holds unread bytes. Calling Release or Close
// again before the next Acquire does nothing.
func (c *Conn) Release() {
	if c.R == nil {
		return
	}
	if c.R.Buffered() > 0 || (c.Conn != nil && c.Conn.SetDeadline(time.Time{}) != nil) || (c.bridge != nil && !c.bridge.Reusable()) {
		c.Close()
		return
	}
	t := c.t
	c.detach()
	t.pool.put(c)
}

// Close discards the connection (after an error, a "Connection: close"
// response or a half-read body) and frees its pool slot.
func (c *Conn) Close() {
	if c.R == nil {
		return
	}
	t := c.t
	c.detach()
	t.pool.discard(c)
}

// lend marks c as lent to a caller: it counts as active and gets a reader.
func (c *Conn) lend(reused bool) {
	c.Reused = reused
	c.R = c.t.readers.Get().(*bufio.Reader)
	c.Sock.SetNonblocking(false)
	c.R.Reset(&c.src)
	c.t.active.Add(1)
}

// detach undoes lend: R goes back to its sync.Pool, the active count drops.
func (c *Conn) detach() {
	c.R.Reset(nil)
	c.t.readers.Put(c.R)
	c.R = nil
	c.t.active.Add(-1)
}

// closeSocket closes the underlying connection; the slot is the caller's
// business.
func (c *Conn) closeSocket() {
	if c.Conn != nil {
		_ = c.Conn.Close()
	}
	c.Sock.Close()
}

// trustWindow is how long after its last use an idle connection is handed
// out without the liveness check: an upstream rarely closes a connection
// that fresh, and if it did the engine's keep-alive-race retry covers a
// request that is safe to send twice (AcquireVerified checks for the
// others). Under load this saves a recvfrom(2) per request.
const trustWindow = time.Second

// recentlyUsed reports whether the connection went idle less than
// trustWindow ago.
func (c *Conn) recentlyUsed(now time.Time) bool {
	return now.Sub(c.idleSince) < trustWindow
}

// alive reports whether an idle connection may be handed out: a
// non-blocking MSG_PEEK recv must find nothing to read (EAGAIN). EOF means
// the server closed it; an error means it was reset; unsolicited bytes (a
// server's 408, say) mean the stream is out of step — none of these is
// reusable.
func (c *Conn) alive() bool {
	if c.t.tls != nil {
		return c.aliveTLS()
	}
	return c.Sock.Silent()
}

// newReaderPool returns the sync.Pool that Conn.R readers come from.
func newReaderPool() *sync.Pool {
	return &sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readerSize) }}
}
