package h2

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/internal/testkit"
)

// encodeBlock HPACK-encodes fields as never-indexed literals, so that the
// block can be sent any number of times on a connection.
func encodeBlock(fields ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1], Sensitive: true})
	}
	return buf.Bytes()
}

// readErr writes a GET to a fresh bridge of p and returns the error its
// response read ends with.
func readErr(t *testing.T, p *Pool) error {
	t.Helper()
	b := prepared(t, p)
	defer b.Close()
	io.WriteString(b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(b)
	return err
}

// A GOAWAY while streams are in flight: those past its last stream id
// fail as refused (safe to retry), the one it keeps is answered, and the
// pool opens a new connection for the next request.
func TestGoAwayMidFlight(t *testing.T) {
	var mu sync.Mutex
	var first *http2.Framer
	var ids []uint32
	addr := testkit.StartH2Frames(t, func(fr *http2.Framer, id uint32) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = fr
		}
		if fr != first { // a later connection's streams are answered at once
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: encodeBlock(":status", "204"), EndStream: true, EndHeaders: true})
			return
		}
		if ids = append(ids, id); len(ids) == 3 {
			fr.WriteGoAway(ids[0], http2.ErrCodeNo, []byte("restarting"))
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: ids[0], BlockFragment: encodeBlock(":status", "200"), EndStream: true, EndHeaders: true})
		}
	})
	p := newTestPool(t, addr)
	var bridges []*Bridge
	for range 3 {
		b := prepared(t, p)
		defer b.Close()
		io.WriteString(b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		bridges = append(bridges, b)
	}
	x := readResponse(t, bridges[0], bufio.NewReader(bridges[0]), false)
	if x.resp.Status != 200 {
		t.Fatalf("the stream the GOAWAY kept: status %d", x.resp.Status)
	}
	for i, b := range bridges[1:] {
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := b.Read(make([]byte, 64))
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "GOAWAY") {
			t.Errorf("stream %d past the GOAWAY: %v, want ErrRefused", i+2, err)
		}
	}
	// A new connection for the next request.
	if err := readErr(t, p); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("the request after the GOAWAY: %v", err)
	}
}

// An 8 MiB response and a 4 MiB request body pass whole through the
// flow-control windows both ways; the stream never buffers more than
// its window.
func TestFlowControlLargeBodies(t *testing.T) {
	const reqSize, respSize = 4 << 20, 8 << 20
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7 / 5)
		}
		return b
	}
	want := pattern(respSize)
	addr := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, pattern(reqSize)) {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(respSize))
		w.Write(want)
	}), 0).Addr
	p := newTestPool(t, addr)
	b := prepared(t, p)
	defer b.Close()
	b.SetWriteDeadline(time.Now().Add(10 * time.Second))
	body := pattern(reqSize)
	io.WriteString(b, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: "+strconv.Itoa(reqSize)+"\r\n\r\n")
	for len(body) > 0 {
		k := min(len(body), 100_000)
		if _, err := b.Write(body[:k]); err != nil {
			t.Fatalf("request body: %v", err)
		}
		body = body[k:]
	}
	r := bufio.NewReaderSize(&peakReader{b: b, t: t}, 32<<10)
	x := readResponse(t, b, r, false)
	if x.resp.Status != 200 || !bytes.Equal(x.body, want) {
		t.Fatalf("status %d, %d bytes back (want %d, equal %v)", x.resp.Status, len(x.body), respSize, bytes.Equal(x.body, want))
	}
	if !b.Reusable() {
		t.Fatal("not reusable after a large answer")
	}
}

// peakReader reads a bridge slowly, failing the test if the stream ever
// holds more than its window of body.
type peakReader struct {
	b *Bridge
	t *testing.T
}

func (r *peakReader) Read(p []byte) (int, error) {
	s := r.b.cur
	s.mu.Lock()
	held := len(s.body) - s.br
	s.mu.Unlock()
	if held > streamWindow {
		r.t.Errorf("the stream holds %d bytes, past its window %d", held, streamWindow)
	}
	return r.b.Read(p)
}

// A server that takes one stream at a time (MAX_CONCURRENT_STREAMS 1)
// gets a second connection for a second stream in flight.
func TestPoolOneStreamPerConnection(t *testing.T) {
	release := make(chan struct{})
	srv := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), 1)
	p := newTestPool(t, srv.Addr)
	b1, b2 := prepared(t, p), prepared(t, p)
	defer b1.Close()
	defer b2.Close()
	io.WriteString(b1, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
	io.WriteString(b2, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
	if n := p.Conns(); n != 2 {
		t.Fatalf("%d connections for 2 streams at 1 a connection, want 2", n)
	}
	close(release)
	readResponse(t, b1, bufio.NewReader(b1), false)
	readResponse(t, b2, bufio.NewReader(b2), false)
	if n := srv.Conns.Load(); n != 2 {
		t.Fatalf("the server saw %d connections, want 2", n)
	}
}

// A server breaking the protocol fails the stream (or the connection)
// with an error saying what was wrong — never a hang or a refusal — and
// the pool serves the next request on a fresh connection.
func TestMalformedServerFrames(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name, want string
		act        func(fr *http2.Framer, id uint32)
	}{
		{"SETTINGS of a bad length", "malformed frame", func(fr *http2.Framer, id uint32) {
			fr.WriteRawFrame(http2.FrameSettings, 0, 0, []byte{1, 2, 3, 4, 5})
		}},
		{"HPACK garbage", "HPACK", func(fr *http2.Framer, id uint32) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, EndHeaders: true})
		}},
		{"no :status", ":status", func(fr *http2.Framer, id uint32) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: encodeBlock("x-a", "1"), EndStream: true, EndHeaders: true})
		}},
		{"header list over the bound", "header list over", func(fr *http2.Framer, id uint32) {
			block := encodeBlock(":status", "200", "x-a", big, "x-b", big, "x-c", big)
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:16000], EndHeaders: false})
			for rest := block[16000:]; len(rest) > 0; {
				k := min(len(rest), 16000)
				fr.WriteContinuation(id, k == len(rest), rest[:k])
				rest = rest[k:]
			}
		}},
		{"body past its Content-Length", "longer than its Content-Length", func(fr *http2.Framer, id uint32) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: encodeBlock(":status", "200", "content-length", "2"), EndHeaders: true})
			fr.WriteData(id, true, []byte("abc"))
		}},
		{"DATA on a stream never opened", "did not open", func(fr *http2.Framer, id uint32) {
			fr.WriteData(id+100, false, []byte("abc"))
		}},
		{"PUSH_PROMISE", "PUSH_PROMISE", func(fr *http2.Framer, id uint32) {
			fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, BlockFragment: encodeBlock(":method", "GET"), EndHeaders: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			addr := testkit.StartH2Frames(t, func(fr *http2.Framer, id uint32) {
				mu.Lock()
				calls++
				first := calls == 1
				mu.Unlock()
				if first {
					tc.act(fr, id)
					return
				}
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: encodeBlock(":status", "204"), EndStream: true, EndHeaders: true})
			})
			p := newTestPool(t, addr)
			err := readErr(t, p)
			if err == nil || errors.Is(err, io.EOF) || isTimeout(err) || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("read error %v, want one saying %q", err, tc.want)
			}
			if err := readErr(t, p); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("the next request: %v", err)
			}
		})
	}
}

// countingConn records the writes to a connection; while gate is set, a
// write waits for it to close.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	gate   chan struct{}
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return c.Conn.Write(p)
}

// frameTypes parses the frames of one write.
func frameTypes(p []byte) (types []http2.FrameType, lastEnds bool) {
	fr := http2.NewFramer(nil, bytes.NewReader(p))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return types, lastEnds
		}
		types = append(types, f.Header().Type)
		lastEnds = f.Header().Flags.Has(http2.FlagDataEndStream)
	}
}

// countingPool returns a pool to addr whose connection records its writes.
func countingPool(t *testing.T, addr string) (*Pool, func() *countingConn) {
	var mu sync.Mutex
	var cc *countingConn
	p := newTestPool(t, addr)
	p.opts.Dial = func(deadline time.Time) (net.Conn, error) {
		nc, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		cc = &countingConn{Conn: nc}
		return cc, nil
	}
	return p, func() *countingConn { mu.Lock(); defer mu.Unlock(); return cc }
}

// Frames of several streams produced while a write is in progress leave
// together in the next one.
func TestStreamsShareAWrite(t *testing.T) {
	addr := testkit.StartH2C(t, http.HandlerFunc(echo), 0).Addr
	p, conn := countingPool(t, addr)
	var bridges []*Bridge
	for range 3 {
		b := prepared(t, p)
		defer b.Close()
		bridges = append(bridges, b)
	}
	cc := conn()
	if !testkit.Poll(5*time.Second, 5*time.Millisecond, func() bool { return cc.count() >= 2 }) { // preface and SETTINGS, the SETTINGS ack
		t.Fatalf("%d writes after the handshake", cc.count())
	}
	gate := make(chan struct{})
	cc.mu.Lock()
	cc.gate = gate
	before := len(cc.writes)
	cc.mu.Unlock()
	io.WriteString(bridges[0], "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
	if !testkit.Poll(5*time.Second, time.Millisecond, func() bool { return cc.count() == before+1 }) {
		t.Fatal("the first stream's write did not start")
	}
	io.WriteString(bridges[1], "GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
	io.WriteString(bridges[2], "GET /c HTTP/1.1\r\nHost: h\r\n\r\n")
	cc.mu.Lock()
	cc.gate = nil
	cc.mu.Unlock()
	close(gate)
	for _, b := range bridges {
		readResponse(t, b, bufio.NewReader(b), false)
	}
	cc.mu.Lock()
	writes := cc.writes[before:]
	cc.mu.Unlock()
	if len(writes) != 2 {
		t.Fatalf("three streams left in %d writes, want 2", len(writes))
	}
	if types, _ := frameTypes(writes[1]); len(types) != 2 || types[0] != http2.FrameHeaders || types[1] != http2.FrameHeaders {
		t.Fatalf("the second write holds frames %v, want the two later streams' HEADERS", types)
	}
}

// warmCounting returns a Bridge on a connection to an echo server that
// records its writes, one exchange done (the handshake is behind it), and
// a reader of the Bridge's answers.
func warmCounting(t *testing.T) (*Bridge, *bufio.Reader, *countingConn) {
	t.Helper()
	p, conn := countingPool(t, testkit.StartH2C(t, http.HandlerFunc(echo), 0).Addr)
	b := prepared(t, p)
	t.Cleanup(func() { b.Close() })
	r := bufio.NewReader(b)
	io.WriteString(b, "GET /warm HTTP/1.1\r\nHost: h\r\n\r\n")
	readResponse(t, b, r, false)
	return b, r, conn()
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

// A request complete when its stream starts leaves in one write: HEADERS
// and DATA with END_STREAM for a small POST, HEADERS with END_STREAM for
// a GET.
func TestCompleteRequestInOneWrite(t *testing.T) {
	b, r, cc := warmCounting(t)
	for _, tc := range []struct {
		req       string
		wantTypes []http2.FrameType
	}{
		{"POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\nhello", []http2.FrameType{http2.FrameHeaders, http2.FrameData}},
		{"GET /g HTTP/1.1\r\nHost: h\r\n\r\n", []http2.FrameType{http2.FrameHeaders}},
	} {
		b.Prepare(time.Now().Add(5*time.Second), time.Second)
		before := cc.count()
		io.WriteString(b, tc.req)
		readResponse(t, b, r, false)
		cc.mu.Lock()
		writes := cc.writes[before:]
		cc.mu.Unlock()
		if len(writes) != 1 {
			t.Fatalf("%q left in %d writes, want 1", tc.req, len(writes))
		}
		types, ended := frameTypes(writes[0])
		if !slices.Equal(types, tc.wantTypes) || !ended {
			t.Fatalf("%q left as frames %v (the last ends the stream: %v), want %v", tc.req, types, ended, tc.wantTypes)
		}
	}
}

// A stream reserved on a connection that goes away before the request is
// written is refused at once (safe to retry), and nothing of it is sent.
func TestStartAfterGoAwayIsRefused(t *testing.T) {
	addr := testkit.StartH2Frames(t, func(fr *http2.Framer, id uint32) {
		fr.WriteGoAway(id, http2.ErrCodeNo, nil)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: encodeBlock(":status", "204"), EndStream: true, EndHeaders: true})
	})
	p := newTestPool(t, addr)
	first, second := prepared(t, p), prepared(t, p)
	defer first.Close()
	defer second.Close()
	io.WriteString(first, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	readResponse(t, first, bufio.NewReader(first), false)
	_, err := io.WriteString(second, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello")
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("a request written after the GOAWAY: %v, want ErrRefused", err)
	}
	if _, err := io.WriteString(second, "world"); err == nil {
		t.Fatal("the rest of a refused request's body was taken")
	}
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 10)); !errors.Is(err, ErrRefused) {
		t.Fatalf("reading a refused stream: %v, want ErrRefused", err)
	}
}

// A connection without streams for the idle timeout is closed (GOAWAY,
// then the socket); a busy one is not.
func TestIdleConnectionCloses(t *testing.T) {
	srv := testkit.StartH2C(t, http.HandlerFunc(echo), 0)
	p := newTestPool(t, srv.Addr)
	p.opts.IdleTimeout = 150 * time.Millisecond
	b := prepared(t, p)
	defer b.Close()
	io.WriteString(b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	readResponse(t, b, bufio.NewReader(b), false)
	if !b.Reusable() || p.Conns() != 1 {
		t.Fatalf("after one request: reusable %v, %d connections", b.Reusable(), p.Conns())
	}
	if !testkit.Poll(5*time.Second, 10*time.Millisecond, func() bool { return p.Conns() == 0 }) {
		t.Fatalf("%d connections left after the idle timeout", p.Conns())
	}
	// The next request dials again.
	b2 := prepared(t, p)
	defer b2.Close()
	io.WriteString(b2, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	readResponse(t, b2, bufio.NewReader(b2), false)
	if n := srv.Conns.Load(); n != 2 {
		t.Fatalf("the server saw %d connections, want 2", n)
	}
}

// TestCredentialsNeverIndexed: a request's Authorization and Cookie go
// upstream as never-indexed literals (RFC 7541 section 7.1.3), so one
// client's token never sits in the HPACK table a connection shares with
// other clients; other repeated fields are indexed.
func TestCredentialsNeverIndexed(t *testing.T) {
	b, r, cc := warmCounting(t)
	b.Prepare(time.Now().Add(5*time.Second), time.Second)
	io.WriteString(b, "GET /c HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer secret-token\r\nCookie: s=1\r\nX-Kind: plain\r\n\r\n")
	readResponse(t, b, r, false)
	cc.mu.Lock()
	writes := bytes.Join(cc.writes, nil) // all of them: the table is built from the first
	cc.mu.Unlock()
	writes = writes[len(http2.ClientPreface):]
	sensitive := map[string]bool{}
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) { sensitive[f.Name] = f.Sensitive })
	fr := http2.NewFramer(nil, bytes.NewReader(writes))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		if h, ok := f.(*http2.HeadersFrame); ok {
			dec.Write(h.HeaderBlockFragment())
		}
	}
	for name, want := range map[string]bool{"authorization": true, "cookie": true, "x-kind": false} {
		if got, ok := sensitive[name]; !ok || got != want {
			t.Errorf("%s: sent %v, never-indexed %v; want never-indexed %v", name, ok, got, want)
		}
	}
}
