package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// TestDrainAnswersTheNextKeepAliveRequest: once shutdown begins, a
// keep-alive connection that sends its next request within the grace gets
// it answered with Connection: close (closing it at once would race with
// that request), and one that sends nothing is closed when the grace ends.
func TestDrainAnswersTheNextKeepAliveRequest(t *testing.T) {
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := r.ReadString('\n'); err != nil || skipHead(r) != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	e, addr := newConfEngine(t, origin, oneRoute)
	busy, busyR := dialT(t, addr)
	idle, idleR := dialT(t, addr)
	for _, c := range []struct {
		c net.Conn
		r *bufio.Reader
	}{{busy, busyR}, {idle, idleR}} {
		io.WriteString(c.c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := statusOf(t, c.r); got != "200" {
			t.Fatal(got)
		}
	}
	testkit.Eventually(t, "both connections to park", func() bool { return e.reactor.parkedCount() == 2 })
	start := time.Now()
	done := startShutdown(e)
	testkit.Eventually(t, "the engine to drain", e.draining.Load)
	io.WriteString(busy, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(busyR, nil)
	if err != nil {
		t.Fatalf("the request sent after shutdown began: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || !resp.Close {
		t.Fatalf("answer during the drain: %d %q, Connection: %q", resp.StatusCode, body, resp.Header.Get("Connection"))
	}
	if _, err := busyR.ReadByte(); err != io.EOF {
		t.Fatalf("after its answer the connection gave %v, want EOF", err)
	}
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if waited := time.Since(start); waited > keepAliveGrace+2*time.Second {
		t.Errorf("the idle connection was closed after %v, want about %v", waited, keepAliveGrace)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
