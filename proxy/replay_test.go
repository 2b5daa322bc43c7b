package proxy

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// An upstream that drops a request unanswered on a reused connection may
// have acted on it: a POST is answered 502 and not sent again, while a
// POST carrying an Idempotency-Key, or a GET, is replayed once on a fresh
// connection.
func TestReplayAfterDropOnlyWhenSafe(t *testing.T) {
	var drop atomic.Bool // the next request is read and dropped
	var seen atomic.Int32
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cl := 0
			for {
				h, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if h == "\r\n" {
					break
				}
				if v, ok := strings.CutPrefix(h, "Content-Length: "); ok {
					cl, _ = strconv.Atoi(strings.TrimSpace(v))
				}
			}
			io.CopyN(io.Discard, r, int64(cl))
			if !strings.HasPrefix(line, "GET /warm") {
				seen.Add(1)
			}
			if drop.CompareAndSwap(true, false) {
				c.Close() // read, then gone without a word
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	_, addr := newConfEngine(t, origin, oneRoute)
	for _, tc := range []struct {
		req        string
		status     string
		originSeen int32
	}{
		{"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\ndata", "502", 1},
		{"POST /p HTTP/1.1\r\nHost: a\r\nIdempotency-Key: k1\r\nContent-Length: 4\r\n\r\ndata", "200", 2},
		{"GET /g HTTP/1.1\r\nHost: a\r\n\r\n", "200", 2},
	} {
		c, r := dialT(t, addr)
		io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n") // the upstream connection is pooled
		if got := statusOf(t, r); got != "200" {
			t.Fatalf("warm-up: %s", got)
		}
		seen.Store(0)
		drop.Store(true)
		io.WriteString(c, tc.req)
		if got := statusOf(t, r); got != tc.status {
			t.Errorf("%q: status %s, want %s", firstLine(tc.req), got, tc.status)
		}
		if n := seen.Load(); n != tc.originSeen {
			t.Errorf("%q: the origin saw it %d times, want %d", firstLine(tc.req), n, tc.originSeen)
		}
		c.Close()
	}
}

func firstLine(s string) string { line, _, _ := strings.Cut(s, "\r\n"); return line }
