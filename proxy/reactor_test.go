package proxy

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

func TestTimingWheel(t *testing.T) {
	var w timingWheel
	start := time.Unix(1000, 0)
	w.init(100*time.Millisecond, 8, start)
	mk := func() *session { return &session{wheel: wheelLink{slot: -1}} }
	a, b, c, far := mk(), mk(), mk(), mk()
	w.insert(a, start.Add(250*time.Millisecond))
	w.insert(b, start.Add(250*time.Millisecond))
	w.insert(c, start.Add(450*time.Millisecond))
	w.insert(far, start.Add(2*time.Second)) // more than one revolution ahead
	w.remove(b)
	w.remove(b) // twice is harmless
	if got := w.advance(start.Add(200*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("expired early: %d", len(got))
	}
	if got := w.advance(start.Add(300*time.Millisecond), nil); len(got) != 1 || got[0] != a {
		t.Fatalf("at 300ms: %v", got)
	}
	if got := w.advance(start.Add(time.Second), nil); len(got) != 1 || got[0] != c {
		t.Fatalf("at 1s: %v", got)
	}
	if got := w.advance(start.Add(1900*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("far one expired a revolution early")
	}
	if got := w.advance(start.Add(2200*time.Millisecond), nil); len(got) != 1 || got[0] != far {
		t.Fatalf("at 2.2s: %v", got)
	}
}

// TestIdleConnectionsParkAndExpire opens idle keep-alive connections: they
// are parked in the reactor without a goroutine each, still answer when
// used again, and are closed when the idle timeout passes.
func TestIdleConnectionsParkAndExpire(t *testing.T) {
	origin := rawOrigin(t, "hello")
	e, stop := newBenchEngineIdle(t, origin, "700ms")
	defer stop()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go e.Serve(l)
	before := runtime.NumGoroutine()
	const n = 300
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], readers[i] = c, bufio.NewReader(c)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if err := readResponse(readers[i]); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, "every idle connection to park", func() bool { return e.reactor.parkedCount() == n })
	if g := runtime.NumGoroutine() - before; g > maxIdleWorkers+20 {
		t.Errorf("%d goroutines for %d idle connections", g, n)
	}
	// A parked connection wakes up for its next request.
	io.WriteString(conns[7], "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	conns[7].SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := readResponse(readers[7]); err != nil {
		t.Fatalf("woken connection: %v", err)
	}
	// After idle_timeout every connection is closed by the gateway.
	testkit.Eventually(t, "the idle connections to expire", func() bool { return e.reactor.parkedCount() == 0 })
	conns[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := readers[0].ReadByte(); err != io.EOF {
		t.Fatalf("expired connection read: %v", err)
	}
}
