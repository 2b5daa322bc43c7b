package proxy

import (
	"bufio"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"tollgate/internal/testkit"
)

// TestLoopKeepAliveRace: the upstream closes a
// pooled connection right after answering, without saying so. The next
// request, sent from the loop on that connection (trusted without a
// liveness check: used less than a second ago), meets a reset; it must
// be retried once on a fresh connection — dialled off the loop, sent and
// answered on it, with nothing handed to a worker.
func TestLoopKeepAliveRace(t *testing.T) {
	var closed atomic.Int32
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := r.ReadString('\n'); err != nil || skipHead(r) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close() // without Connection: close
		closed.Add(1)
	})
	e, addr := newConfEngine(t, origin, oneRoute)
	c, r := dialT(t, addr)
	for i := 0; i < 4; i++ {
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := statusOf(t, r); got != "200" {
			t.Fatalf("request %d: %s", i, got)
		}
		testkit.Eventually(t, "the origin to close the connection", func() bool { return closed.Load() == int32(i+1) })
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("handed off %d requests, want none", n)
	}
	if n := e.servedInline.Load(); n != 4 {
		t.Errorf("%d of 4 requests served on the loop", n)
	}
}
