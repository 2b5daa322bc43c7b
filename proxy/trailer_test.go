package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// grpcTrailer is the trailer section the trailer origins send: what a
// gRPC server ends a call with, and a field a trailer must not carry.
const grpcTrailer = "Grpc-Status: 0\r\nGrpc-Message: ok\r\nHost: evil\r\n"

// chunkedOrigin answers every request on a connection with the same
// chunked response, a 128-byte chunk and then trailer (field lines, each
// ending in CRLF; "" for none), without allocating.
func chunkedOrigin(tb testing.TB, trailer string) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" +
		strings.Repeat("x", 128) + "\r\n0\r\n" + trailer + "\r\n")
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

// readChunkedResponse reads one response with a chunked body, its
// trailer section included, without allocating.
func readChunkedResponse(br *bufio.Reader) error {
	for { // the head
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		n := 0
		for _, c := range line[:len(line)-2] {
			n = n<<4 | int(hexDigit(c))
		}
		if n == 0 {
			break
		}
		if _, err := br.Discard(n + 2); err != nil {
			return err
		}
	}
	for { // the trailer section, up to its empty line
		line, err := br.ReadSlice('\n')
		if err != nil || len(line) == 2 {
			return err
		}
	}
}

func hexDigit(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// getTrailer sends GET path on c and reads the answer with net/http's
// parser to its end: the body and the trailer fields the client got.
func getTrailer(t *testing.T, c net.Conn, r *bufio.Reader, path string) (string, http.Header) {
	t.Helper()
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %q %v", path, b, err)
	}
	return string(b), resp.Trailer
}

// wantGRPCTrailer fails unless got is grpcTrailer without its forbidden
// Host field.
func wantGRPCTrailer(t *testing.T, what string, got http.Header) {
	t.Helper()
	want := http.Header{"Grpc-Status": {"0"}, "Grpc-Message": {"ok"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: trailer %v, want %v", what, got, want)
	}
}

// TestLoopRelaysTrailers: the trailer fields of chunked answers reach an
// HTTP/1.1 client over one keep-alive connection, the forbidden one left
// out, every answer relayed on the event loop; an answer without trailers
// that follows has none.
func TestLoopRelaysTrailers(t *testing.T) {
	e, addr := newConfEngine(t, chunkedOrigin(t, grpcTrailer), oneRoute)
	c, r := dialT(t, addr)
	getTrailer(t, c, r, "/warm") // the first request dials
	inline, handed := e.servedInline.Load(), e.handedOff.Load()
	for i := range 5 {
		body, tr := getTrailer(t, c, r, "/call")
		if body != strings.Repeat("x", 128) {
			t.Fatalf("call %d: body %q", i, body)
		}
		wantGRPCTrailer(t, fmt.Sprintf("call %d", i), tr)
	}
	if in, off := e.servedInline.Load()-inline, e.handedOff.Load()-handed; in != 5 || off != 0 {
		t.Errorf("%d answers on the loop, %d handed off; want 5, 0", in, off)
	}

	_, addr = newConfEngine(t, chunkedOrigin(t, ""), oneRoute)
	c, r = dialT(t, addr)
	if _, tr := getTrailer(t, c, r, "/plain"); len(tr) != 0 {
		t.Errorf("an answer without trailers came with %v", tr)
	}
}

// TestWorkerFinishesTrailers: a chunked stream the loop relays when
// shutdown begins is finished by a worker (stream.go's blocking pump),
// and its trailer fields still reach the client.
func TestWorkerFinishesTrailers(t *testing.T) {
	release := make(chan struct{})
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		if _, ok := readRequestT(r); !ok {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		<-release
		io.WriteString(c, "4\r\nlast\r\n0\r\n"+grpcTrailer+"\r\n")
	})
	e, addr := newConfEngine(t, origin, strings.Replace(streamConf, "idle_timeout: 1s", "idle_timeout: 10s", 1))
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("first chunk: %q %v", first, err)
	}
	testkit.Eventually(t, "the stream to wait on the loop", func() bool { return e.reactor.waitingCount() == 1 })
	handed := e.handedOff.Load()
	done := startShutdown(e)
	testkit.Eventually(t, "a worker to take the stream over", func() bool { return e.handedOff.Load() > handed })
	close(release)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last" {
		t.Fatalf("rest of the body %q: %v", rest, err)
	}
	wantGRPCTrailer(t, "finished by a worker", resp.Trailer)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkEngineChunkedTCP is BenchmarkEngineSmallGETTCP with a chunked
// answer, re-framed for the client, without and with trailer fields: a
// connection's trailer buffer is reused, so neither allocates.
func BenchmarkEngineChunkedTCP(b *testing.B) {
	for _, bc := range []struct{ name, trailer string }{{"NoTrailer", ""}, {"Trailer", grpcTrailer}} {
		b.Run(bc.name, func(b *testing.B) {
			e, stop := newBenchEngine(b, chunkedOrigin(b, bc.trailer))
			defer stop()
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
			req := []byte("GET /call HTTP/1.1\r\nHost: bench\r\n\r\n")
			br := bufio.NewReaderSize(client, 8192)
			for i := 0; i < 100; i++ {
				client.Write(req)
				if err := readChunkedResponse(br); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				client.Write(req)
				if err := readChunkedResponse(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUploadTrailerChecked: a chunked upload's trailer section is checked
// like a head: well-formed fields pass the check (and are not forwarded:
// the upstream's body ends with the bare last chunk), a field line that
// is not "token: value" gets a 400.
func TestUploadTrailerChecked(t *testing.T) {
	var st originStats
	_, addr := newConfEngine(t, chunkOrigin(t, make(chan string, 16), &st), oneRoute)
	for _, tc := range []struct {
		trailer string
		status  int
	}{
		{"X-Checksum: abc\r\n", 200},
		{"Bad Name: abc\r\n", 400},
		{"X-Obs: a\r\n folded\r\n", 400},
	} {
		c, r := dialT(t, addr)
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"+tc.trailer+"\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.trailer, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || (tc.status == 200 && string(body) != "hello") {
			t.Errorf("%q: %d %q, want %d", tc.trailer, resp.StatusCode, body, tc.status)
		}
	}
}
