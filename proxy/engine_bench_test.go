package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"

	"tollgate/conf"
	"tollgate/upstream"
)

// rawOrigin answers every request on a connection with a fixed small
// response without allocating, so allocations measured belong to the
// engine.
func rawOrigin(tb testing.TB, body string) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveRaw(c, resp)
		}
	}()
	return l.Addr().String()
}

func serveRaw(c net.Conn, resp []byte) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 8192)
	for {
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) == 2 {
				break
			}
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// newBenchEngine returns an engine with one route to origin.
func newBenchEngine(tb testing.TB, origin string) (*Engine, func()) {
	return newBenchEngineIdle(tb, origin, "60s")
}

// newBenchEngineIdle is newBenchEngine with a given server.idle_timeout.
func newBenchEngineIdle(tb testing.TB, origin, idle string) (*Engine, func()) {
	tb.Helper()
	cfg, err := conf.Parse("bench.yaml", []byte(`
server: {listen: "127.0.0.1:0", idle_timeout: `+idle+`}
admin: {listen: ""}
upstreams: {app: {targets: ["`+origin+`"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`), ".")
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := upstream.NewRegistry(log)
	m := NewMetrics()
	snap, err := BuildSnapshot(cfg, BuildDeps{Upstreams: reg, Metrics: m})
	if err != nil {
		tb.Fatal(err)
	}
	e := NewEngine(m, log, 1)
	e.Swap(snap)
	return e, func() {
		e.draining.Store(true)
		if e.reactor != nil {
			e.reactor.stop()
		}
		snap.Retire()
		reg.Close()
	}
}

// BenchmarkEngineSmallGET drives keep-alive GETs through the engine over
// an in-memory client connection (net.Pipe) to a loopback origin.
func BenchmarkEngineSmallGET(b *testing.B) {
	origin := rawOrigin(b, string(bytes.Repeat([]byte("x"), 128)))
	e, stop := newBenchEngine(b, origin)
	defer stop()
	client, server := net.Pipe()
	sess := newSession(server)
	e.track(sess)
	e.wg.Add(1)
	go e.run(sess)
	defer client.Close()
	benchSmallGETs(b, client)
}

// benchSmallGETs warms the connection up, then times b.N keep-alive GETs.
func benchSmallGETs(b *testing.B, client net.Conn) {
	benchRequests(b, client, "GET /small HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
}

// benchRequests warms the connection up, then times b.N keep-alive
// round trips of raw, a request answered with a Content-Length body.
func benchRequests(b *testing.B, client net.Conn, raw string) {
	req := []byte(raw)
	br := bufio.NewReaderSize(client, 8192)
	roundTrip := func() {
		if _, err := client.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(br); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		roundTrip()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
}

// readResponse reads one response with a Content-Length body.
func readResponse(br *bufio.Reader) error {
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
		if bytes.HasPrefix(line, []byte("Content-Length: ")) {
			n = 0
			for _, c := range line[16 : len(line)-2] {
				n = n*10 + int(c-'0')
			}
		}
	}
	_, err := br.Discard(n)
	return err
}

// BenchmarkEngineSmallGETTCP is BenchmarkEngineSmallGET over loopback TCP
// on both sides: net.Pipe's deadlines allocate timers that TCP sockets do
// not, so this is the number that pins the engine's own allocations.
func BenchmarkEngineSmallGETTCP(b *testing.B) {
	benchTCP(b, true)
}

func benchTCP(b *testing.B, park bool) {
	origin := rawOrigin(b, string(bytes.Repeat([]byte("x"), 128)))
	e, stop := newBenchEngine(b, origin)
	defer stop()
	if !park {
		e.reactor.stop()
		e.reactor = nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go e.Serve(l)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	benchSmallGETs(b, client)
}

// BenchmarkEngineSmallGETTCPNoPark is BenchmarkEngineSmallGETTCP with idle
// connections waiting in their goroutine instead of the reactor.
func BenchmarkEngineSmallGETTCPNoPark(b *testing.B) {
	benchTCP(b, false)
}
