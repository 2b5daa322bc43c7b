//go:build !race

package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
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

// TestChunkedTrailersDoNotAllocate: a chunked answer re-framed for an
// HTTP/1.1 client makes no heap allocation on the event loop, without
// trailer fields and with them (the connection's trailer buffer is
// reused), and the fields reach the wire after the last chunk.
func TestChunkedTrailersDoNotAllocate(t *testing.T) {
	for _, trailer := range []string{"", grpcTrailer} {
		e, addr := newConfEngine(t, chunkedOrigin(t, trailer), oneRoute)
		want := "80\r\n" + strings.Repeat("x", 128) + "\r\n0\r\n" + strings.TrimSuffix(trailer, "Host: evil\r\n") + "\r\n"
		if got := trailerWire(t, addr); got != want {
			t.Fatalf("body on the wire %q, want %q", got, want)
		}
		assertNoAllocsReading(t, e, addr, "GET /call HTTP/1.1\r\nHost: bench\r\n\r\n", readChunkedResponse)
	}
}

// assertNoAllocs sends req over one keep-alive connection to addr and
// fails if a request allocates, or if the requests were not served on the
// event loop.
func assertNoAllocs(t *testing.T, e *Engine, addr, req string) {
	t.Helper()
	assertNoAllocsReading(t, e, addr, req, readResponse)
}

// assertNoAllocsReading is assertNoAllocs for answers read by read.
func assertNoAllocsReading(t *testing.T, e *Engine, addr, req string, read func(*bufio.Reader) error) {
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
		if err := read(br); err != nil {
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

// trailerWire is what the client reads of a chunked answer with trailers
// (checked once, outside the allocation count).
func trailerWire(t *testing.T, addr string) string {
	t.Helper()
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /call HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(r)
	_, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	return string(body)
}
