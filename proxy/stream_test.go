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
			line, err := r.ReadString('\n')
			if err != nil || skipHead(r) != nil {
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

// A chunk reaches the client while the upstream holds the rest.
func TestLoopForwardsEachChunkAtOnce(t *testing.T) {
	release := make(chan struct{})
	_, addr := newConfEngine(t, streamOrigin(t, release), streamConf)
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
