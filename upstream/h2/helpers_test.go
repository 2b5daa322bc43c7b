package h2

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"tollgate/proxy/http1"
)

// newTestPool returns a pool of h2c connections to addr, retired when the
// test ends.
func newTestPool(t testing.TB, addr string) *Pool {
	t.Helper()
	p := NewPool(Options{Addr: addr, Dial: func(deadline time.Time) (net.Conn, error) {
		d := net.Dialer{Deadline: deadline, Timeout: 2 * time.Second}
		return d.Dial("tcp", addr)
	}, IdleTimeout: time.Minute})
	t.Cleanup(p.Retire)
	return p
}

// prepared returns a bridge of p with a stream reserved.
func prepared(t *testing.T, p *Pool) *Bridge {
	t.Helper()
	b := p.NewBridge()
	if _, err := b.Prepare(time.Now().Add(5*time.Second), 2*time.Second); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return b
}

// exchange is what an exchange reads back from a bridge: the parsed head
// and the body decoded by its framing, with the raw bytes of the chunked
// tail (last chunk and trailers).
type exchange struct {
	resp  http1.Response
	body  []byte
	tail  string // "0\r\n" + trailer lines + "\r\n" for a chunked body
	chunk int    // chunks read
}

// readResponse reads one rendered response from r the way the gateway
// does (http1's parser), with the read deadline 5 s away.
func readResponse(t *testing.T, b *Bridge, r *bufio.Reader, isHead bool) *exchange {
	t.Helper()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	x := &exchange{}
	if err := x.resp.ReadHead(r, 64<<10); err != nil {
		t.Fatalf("response head: %v", err)
	}
	if err := x.resp.Parse(); err != nil {
		t.Fatalf("response head parse: %v", err)
	}
	switch {
	case x.resp.Bodyless(isHead):
	case x.resp.Chunked:
		x.readChunks(t, r)
	case x.resp.ContentLen >= 0:
		x.body = make([]byte, x.resp.ContentLen)
		if _, err := io.ReadFull(r, x.body); err != nil {
			t.Fatalf("body: %v", err)
		}
	default:
		t.Fatal("a rendered response must be framed")
	}
	return x
}

// readChunks decodes a chunked body strictly, keeping the trailer lines.
func (x *exchange) readChunks(t *testing.T, r *bufio.Reader) {
	t.Helper()
	var sc http1.ChunkScanner
	sc.Reset(4 << 10)
	for !sc.Done() {
		if _, err := r.Peek(1); err != nil {
			t.Fatalf("chunked body: %v", err)
		}
		b, _ := r.Peek(r.Buffered())
		n, data, err := sc.Next(b)
		if err != nil {
			t.Fatalf("chunked body: %v", err)
		}
		if n == 0 {
			if _, err := r.Peek(len(b) + 1); err != nil {
				t.Fatalf("chunked body: %v", err)
			}
			continue
		}
		if len(data) > 0 {
			x.chunk++
		}
		x.body = append(x.body, data...)
		// Sizes are rendered without leading zeros: only the last chunk's
		// line starts with "0"; the trailer lines follow it.
		if line := string(b[:n]); len(data) == 0 && (x.tail != "" || line[0] == '0') {
			x.tail += line
		}
		r.Discard(n)
	}
}

// isTimeout reports a deadline error, as the exchange tells them.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// startHTTP1 serves HTTP/1.1 only on 127.0.0.1 until the test ends.
func startHTTP1(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
