package upstream

import (
	"errors"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// A connection an event loop takes (AcquireIdle) leaves Go's netpoller: it
// has no net.Conn and is read and written through FD. A goroutine that
// takes it next (Acquire) gets a working net.Conn again, on the same
// socket, and so does a loop that hands it over (Materialize).
func TestLoopHeldConnLeavesTheNetpoller(t *testing.T) {
	srv := newServer(t)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), defaultPool, srv.addr)
	c := mustAcquire(t, tg)
	if c.Conn == nil || c.Sock.FD() < 0 {
		t.Fatalf("dialled conn: net.Conn %v, fd %d", c.Conn, c.Sock.FD())
	}
	fd := c.Sock.FD()
	exchange(t, c)
	c.Release()

	l, ok := tg.AcquireIdle(1, false)
	if !ok || l != c {
		t.Fatalf("AcquireIdle: %v %v, want the pooled conn", l, ok)
	}
	if l.Conn != nil || l.Sock.FD() != fd {
		t.Fatalf("loop-held conn: net.Conn %v, fd %d (was %d); want none and the same fd", l.Conn, l.Sock.FD(), fd)
	}
	loopExchange(t, l)
	l.Release()

	w, err := tg.Acquire(time.Time{})
	if err != nil || w != c || w.Conn == nil {
		t.Fatalf("Acquire after the loop: %v %v, net.Conn %v", w, err, w != nil && w.Conn != nil)
	}
	exchange(t, w)
	w.Release()

	h, _ := tg.AcquireIdle(1, false)
	loopExchange(t, h)
	if err := h.Materialize(); err != nil || h.Conn == nil {
		t.Fatalf("Materialize: %v", err)
	}
	exchange(t, h)
	h.Release()
	if n := srv.accepted.Load(); n != 1 {
		t.Fatalf("the server accepted %d connections, want 1 (one socket throughout)", n)
	}
}

// loopExchange does one ping/pong as an event loop does: a non-blocking
// write, then non-blocking reads until the whole answer is there (bounded).
func loopExchange(t *testing.T, c *Conn) {
	t.Helper()
	c.Sock.SetNonblocking(true)
	defer c.Sock.SetNonblocking(false)
	if _, err := c.WriteNow([]byte("ping\n")); err != nil {
		t.Fatalf("WriteNow: %v", err)
	}
	// Peek keeps what a short read brought; ReadString would drop it.
	var err error
	if !testkit.Poll(5*time.Second, time.Millisecond, func() bool {
		_, err = c.R.Peek(len("pong\n"))
		return !errors.Is(err, ErrWouldBlock)
	}) || err != nil {
		t.Fatalf("read: %v", err)
	}
	if line, err := c.R.ReadString('\n'); err != nil || line != "pong\n" {
		t.Fatalf("answer %q, %v", line, err)
	}
}
