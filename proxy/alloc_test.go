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
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	req := []byte("GET /small HTTP/1.1\r\nHost: bench\r\nX-Request-Id: abc\r\n\r\n")
	br := bufio.NewReaderSize(client, 8192)
	roundTrip := func() {
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
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
