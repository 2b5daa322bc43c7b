package proxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/internal/testkit"
	"tollgate/proxy/http1"
)

// chunkOrigin reads each request's chunked body with http1's reader and
// answers it back; every piece it decodes is sent on pieces as it comes,
// and what it receives is counted in st.
func chunkOrigin(t *testing.T, pieces chan<- string, st *originStats) string {
	return originFunc(t, func(c net.Conn, r *bufio.Reader) {
		st.conns.Add(1)
		defer st.ended.Add(1)
		if _, err := r.Peek(1); err == nil {
			st.fed.Add(1)
		}
		for {
			if _, err := r.ReadString('\n'); err != nil || skipHead(r) != nil {
				return
			}
			var cr http1.ChunkedReader
			cr.Reset(r)
			var body []byte
			buf := make([]byte, 4096)
			for {
				n, err := cr.Read(buf)
				if n > 0 {
					body = append(body, buf[:n]...)
					select {
					case pieces <- string(buf[:n]):
					default:
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+string(body))
		}
	})
}

// originStats counts a test origin's connections: accepted, ended, and
// those that received any byte.
type originStats struct{ conns, ended, fed atomic.Int32 }

// A chunked upload streams on the loop: a chunk followed by a pause
// reaches the upstream while the client holds the rest, the answer comes
// back on the loop, and nothing goes to a worker.
func TestLoopStreamsAChunkedUpload(t *testing.T) {
	pieces := make(chan string, 16)
	e, addr := newConfEngine(t, chunkOrigin(t, pieces, new(originStats)), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	select {
	case p := <-pieces:
		if p != "hello" {
			t.Fatalf("first piece %q", p)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the first chunk did not reach the upstream while the client held the rest")
	}
	io.WriteString(c, "6\r\n world\r\n0\r\n\r\n")
	status, got := readBody(t, r)
	if status != "200" || got != "hello world" {
		t.Fatalf("%s %q", status, got)
	}
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
	if status, got := readBody(t, r); status != "200" || got != "abcdef" {
		t.Fatalf("second upload: %s %q", status, got)
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d hand-offs to workers", n)
	}
}

// A malformed chunked body is answered 400 and one over max_body_bytes
// 413 (refused at the chunk's announced size), both closing the
// connection; nothing of them reaches the upstream, not even the head.
func TestLoopRefusesBadUploads(t *testing.T) {
	conf := strings.Replace(oneRoute, `server: {listen: "127.0.0.1:0"}`, `server: {listen: "127.0.0.1:0", max_body_bytes: 1000}`, 1)
	var st originStats
	_, addr := newConfEngine(t, chunkOrigin(t, make(chan string, 16), &st), conf)
	for _, tc := range []struct{ body, want string }{
		{"5\r\nhelloXX0\r\n\r\n", "400"},
		{"zz\r\n", "400"},
		{"7d0\r\nabcd", "413"},
	} {
		c, r := dialT(t, addr)
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body)
		if got := statusOf(t, r); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.body, got, tc.want)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("%q: the connection stayed open (%v)", tc.body, err)
		}
	}
	// A good upload after them: once it is answered, the origin has
	// accepted every connection taken before it (one per refused upload).
	c, r := dialT(t, addr)
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
	if status, got := readBody(t, r); status != "200" || got != "ok" {
		t.Fatalf("good upload: %s %q", status, got)
	}
	testkit.Eventually(t, "the refused uploads' upstream connections to end", func() bool {
		return st.conns.Load() == 4 && st.ended.Load() == 3
	})
	if n := st.fed.Load(); n != 1 {
		t.Errorf("%d upstream connections received bytes, want only the good upload's", n)
	}
}
