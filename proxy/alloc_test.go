//go:build !race

package proxy

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

// TestSmallGETDoesNotAllocate pins the hot path: a keep-alive GET through
// the engine (client and origin on loopback TCP, idle parking on) makes no
// heap allocation.
func TestSmallGETDoesNotAllocate(t *testing.T) {
	origin := rawOrigin(t, string(bytes.Repeat([]byte("x"), 128)))
	e, stop := newBenchEngine(t, origin)
	defer stop()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go e.Serve(l)
	assertNoAllocs(t, e, l.Addr().String(), "GET /small HTTP/1.1\r\nHost: bench\r\nX-Request-Id: abc\r\n\r\n")
}

// TestJWTLimitedGETDoesNotAllocate: the same for the traffic a gateway
// exists for, a GET with a cached JWT on a route with per-client limits
// (local store, quota not reached), served on the event loop.
func TestJWTLimitedGETDoesNotAllocate(t *testing.T) {
	e, addr := newGatewayEngine(t, rawOrigin(t, string(bytes.Repeat([]byte("x"), 128))))
	assertNoAllocs(t, e, addr, "GET /jwt HTTP/1.1\r\nHost: bench\r\nX-Request-Id: abc\r\nAuthorization: Bearer "+
		hs256Token(t, "bench-client")+"\r\n\r\n")
}

// assertNoAllocs sends req over one keep-alive connection to addr and
// fails if a request allocates, or if the requests were not served on the
// event loop.
func assertNoAllocs(t *testing.T, e *Engine, addr, req string) {
	t.Helper()
	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	br := bufio.NewReaderSize(client, 8192)
	raw := []byte(req)
	roundTrip := func() {
		if _, err := client.Write(raw); err != nil {
			t.Fatal(err)
		}
		if status, _ := br.Peek(12); string(status) != "HTTP/1.1 200" {
			t.Fatalf("status line %q", status)
		}
		if err := readResponse(br); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		roundTrip()
	}
	inline := e.servedInline.Load()
	if avg := testing.AllocsPerRun(500, roundTrip); avg > 0.05 {
		t.Fatalf("%.2f allocations per request, want 0", avg)
	}
	if n := e.servedInline.Load() - inline; n < 500 {
		t.Fatalf("%d of 501 requests served on the event loop: the loop path went unmeasured", n)
	}
}
