package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/plugins"

	"tollgate/conf"
	"tollgate/internal/testkit"
	"tollgate/proxy/tracing"
	"tollgate/upstream"
)

// newConfEngine serves config text (with the origin's address in place of
// ORIGIN) on a loopback listener and returns its address.
func newConfEngine(t testing.TB, origin, text string) (*Engine, string) {
	return newLogEngine(t, origin, text, slog.NewTextHandler(io.Discard, nil))
}

// newLogEngine is newConfEngine with the engine logging to h. A tracing
// block in text exports to its endpoint.
func newLogEngine(t testing.TB, origin, text string, h slog.Handler) (*Engine, string) {
	t.Helper()
	cfg, err := conf.Parse("test.yaml", []byte(strings.ReplaceAll(text, "ORIGIN", origin)), ".")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(h)
	reg := upstream.NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	tracers := tracing.NewRegistry(log)
	m := NewMetrics()
	snap, err := BuildSnapshot(cfg, BuildDeps{Upstreams: reg, Metrics: m, Tracers: tracers})
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(m, log, 1)
	e.Swap(snap)
	if e.reactor == nil {
		t.Skip("no epoll reactor here")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.Serve(l)
	t.Cleanup(func() {
		l.Close()
		e.draining.Store(true)
		e.reactor.stop()
		snap.Retire()
		reg.Close()
		tracers.Close()
	})
	return e, l.Addr().String()
}

const oneRoute = `
server: {listen: "127.0.0.1:0"}
admin: {listen: ""}
upstreams: {app: {targets: ["ORIGIN"], timeouts: {response_header: 300ms}}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`

// originFunc runs serve on every connection the origin accepts.
func originFunc(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return l.Addr().String()
}

// skipHead reads one request head.
func skipHead(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			return nil
		}
	}
}

func dialT(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// TestLoopServesKeepAliveGETs: plain keep-alive GETs are answered on the
// event loop, once the pool has a connection, with no hand-off.
func TestLoopServesKeepAliveGETs(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "hello"), oneRoute)
	c, r := dialT(t, addr)
	for i := 0; i < 50; i++ {
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if err := readResponse(r); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := e.servedInline.Load(); got < 49 {
		t.Errorf("served on the loop: %d of 50", got)
	}
	if got := e.handedOff.Load(); got > 1 { // the first request dials
		t.Errorf("handed off: %d", got)
	}
}

// TestLoopPipelinedBeyondOneRead sends more pipelined requests than one
// read takes: the loop must read on without waiting for a new event
// (edge-triggered epoll would not raise one).
func TestLoopPipelinedBeyondOneRead(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n") // the pool dials on a worker
	if err := readResponse(r); err != nil {
		t.Fatal(err)
	}
	inline := e.servedInline.Load()
	const n = 300 // ~9 KiB of heads, more than the 4 KiB read buffer
	req := strings.Repeat("GET /p HTTP/1.1\r\nHost: a\r\n\r\n", n)
	go io.WriteString(c, req)
	for i := 0; i < n; i++ {
		if err := readResponse(r); err != nil {
			t.Fatalf("response %d of %d: %v", i, n, err)
		}
	}
	if got := e.servedInline.Load() - inline; got < n/2 {
		t.Errorf("%d of %d pipelined requests served on the loop", got, n)
	}
}

// TestLoopClientSlowToRead: a client that does not read while its answers
// pile up gets every byte: what the socket does not take waits on the loop
// for the socket to drain (no worker), and no more is read meanwhile.
func TestLoopClientSlowToRead(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 1200) // 19,200 bytes: relayed whole on the loop
	e, addr := newConfEngine(t, rawOrigin(t, body), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n") // the pool dials on a worker
	if err := readResponse(r); err != nil {
		t.Fatal(err)
	}
	handed := e.handedOff.Load()
	const n = 500 // ~9.6 MB of answers: more than the socket buffers hold
	go io.WriteString(c, strings.Repeat("GET /big HTTP/1.1\r\nHost: a\r\n\r\n", n))
	// The answers back up until the socket refuses more and the loop waits
	// for it (Eventually fails the test if that never happens).
	testkit.Eventually(t, "the loop to wait for the client", func() bool { return e.reactor.writingCount() > 0 })
	for i := 0; i < n; i++ {
		if err := readResponse(r); err != nil {
			t.Fatalf("response %d of %d: %v", i, n, err)
		}
	}
	if got := e.handedOff.Load() - handed; got != 0 {
		t.Errorf("%d hand-offs to workers", got)
	}
}

// pathOrigin answers "/split" in two writes 50 ms apart, never answers
// "/slow" (counted in slow), and answers anything else at once; all with
// body "ok".
func pathOrigin(t *testing.T, slow *atomic.Int32) string {
	return originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			if err != nil || skipHead(r) != nil {
				return
			}
			resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			switch {
			case strings.Contains(line, "/slow"):
				slow.Add(1)
				time.Sleep(3 * time.Second)
				return
			case strings.Contains(line, "/split"):
				io.WriteString(c, resp[:20])
				time.Sleep(50 * time.Millisecond)
				io.WriteString(c, resp[20:])
			default:
				io.WriteString(c, resp)
			}
		}
	})
}

// statusOf reads one response and returns its status code.
func statusOf(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	status, _ := readBody(t, r)
	return status
}

// TestLoopUpstreamHeadTimeout: an upstream that never answers a request
// sent from the loop (on a pooled connection) gets the client a 504 after
// response_header, counted by the loop's timing wheel.
func TestLoopUpstreamHeadTimeout(t *testing.T) {
	var slow atomic.Int32
	e, addr := newConfEngine(t, pathOrigin(t, &slow), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := statusOf(t, r); got != "200" {
		t.Fatalf("warm-up: %s", got)
	}
	inline, handed := e.servedInline.Load(), e.handedOff.Load()
	start := time.Now()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := statusOf(t, r); got != "504" {
		t.Fatalf("slow upstream: %s, want 504", got)
	}
	if d := time.Since(start); d < 290*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("504 after %v, want about 300 ms", d)
	}
	if e.handedOff.Load() != handed+1 || e.servedInline.Load() != inline {
		t.Errorf("the slow request did not leave from the loop: inline %d, handed off %d", e.servedInline.Load(), e.handedOff.Load())
	}
	if n := slow.Load(); n != 1 {
		t.Errorf("the origin saw /slow %d times, want once (a timeout is not retried)", n)
	}
}

// TestLoopResponseInTwoPieces: a response head that arrives in two pieces
// is read on the loop as the pieces come, intact.
func TestLoopResponseInTwoPieces(t *testing.T) {
	e, addr := newConfEngine(t, pathOrigin(t, new(atomic.Int32)), oneRoute)
	c, r := dialT(t, addr)
	for i, path := range []string{"/warm", "/split", "/warm", "/split"} {
		handed := e.handedOff.Load()
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := statusOf(t, r); got != "200" {
			t.Fatalf("request %d (%s): %s", i, path, got)
		}
		if e.handedOff.Load() != handed {
			t.Fatalf("request %d (%s): handed to a worker; the loop waits for the rest of a head", i, path)
		}
	}
}

// TestLoopPartialRequestHead: a request head sent in pieces is read by
// the loop as the pieces come (no worker); the connection goes on being
// served on the loop.
func TestLoopPartialRequestHead(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /a HTTP/1.1\r\nHo")
	testkit.Eventually(t, "the loop to wait for the rest of the head", func() bool { return e.reactor.writingCount() > 0 })
	io.WriteString(c, "st: a\r\n\r\n")
	if err := readResponse(r); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		io.WriteString(c, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
		if err := readResponse(r); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d hand-offs to workers", n)
	}
	if n := e.servedInline.Load(); n != 6 {
		t.Errorf("%d of 6 requests served on the loop", n)
	}
}

// A complete request followed, in the same write, by the start of the
// next is answered at once, not when the next head is complete; a head
// that stops coming is closed at read_header_timeout.
func TestLoopAnswersBeforeAPartialPipelinedHead(t *testing.T) {
	conf := strings.Replace(oneRoute, `server: {listen: "127.0.0.1:0"}`, `server: {listen: "127.0.0.1:0", read_header_timeout: 500ms}`, 1)
	_, addr := newConfEngine(t, rawOrigin(t, "ok"), conf)
	c, r := dialT(t, addr)
	start := time.Now()
	io.WriteString(c, "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHo")
	if err := readResponse(r); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("the first answer took %v: it waited for the second head", d)
	}
	io.WriteString(c, "st: a\r\n\r\n")
	if err := readResponse(r); err != nil {
		t.Fatalf("second: %v", err)
	}
	start = time.Now()
	io.WriteString(c, "GET /third HTTP/1.1\r\n")
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("a stalled head: %v, want the connection closed", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
		t.Errorf("a stalled head was closed after %v, want about read_header_timeout (500 ms)", d)
	}
}

// TestLoopShutdownFinishesWaitingRequest: a request waiting on the loop for
// its upstream when shutdown begins is finished by a worker, while an idle
// connection is closed.
func TestLoopShutdownFinishesWaitingRequest(t *testing.T) {
	release := make(chan struct{})
	var slow atomic.Int32
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			if err != nil || skipHead(r) != nil {
				return
			}
			if strings.Contains(line, "/slow") {
				slow.Add(1)
				<-release
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	e, addr := newConfEngine(t, origin, strings.ReplaceAll(oneRoute, "300ms", "10s"))
	idle, idleR := dialT(t, addr)
	io.WriteString(idle, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := statusOf(t, idleR); got != "200" {
		t.Fatal(got)
	}
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	testkit.Eventually(t, "the request to wait on the loop", func() bool { return e.reactor.waitingCount() == 1 })
	done := startShutdown(e)
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	stillShuttingDown(t, done, "a request")
	close(release)
	if got := statusOf(t, r); got != "200" {
		t.Fatalf("in-flight request: %s", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := slow.Load(); n != 1 {
		t.Errorf("the origin saw /slow %d times, want once", n)
	}
}

// boomFilter panics on a request for /boom.
type boomFilter struct{}

func (boomFilter) Request(x *plugins.Exchange) *plugins.Reply {
	if string(x.Path) == "/boom" {
		panic("boom")
	}
	return nil
}
func (boomFilter) Response(*plugins.Exchange) {}

// TestLoopSurvivesPanic: a panic while the loop serves a request closes
// that connection only; the loop goes on serving others.
func TestLoopSurvivesPanic(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	useChain(t, e, boomFilter{})
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /boom HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("panicking request: %v, want the connection closed", err)
	}
	inline := e.servedInline.Load()
	c2, r2 := dialT(t, addr)
	for i := 0; i < 3; i++ {
		io.WriteString(c2, "GET /fine HTTP/1.1\r\nHost: a\r\n\r\n")
		if err := readResponse(r2); err != nil {
			t.Fatalf("after the panic: %v", err)
		}
	}
	if e.servedInline.Load() == inline {
		t.Error("no request was served on the loop after the panic")
	}
}

// countEnder counts the exchanges it ended.
type countEnder struct{ n *atomic.Int32 }

func (c countEnder) End(*plugins.Exchange) { c.n.Add(1) }

// takeFilter takes something an exchange must give back (as the limiter's
// concurrency slots are), counted by ended.
type takeFilter struct{ ended *atomic.Int32 }

func (f takeFilter) Request(x *plugins.Exchange) *plugins.Reply {
	x.OnEnd(countEnder{f.ended})
	return nil
}
func (takeFilter) Response(*plugins.Exchange) {}

// A request whose filter panics still ends its exchange, so what earlier
// filters took is given back: on the loop (a GET) and on a worker (a POST
// with a chunked body).
func TestPanicEndsTheExchange(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	var ended atomic.Int32
	useChain(t, e, takeFilter{&ended}, boomFilter{})
	for i, req := range []string{
		"GET /boom HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /boom HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	} {
		c, r := dialT(t, addr)
		io.WriteString(c, req)
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("request %d: %v, want the connection closed", i, err)
		}
		if n := ended.Load(); n != int32(i+1) {
			t.Fatalf("after request %d: %d exchanges ended, want %d", i, n, i+1)
		}
	}
}
