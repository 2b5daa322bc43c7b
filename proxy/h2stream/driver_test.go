package h2stream

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/proxy/h2srv"
)

// rawH2 is an HTTP/2 client that writes frames as a test says, over
// loopback to a Server.
type rawH2 struct {
	t   *testing.T
	nc  net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

// startRaw serves one connection with cfg and returns a client on it,
// preface and SETTINGS sent, and the Server.
func startRaw(t *testing.T, cfg Config) (*rawH2, *Server) {
	t.Helper()
	srv := NewServer(&sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		ln.Close()
		if err == nil {
			srv.ServeConn(nc, nil, cfg)
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the connection's driver did not return within 10 s of the client closing")
		}
	})
	c := &rawH2{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hb)
	io.WriteString(nc, http2.ClientPreface)
	c.fr.WriteSettings()
	return c, srv
}

// block encodes a GET of path.
func (c *rawH2) block(path string) []byte {
	c.hb.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "raw.test"}, {Name: ":path", Value: path}} {
		c.enc.WriteField(f)
	}
	return bytes.Clone(c.hb.Bytes())
}

// until reads frames until match says so, the connection ends (nil
// returned) or 10 s pass.
func (c *rawH2) until(match func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return nil
			}
			c.t.Fatalf("reading frames: %v", err)
		}
		if match(f) {
			return f
		}
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

// expectClose reads until the server closes the connection; frames
// before that are skipped. A connection still open 10 s on fails the test
// (until's deadline).
func (c *rawH2) expectClose() {
	c.t.Helper()
	c.until(func(http2.Frame) bool { return false })
}

// goAway matches a GOAWAY frame.
func goAway(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }

// TestIdleConnectionGetsGoAway: a connection with no stream open for
// IdleTimeout gets a GOAWAY, then is closed; a stream open holds it.
func TestIdleConnectionGetsGoAway(t *testing.T) {
	release := make(chan struct{})
	c, _ := startRaw(t, Config{IdleTimeout: 300 * time.Millisecond, Serve: func(sc *Conn) {
		io.Copy(io.Discard, sc)
		<-release
		io.WriteString(sc, "HTTP/1.1 204 No Content\r\n\r\n")
	}})
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("/held"), EndStream: true, EndHeaders: true})
	time.Sleep(600 * time.Millisecond) // past the idle timeout, with the stream open
	close(release)
	start := time.Now()
	var sawAnswer bool
	f := c.until(func(f http2.Frame) bool {
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamEnded() {
			sawAnswer = true
		}
		return goAway(f)
	})
	if !sawAnswer {
		t.Fatal("the held stream's answer did not arrive before the GOAWAY: the idle timeout cut an open stream")
	}
	if f == nil || f.(*http2.GoAwayFrame).ErrCode != http2.ErrCodeNo {
		t.Fatalf("after the stream ended: %v, want a GOAWAY NO_ERROR", f)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("GOAWAY %v after the last stream ended, before the idle timeout", d)
	}
	c.expectClose() // after its GOAWAY
}

// TestHeaderBlockTimeout: a header block begun and stalled closes the
// connection after ReadHeaderTimeout, told to HeaderTimeout once.
func TestHeaderBlockTimeout(t *testing.T) {
	var told atomic.Int32
	c, _ := startRaw(t, Config{IdleTimeout: time.Minute, ReadHeaderTimeout: 300 * time.Millisecond,
		Serve:         func(*Conn) {},
		HeaderTimeout: func(net.Addr) { told.Add(1) }})
	block := c.block("/stalled")
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:2], EndStream: true})
	start := time.Now()
	c.expectClose()
	if d := time.Since(start); d < 250*time.Millisecond || d > 8*time.Second {
		t.Errorf("closed %v after the block began, want about 300 ms", d)
	}
	if n := told.Load(); n != 1 {
		t.Errorf("HeaderTimeout told %d times, want 1", n)
	}
}

// TestGoAwayLetsStreamsFinish: Server.GoAway sends a GOAWAY at once; the
// stream in flight still gets its whole answer, then the connection
// closes.
func TestGoAwayLetsStreamsFinish(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	c, srv := startRaw(t, Config{Serve: func(sc *Conn) {
		io.Copy(io.Discard, sc)
		close(started)
		<-release
		io.WriteString(sc, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
	}})
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("/slow"), EndStream: true, EndHeaders: true})
	<-started
	srv.GoAway()
	if f := c.until(goAway); f == nil || f.(*http2.GoAwayFrame).LastStreamID != 1 {
		t.Fatalf("after GoAway: %v, want a GOAWAY naming stream 1", f)
	}
	close(release)
	var body []byte
	c.until(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok {
			body = append(body, d.Data()...)
			return d.StreamEnded()
		}
		return false
	})
	if string(body) != "done" {
		t.Fatalf("the stream in flight got %q, want its whole answer", body)
	}
	c.expectClose()
}

// TestClientResetFailsRead: a client that resets its stream while the
// exchange waits for the body fails that read with ErrReset, and the
// connection goes on serving.
func TestClientResetFailsRead(t *testing.T) {
	got := make(chan error, 2)
	readPart := make(chan struct{}, 2)
	c, _ := startRaw(t, Config{Serve: func(sc *Conn) {
		buf := make([]byte, 4<<10)
		var err error
		for err == nil {
			var n int
			n, err = sc.Read(buf)
			if bytes.Contains(buf[:n], []byte("part of a body")) {
				readPart <- struct{}{} // the next read waits for more
			}
		}
		if err == io.EOF {
			err = nil
		}
		got <- err
		io.WriteString(sc, "HTTP/1.1 204 No Content\r\n\r\n")
	}})
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("/upload"), EndHeaders: true})
	c.fr.WriteData(1, false, []byte("part of a body"))
	select {
	case <-readPart: // the reset comes while the read waits for body
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange never read the first part of the body")
	}
	c.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	select {
	case err := <-got:
		if !errors.Is(err, ErrReset) {
			t.Fatalf("read of a reset stream: %v, want ErrReset", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read of a reset stream did not end")
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: c.block("/next"), EndStream: true, EndHeaders: true})
	f := c.until(func(f http2.Frame) bool { h, ok := f.(*http2.MetaHeadersFrame); return ok && h.StreamID == 3 })
	if f == nil || f.(*http2.MetaHeadersFrame).PseudoValue("status") != "204" {
		t.Fatalf("the next stream: %v, want its 204", f)
	}
	if err := <-got; err != nil {
		t.Fatalf("the next stream's read: %v", err)
	}
}

// TestConnErrorTold: a connection ended for the client's protocol error
// is told to ConnError with its kind, after its GOAWAY.
func TestConnErrorTold(t *testing.T) {
	kinds := make(chan string, 1)
	c, _ := startRaw(t, Config{Serve: func(*Conn) {},
		ConnError: func(_ net.Addr, err *h2srv.ConnError) { kinds <- err.Kind() }})
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2, BlockFragment: c.block("/even"), EndStream: true, EndHeaders: true})
	if f := c.until(goAway); f == nil || f.(*http2.GoAwayFrame).ErrCode != http2.ErrCodeProtocol {
		t.Fatalf("after HEADERS on an even stream: %v, want GOAWAY PROTOCOL_ERROR", f)
	}
	select {
	case k := <-kinds:
		if k != "protocol_error" {
			t.Fatalf("kind %q, want protocol_error", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ConnError was not told")
	}
}
