package proxy

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestLoopHalfCloseAfterInlineRequest: a client sends a request and shuts
// down its write side at once. One edge-triggered event covers both the
// request and the FIN, and the read that takes the request is short, so
// only the event's RDHUP says the end is queued: the loop must read on and
// close after the answer, not park the connection until idle_timeout.
func TestLoopHalfCloseAfterInlineRequest(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	w, wr := dialT(t, addr)
	io.WriteString(w, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n") // fills the pool
	if err := readResponse(wr); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		inline := e.servedInline.Load()
		c, r := dialT(t, addr)
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		if err := readResponse(r); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := r.ReadByte()
		if err != io.EOF {
			t.Fatalf("connection %d (served inline: %v): after the answer to a half-closed client: %v, want EOF within 1s (idle_timeout is the default)",
				i, e.servedInline.Load() > inline, err)
		}
	}
}
