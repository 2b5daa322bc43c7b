package proxy

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gatherConf has one route whose timeout replaces TIMEOUT.
const gatherConf = `
server: {listen: "127.0.0.1:0"}
admin: {listen: ""}
upstreams: {app: {targets: ["ORIGIN"], timeouts: {response_header: 2s}}}
routes: [{name: all, match: {path_prefix: /}, upstream: app, timeout: TIMEOUT}]
`

// A small body that arrives in pieces is read whole on the loop before an
// upstream connection is taken: the origin hears nothing until the last
// piece, then gets head and body at once; nothing goes to a worker.
func TestLoopReadsASmallBodyWholeFirst(t *testing.T) {
	var firstByte atomic.Int64 // unix ns when the origin first read a POST byte
	inner := bodyOrigin(t)
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		up, err := net.Dial("tcp", inner)
		if err != nil {
			return
		}
		defer up.Close()
		if _, err := r.Peek(1); err != nil {
			return
		}
		firstByte.CompareAndSwap(0, time.Now().UnixNano())
		go io.Copy(c, up)
		io.Copy(up, r)
	})
	e, addr := newConfEngine(t, origin, strings.Replace(gatherConf, "TIMEOUT", "5s", 1))
	body := strings.Repeat("b", 20000)
	c, r := dialT(t, addr)
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
	var lastPiece time.Time
	for i := 0; i < len(body); i += 5000 {
		time.Sleep(60 * time.Millisecond)
		lastPiece = time.Now()
		io.WriteString(c, body[i:i+5000])
	}
	status, got := readBody(t, r)
	if status != "200" || got != body {
		t.Fatalf("%s, %d bytes", status, len(got))
	}
	if fb := time.Unix(0, firstByte.Load()); fb.Before(lastPiece) {
		t.Errorf("the origin heard from the request %v before its last piece was sent", lastPiece.Sub(fb))
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d hand-offs to workers", n)
	}
}

// A body that does not arrive within the route's timeout ends the
// connection, and the upstream never hears of it.
func TestLoopSlowBodyEndsAtTheRouteTimeout(t *testing.T) {
	var seen atomic.Int32
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := r.Peek(1); err == nil {
			seen.Add(1)
		}
	})
	_, addr := newConfEngine(t, origin, strings.Replace(gatherConf, "TIMEOUT", "600ms", 1))
	c, r := dialT(t, addr)
	start := time.Now()
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly ten b")
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("slow body: %v, want the connection closed", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v, want about the route timeout (600 ms)", d)
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the origin was sent %d requests", n)
	}
}

// A client that waits for 100 Continue before its body gets it from the
// loop, then the answer.
func TestLoopAnswersExpectContinue(t *testing.T) {
	_, addr := newConfEngine(t, bodyOrigin(t), strings.Replace(gatherConf, "TIMEOUT", "5s", 1))
	c, r := dialT(t, addr)
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("interim answer %q: %v", line, err)
	}
	if blank, _ := r.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	io.WriteString(c, "hello")
	if status, got := readBody(t, r); status != "200" || got != "hello" {
		t.Fatalf("%s %q", status, got)
	}
}
