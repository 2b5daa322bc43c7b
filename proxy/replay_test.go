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
			line, ok := readRequestT(r)
			if !ok {
				return
			}
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

// A 503 is retried on the other target for a POST only when it carries an
// Idempotency-Key (retries.on includes 503 by default).
func TestStatusRetryOfPostNeedsIdempotencyKey(t *testing.T) {
	var hits503 atomic.Int32
	answer := func(status string, n *atomic.Int32) string {
		return originFunc(t, func(c net.Conn, r *bufio.Reader) {
			for {
				if _, ok := readRequestT(r); !ok {
					return
				}
				if n != nil {
					n.Add(1)
				}
				io.WriteString(c, "HTTP/1.1 "+status+"\r\nContent-Length: 0\r\n\r\n")
			}
		})
	}
	bad, good := answer("503 Service Unavailable", &hits503), answer("200 OK", nil)
	_, addr := newConfEngine(t, bad, `
server: {listen: "127.0.0.1:0"}
admin: {listen: ""}
upstreams: {app: {targets: ["ORIGIN", "`+good+`"], balance: round_robin}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`)
	for _, tc := range []struct {
		key, want string
	}{{"", "503"}, {"Idempotency-Key: k2\r\n", "200"}} {
		// Round robin alternates targets: send until one request met the 503 target.
		before := hits503.Load()
		for i := 0; hits503.Load() == before; i++ {
			if i == 4 {
				t.Fatal("no request reached the 503 target")
			}
			c, r := dialT(t, addr)
			io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\n"+tc.key+"Content-Length: 2\r\n\r\nhi")
			got := statusOf(t, r)
			c.Close()
			if hits503.Load() != before && got != tc.want {
				t.Fatalf("POST %q meeting a 503: got %s, want %s", tc.key, got, tc.want)
			}
		}
	}
}

// readRequestT reads one request (head and Content-Length body) as a test
// origin, returning its request line; false when the connection ended.
func readRequestT(r *bufio.Reader) (string, bool) {
	line, _, ok := readRequestBody(r)
	return line, ok
}

// readRequestBody is readRequestT that also returns the body.
func readRequestBody(r *bufio.Reader) (line string, body []byte, ok bool) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", nil, false
	}
	cl := 0
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return "", nil, false
		}
		if h == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(h, "Content-Length: "); ok {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body = make([]byte, cl)
	_, err = io.ReadFull(r, body)
	return line, body, err == nil
}
