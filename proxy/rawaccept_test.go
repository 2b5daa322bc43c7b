package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// A connection whose requests the loop serves never gets a net.Conn (its
// socket stays out of Go's netpoller); the first request a worker serves
// (a POST with a body) gives it one, and the loop serves its next GETs
// again.
func TestRawSessionGetsANetConnOnlyForAWorker(t *testing.T) {
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, ok := readRequestT(r); !ok {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	e, addr := newConfEngine(t, origin, oneRoute)
	warm, wr := dialT(t, addr) // its request dials the upstream connection, on a worker
	io.WriteString(warm, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := statusOf(t, wr); got != "200" {
		t.Fatalf("warm-up: %s", got)
	}
	c, r := dialT(t, addr)
	port := c.LocalAddr().(*net.TCPAddr).Port
	get := func() {
		t.Helper()
		io.WriteString(c, "GET /g HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := statusOf(t, r); got != "200" {
			t.Fatalf("GET: %s", got)
		}
	}
	hasConn := func() bool {
		t.Helper()
		e.mu.Lock()
		defer e.mu.Unlock()
		for s := range e.sessions {
			if int(s.peer.Port()) != port {
				continue
			}
			if !s.ownFD {
				t.Fatal("the session does not own a raw socket")
			}
			return s.c != nil
		}
		t.Fatal("no session for the client")
		return false
	}
	for range 3 {
		get()
	}
	if hasConn() {
		t.Fatal("a connection served on the loop only got a net.Conn")
	}
	// A body larger than the loop reads whole is streamed by a worker.
	// (Lines, so that the test origin, which reads heads only, answers it
	// once.)
	body := strings.Repeat("xy\r\n", pooledBody/4+1)
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	if got := statusOf(t, r); got != "200" {
		t.Fatalf("POST: %s", got)
	}
	if !hasConn() {
		t.Fatal("a worker served the POST without a net.Conn")
	}
	inline := e.servedInline.Load()
	get()
	if e.servedInline.Load() == inline {
		t.Error("the GET after the POST was not served on the loop")
	}
}

// A session that cannot be served (no net.Conn for its worker) is closed
// with the request a loop was handing over: its exchange ends (what its
// filters took is given back) and its socket is closed.
func TestDropSessionEndsTheExchangeAndClosesTheSocket(t *testing.T) {
	e, _ := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	s := newRawSession(fds[0], netip.AddrPort{})
	if !e.track(s) {
		t.Fatal("not tracked")
	}
	var ended atomic.Int32
	cc := e.connPool.Get().(*clientConn)
	cc.attachLoop(s)
	cc.x.OnEnd(countEnder{&ended})
	e.dropSession(s, cc, errors.New("no descriptors left"))
	if ended.Load() != 1 {
		t.Errorf("exchange ended %d times, want once", ended.Load())
	}
	unix.SetNonblock(fds[1], true)
	if n, err := unix.Read(fds[1], make([]byte, 1)); n != 0 || err != nil {
		t.Errorf("the peer reads %d, %v; want EOF: the session's socket is still open", n, err)
	}
}
