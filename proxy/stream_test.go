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

// streamConf is oneRoute with a short idle_timeout, which bounds a stream
// that stops moving.
const streamConf = `
server: {listen: "127.0.0.1:0", idle_timeout: 1s}
admin: {listen: ""}
upstreams: {app: {targets: ["ORIGIN"], timeouts: {response_header: 2s}}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`

// streamOrigin answers by path: /big a 60,000-byte Content-Length body in
// pieces, /chunks three chunks 300 ms apart (a stream that outlives
// idle_timeout while it moves), /hold one chunk and then waits for release,
// /die half a Content-Length body and a close, /stall half a body and then
// silence, /bad a malformed chunked body.
func streamOrigin(t *testing.T, release chan struct{}) string {
	big := strings.Repeat("0123456789", 6000)
	return originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, ok := readRequestT(r)
			if !ok {
				return
			}
			path := strings.Fields(line)[1]
			switch path {
			case "/big":
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(big))
				for i := 0; i < len(big); i += 7000 {
					io.WriteString(c, big[i:min(i+7000, len(big))])
					time.Sleep(5 * time.Millisecond)
				}
			case "/chunks":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
				for i := range 5 {
					fmt.Fprintf(c, "6\r\npart-%d\r\n", i)
					time.Sleep(300 * time.Millisecond)
				}
				io.WriteString(c, "0\r\n\r\n")
			case "/hold":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
				<-release
				io.WriteString(c, "4\r\nlast\r\n0\r\n\r\n")
			case "/die":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"+strings.Repeat("x", 50))
				return
			case "/stall":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"+strings.Repeat("x", 50))
				time.Sleep(3 * time.Second)
				return
			case "/bad":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX")
				time.Sleep(time.Second)
				return
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
}

// getBody sends GET path on c and reads the answer with net/http's
// parser: its body, or the error that cut it.
func getBody(t *testing.T, c net.Conn, r *bufio.Reader, path string) (string, error) {
	t.Helper()
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Bodies larger than one read, and chunked streams, are relayed on the
// loop as they come, over one keep-alive connection; a stream that keeps
// moving is not cut by idle_timeout.
func TestLoopRelaysBodiesAsTheyCome(t *testing.T) {
	e, addr := newConfEngine(t, streamOrigin(t, nil), streamConf)
	c, r := dialT(t, addr)
	if got, err := getBody(t, c, r, "/warm"); err != nil || got != "ok" {
		t.Fatalf("warm-up: %q %v", got, err)
	}
	handed := e.handedOff.Load()
	if got, err := getBody(t, c, r, "/big"); err != nil || got != strings.Repeat("0123456789", 6000) {
		t.Fatalf("/big: %d bytes, %v", len(got), err)
	}
	start := time.Now()
	if got, err := getBody(t, c, r, "/chunks"); err != nil || got != "part-0part-1part-2part-3part-4" {
		t.Fatalf("/chunks: %q, %v", got, err)
	}
	if d := time.Since(start); d < 1200*time.Millisecond {
		t.Fatalf("/chunks took %v: the origin paces it over 1.5 s", d)
	}
	if got, err := getBody(t, c, r, "/after"); err != nil || got != "ok" {
		t.Fatalf("after the streams: %q %v", got, err)
	}
	if n := e.handedOff.Load() - handed; n != 0 {
		t.Errorf("%d hand-offs to workers", n)
	}
}

// holdStream asks the stream origin for /hold and returns once the first
// chunk ("first") has reached the client, within 2 s, while the origin
// holds the rest.
func holdStream(t *testing.T, addr string) (net.Conn, *http.Response) {
	t.Helper()
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("first chunk while the origin holds the rest: %q %v", first, err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c, resp
}

// A chunk reaches the client while the upstream holds the rest.
func TestLoopForwardsEachChunkAtOnce(t *testing.T) {
	release := make(chan struct{})
	_, addr := newConfEngine(t, streamOrigin(t, release), streamConf)
	c, resp := holdStream(t, addr)
	close(release)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last" {
		t.Fatalf("rest: %q %v", rest, err)
	}
}

// A body the upstream cuts, stalls past idle_timeout, or frames badly
// ends the client's connection: the client can tell the answer is
// incomplete, and nothing hangs.
func TestLoopCutsBrokenBodies(t *testing.T) {
	_, addr := newConfEngine(t, streamOrigin(t, nil), streamConf)
	for _, path := range []string{"/die", "/stall", "/bad"} {
		c, r := dialT(t, addr)
		start := time.Now()
		got, err := getBody(t, c, r, path)
		if err == nil {
			t.Errorf("%s: %d bytes and no error: the cut went unnoticed", path, len(got))
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("%s: cut after %v, want about idle_timeout or less", path, d)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("%s: the client connection is still open (%v)", path, err)
		}
	}
}

// A stream the loop relays when shutdown begins is finished by a worker:
// the client gets the whole body, and Shutdown returns once it is out.
func TestLoopShutdownFinishesAStream(t *testing.T) {
	release := make(chan struct{})
	e, addr := newConfEngine(t, streamOrigin(t, release), strings.Replace(streamConf, "idle_timeout: 1s", "idle_timeout: 10s", 1))
	_, resp := holdStream(t, addr)
	testkit.Eventually(t, "the stream to wait on the loop", func() bool { return e.reactor.waitingCount() == 1 })
	done := startShutdown(e)
	stillShuttingDown(t, done, "a stream")
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last" {
		t.Fatalf("rest of the body %q: %v", rest, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A client that goes away mid-stream costs the upstream connection (it
// is closed, not pooled with a body half read) and nothing else: the next
// client is served.
func TestLoopClientGoneMidStream(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	e, addr := newConfEngine(t, streamOrigin(t, release), streamConf)
	c, _ := holdStream(t, addr)
	c.Close()
	tgt := e.Current().routes[0].up.Targets()[0]
	testkit.Eventually(t, "the stream's upstream connection to be let go", func() bool { return tgt.Active() == 0 })
	if n := tgt.Idle(); n != 0 {
		t.Errorf("%d idle connections: a half-read one was pooled", n)
	}
	c2, r2 := dialT(t, addr)
	if got, err := getBody(t, c2, r2, "/after"); err != nil || got != "ok" {
		t.Fatalf("next client: %q %v", got, err)
	}
}

// HEAD answers and 204s carry no body; the connection goes on.
func TestLoopBodylessAnswers(t *testing.T) {
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, ok := readRequestT(r)
			if !ok {
				return
			}
			if strings.HasPrefix(line, "HEAD") {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
				continue
			}
			io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
	})
	e, addr := newConfEngine(t, origin, streamConf)
	c, r := dialT(t, addr)
	for i := range 4 {
		method := "HEAD"
		if i%2 == 1 {
			method = "GET"
		}
		io.WriteString(c, method+" /x HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if len(b) != 0 || (method == "HEAD" && resp.ContentLength != 1000) || (method == "GET" && resp.StatusCode != 204) {
			t.Fatalf("%s: %d, length %d, body %q", method, resp.StatusCode, resp.ContentLength, b)
		}
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d hand-offs", n)
	}
}

// Interim answers (100 Continue, 103 Early Hints) before the final one are
// dropped on the loop, as a worker drops them; the final answer is relayed.
func TestLoopDropsInterimAnswers(t *testing.T) {
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, ok := readRequestT(r); !ok {
				return
			}
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	e, addr := newConfEngine(t, origin, streamConf)
	c, r := dialT(t, addr)
	for i := range 3 {
		if got, err := getBody(t, c, r, "/x"); err != nil || got != "ok" {
			t.Fatalf("request %d: %q %v", i, got, err)
		}
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d hand-offs", n)
	}
}

// A body the upstream ends by closing is relayed on the loop as it comes:
// in chunks to an HTTP/1.1 client (whose connection goes on), as it is to
// an HTTP/1.0 client (whose connection then closes); a chunked body goes
// to an HTTP/1.0 client decoded. A connection whose body ended with its
// close is never pooled.
func TestLoopRelaysBodiesOfEveryFraming(t *testing.T) {
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		line, ok := readRequestT(r)
		if !ok {
			return
		}
		if strings.Contains(line, "/chunked") {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil ") // no length, no Connection: close
		time.Sleep(30 * time.Millisecond)
		io.WriteString(c, "the close")
	})
	e, addr := newConfEngine(t, origin, streamConf)
	c, r := dialT(t, addr)
	tgt := e.Current().routes[0].up.Targets()[0]
	for i := range 2 { // HTTP/1.1: chunked, and the connection goes on
		if got, err := getBody(t, c, r, "/eof"); err != nil || got != "until the close" {
			t.Fatalf("HTTP/1.1 %d: %q %v", i, got, err)
		}
		testkit.Eventually(t, "the upstream connection to be let go", func() bool { return tgt.Active() == 0 })
		if n := tgt.Idle(); n != 0 {
			t.Fatalf("HTTP/1.1 %d: %d idle connections: one the upstream closed was pooled", i, n)
		}
	}
	for _, tc := range []struct{ path, want string }{{"/eof", "until the close"}, {"/chunked", "abcdef"}} {
		c10, r10 := dialT(t, addr)
		io.WriteString(c10, "GET "+tc.path+" HTTP/1.0\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(r10, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != tc.want || len(resp.TransferEncoding) != 0 {
			t.Fatalf("HTTP/1.0 %s: %q %v, transfer-encoding %v", tc.path, b, err, resp.TransferEncoding)
		}
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d hand-offs", n)
	}
}
