package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamWait is how long a forwarded chunk may take to reach the origin.
const streamWait = 2 * time.Second

// progress is what an origin has decoded of a request body so far.
type progress struct {
	mu      sync.Mutex
	got     string
	changed chan struct{} // closed and replaced on every change
}

func newProgress() *progress { return &progress{changed: make(chan struct{})} }

func (p *progress) set(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = s
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitFor waits until the origin has decoded exactly want, at most d.
func (p *progress) waitFor(t *testing.T, want string, d time.Duration, what string) {
	t.Helper()
	timeout := time.After(d)
	for {
		p.mu.Lock()
		got, changed := p.got, p.changed
		p.mu.Unlock()
		if got == want {
			return
		}
		if !strings.HasPrefix(want, got) {
			t.Fatalf("%s: origin has %q, want %q", what, got, want)
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("%s: after %v the origin has %q, want %q", what, d, got, want)
		}
	}
}

// TestChunkedUploadStreamsEachChunk: a chunked upload whose client sends a
// small chunk and pauses reaches the origin (a net/http server) at once,
// chunk by chunk, while the client still holds the rest; the whole body
// arrives in order and the client gets the origin's answer.
func TestChunkedUploadStreamsEachChunk(t *testing.T) {
	p := newProgress()
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		var all []byte
		buf := make([]byte, 256)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				all = append(all, buf[:n]...)
				p.set(string(all))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		fmt.Fprintf(w, "origin got %s", all)
	})
	g := startGateway(t, basicConfig(o.addr, ""))

	c, send := rawClient(t, g.addr, 15*time.Second)
	send("POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	p.waitFor(t, "hello", streamWait, "first chunk, client paused")
	send("6\r\n world\r\n")
	p.waitFor(t, "hello world", streamWait, "second chunk, client paused")
	// A burst: several chunks and the end of the body in one write.
	send("1\r\n,\r\n3;ext=x\r\n st\r\n5\r\nream!\r\n0\r\n\r\n")

	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	const want = "hello world, stream!"
	if err != nil || resp.StatusCode != 200 || string(body) != "origin got "+want {
		t.Fatalf("answer: %d %q %v", resp.StatusCode, body, err)
	}
	p.waitFor(t, want, streamWait, "whole body")
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin saw %d requests", n)
	}
}

// rawClient dials addr for a test that writes its request by hand; send
// writes to it. Reads and writes give up after d; the connection closes
// at the test's end.
func rawClient(t *testing.T, addr string, d time.Duration) (net.Conn, func(string)) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(d))
	return c, func(s string) {
		t.Helper()
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
	}
}

// decodeChunks decodes as much of a chunked body as wire holds, the
// bytes of an incomplete chunk included; end reports the last chunk.
func decodeChunks(wire string) (body string, end bool) {
	var b strings.Builder
	for {
		line, rest, ok := strings.Cut(wire, "\r\n")
		if !ok {
			return b.String(), false
		}
		size, err := strconv.ParseInt(strings.SplitN(line, ";", 2)[0], 16, 64)
		if err != nil {
			return b.String() + "<bad chunk size " + strconv.Quote(line) + ">", false
		}
		if size == 0 {
			return b.String(), strings.HasSuffix(rest, "\r\n")
		}
		if int64(len(rest)) < size {
			b.WriteString(rest)
			return b.String(), false
		}
		b.WriteString(rest[:size])
		wire = strings.TrimPrefix(rest[size:], "\r\n")
	}
}

// TestChunkedUploadStreamsPartialChunk: a chunk whose bytes arrive in
// pieces is forwarded piece by piece (a raw origin sees the bytes on the
// wire, before the chunk is complete), and a head with no body yet
// reaches the origin too.
func TestChunkedUploadStreamsPartialChunk(t *testing.T) {
	p := newProgress()
	heads := make(chan string, 1)
	addr, _ := rawOrigin(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(15 * time.Second))
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		heads <- head.String()
		var wire []byte
		buf := make([]byte, 256)
		for {
			n, err := br.Read(buf)
			wire = append(wire, buf[:n]...)
			body, end := decodeChunks(string(wire))
			if n > 0 {
				p.set(body)
			}
			if end {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
				return
			}
			if err != nil {
				return
			}
		}
	})
	g := startGateway(t, basicConfig(addr, ""))

	c, send := rawClient(t, g.addr, 15*time.Second)
	send("POST /partial HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	select {
	case head := <-heads:
		if !strings.HasPrefix(head, "POST /partial HTTP/1.1\r\n") || !strings.Contains(strings.ToLower(head), "transfer-encoding: chunked\r\n") {
			t.Fatalf("origin head: %q", head)
		}
	case <-time.After(streamWait):
		t.Fatalf("the head of a chunked request with no body yet did not reach the origin within %v", streamWait)
	}
	send("7\r\nhel")
	p.waitFor(t, "hel", streamWait, "part of a chunk, client paused")
	send("lo")
	p.waitFor(t, "hello", streamWait, "more of the chunk")
	send(" w")
	p.waitFor(t, "hello w", streamWait, "the chunk's last bytes, its CRLF not sent yet")
	send("\r\n5\r\norld!\r\n0\r\n\r\n")

	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "hello world!" {
		t.Fatalf("answer: %d %q %v", resp.StatusCode, body, err)
	}
}

// TestChunkedUploadOverLimitRefusedAtChunkSize: a chunk that announces more
// than max_body_bytes is refused with 413 as soon as its size line is read,
// without waiting for its bytes, and nothing reaches the origin.
func TestChunkedUploadOverLimitRefusedAtChunkSize(t *testing.T) {
	o := startOrigin(t, echoHandler)
	g := startGateway(t, strings.Replace(basicConfig(o.addr, ""), "read_header_timeout: 2s", "read_header_timeout: 2s\n  max_body_bytes: 1000", 1))
	c, send := rawClient(t, g.addr, streamWait)
	// 4 bytes of a 2000-byte chunk, then the client waits for the answer.
	send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\nyyyy")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", streamWait, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if n := o.requests.Load(); n != 0 {
		t.Fatalf("%d refused requests reached the origin", n)
	}
}
