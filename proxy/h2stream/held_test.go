package h2stream

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/internal/testkit"
	"tollgate/proxy/sock"
)

// startInline serves one connection whose streams Config.Inline hands,
// non-blocking, to the returned channel, and returns a client on it.
func startInline(t *testing.T) (*rawH2, <-chan *Conn) {
	t.Helper()
	taken := make(chan *Conn, 4)
	c, _ := startRaw(t, Config{
		Serve:  func(*Conn) { t.Error("a stream Inline could take went to a runner") },
		Inline: func(sc *Conn) (*Batch, bool) { taken <- sc; return nil, true },
	})
	return c, taken
}

// readAnswer reads one stream's answer as the client sees it, granting
// window as DATA comes: the body, and the trailer fields (nil without).
func (c *rawH2) readAnswer(id uint32) (body []byte, trailers []hpack.HeaderField) {
	c.t.Helper()
	for {
		f := c.until(func(f http2.Frame) bool { return f.Header().StreamID == id })
		switch f := f.(type) {
		case nil:
			c.t.Fatalf("the connection ended before stream %d's answer did", id)
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				if len(body) > 0 || f.PseudoValue("status") == "" {
					trailers = f.Fields
				}
				return body, trailers
			}
		case *http2.DataFrame:
			body = append(body, f.Data()...)
			if n := uint32(len(f.Data())); n > 0 {
				c.fr.WriteWindowUpdate(0, n)
				c.fr.WriteWindowUpdate(id, n)
			}
			if f.StreamEnded() {
				return body, nil
			}
		case *http2.RSTStreamFrame:
			c.t.Fatalf("stream %d reset (%v) before its answer ended", id, f.ErrCode)
		}
	}
}

// TestNonblockingWriteHoldsWhatTheWindowRefuses: a stream written without
// waiting takes the whole answer at once, holds what the client's 100-byte
// window refuses (Held says so), and Flush, on another goroutine, sends
// it as the window opens — the body whole, then its end: END_STREAM, or
// the trailers.
func TestNonblockingWriteHoldsWhatTheWindowRefuses(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	answers := map[string]string{
		"length":  "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + body,
		"chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + body + "\r\n0\r\nGrpc-Status: 0\r\n\r\n",
	}
	c, taken := startInline(t)
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
	for i, kind := range []string{"length", "chunked"} {
		id := uint32(2*i + 1)
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block("/" + kind), EndStream: true, EndHeaders: true})
		sc := <-taken
		if _, err := io.Copy(io.Discard, sc); err != nil {
			t.Fatalf("%s: reading the request: %v", kind, err)
		}
		if n, err := io.WriteString(sc, answers[kind]); err != nil || n != len(answers[kind]) {
			t.Fatalf("%s: a non-blocking write took %d of %d bytes: %v", kind, n, len(answers[kind]), err)
		}
		if n, held := sc.Held(); n != 900 || !held {
			t.Fatalf("%s: %d bytes held (held %v), want the 900 past the window", kind, n, held)
		}
		flushed := make(chan error, 1)
		go func() { sc.SetNonblocking(false); flushed <- sc.Flush() }() // a worker's part
		got, trailers := c.readAnswer(id)
		if err := <-flushed; err != nil {
			t.Fatalf("%s: Flush: %v", kind, err)
		}
		if string(got) != body {
			t.Fatalf("%s: the client got %d bytes, want the 1000 written", kind, len(got))
		}
		if kind == "chunked" && (len(trailers) != 1 || trailers[0].Name != "grpc-status") {
			t.Fatalf("chunked: trailers %v, want grpc-status after the held body", trailers)
		}
		if _, held := sc.Held(); held {
			t.Fatalf("%s: still held after Flush", kind)
		}
		sc.Finish()
	}
}

// TestNonblockingReadSaysWouldBlock: a stream read without waiting
// returns its head, then sock.ErrWouldBlock while its body has not come;
// BodyAtHand tells when it has, whole.
func TestNonblockingReadSaysWouldBlock(t *testing.T) {
	c, taken := startInline(t)
	block := c.block("/up")
	c.hb.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "5"})
	block = append(block, c.hb.Bytes()...)
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true})
	sc := <-taken
	head := make([]byte, 4096)
	n, err := sc.Read(head)
	if err != nil || !bytes.HasSuffix(head[:n], []byte("Content-Length: 5\r\n\r\n")) {
		t.Fatalf("the head: %q, %v", head[:n], err)
	}
	if _, err := sc.Read(head); err != sock.ErrWouldBlock {
		t.Fatalf("a read before the body came: %v, want sock.ErrWouldBlock", err)
	}
	if n, whole := sc.BodyAtHand(); n != 0 || whole {
		t.Fatalf("BodyAtHand before the body: %d, %v", n, whole)
	}
	c.fr.WriteData(1, true, []byte("hello"))
	atHand := func() bool { n, whole := sc.BodyAtHand(); return n == 5 && whole }
	if !testkit.Poll(10*time.Second, 5*time.Millisecond, atHand) {
		n, whole := sc.BodyAtHand()
		t.Fatalf("BodyAtHand 10 s after the body was sent: %d, %v", n, whole)
	}
	got, err := io.ReadAll(sc)
	if err != nil || string(got) != "hello" {
		t.Fatalf("the body: %q, %v", got, err)
	}
	io.WriteString(sc, "HTTP/1.1 204 No Content\r\n\r\n")
	sc.Finish()
}
