package proxy

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestReviewHalfCloseAfterInlineRequest: a client sends a request and
// shuts down its write side at once. The loop's read takes the request
// (a short read, so clientIO treats the socket as drained) while the FIN
// is already queued; the single edge-triggered event that woke the loop
// covered both, so after answering the loop parks the session and no new
// event ever reports the EOF. The connection stays open until
// idle_timeout instead of being closed after the answer (as the worker
// path does: its read sees EOF).
func TestReviewHalfCloseAfterInlineRequest(t *testing.T) {
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
