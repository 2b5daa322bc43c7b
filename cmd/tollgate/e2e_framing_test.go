package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAmbiguousFramingRefused sends each request CONTRACT.md section 3
// lists as ambiguous: every one gets 400 with the connection closed and
// nothing reaches the upstream.
func TestAmbiguousFramingRefused(t *testing.T) {
	o := startOrigin(t, echoHandler)
	g := startGateway(t, basicConfig(o.addr, ""))
	cases := map[string]string{
		"CL and TE":           "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"differing CL":        "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"CL list differing":   "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
		"TE gzip":             "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nxx",
		"TE chunked, gzip":    "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
		"TE twice":            "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"bare LF in head":     "GET /a HTTP/1.1\nHost: a\n\n",
		"bare LF in field":    "GET /a HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n",
		"obs-fold":            "GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n",
		"space before colon":  "GET /a HTTP/1.1\r\nHost : a\r\n\r\n",
		"invalid chunk size":  "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"chunk size overflow": "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		"negative CL":         "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
		"dot segment":         "GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n",
		"single dot":          "GET /a/./b HTTP/1.1\r\nHost: a\r\n\r\n",
		"encoded dot segment": "GET /a/%2e%2E/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"mixed dot segment":   "GET /a/.%2e HTTP/1.1\r\nHost: a\r\n\r\n",
		"trailing dotdot":     "GET /.. HTTP/1.1\r\nHost: a\r\n\r\n",
		"no host":             "GET /a HTTP/1.1\r\n\r\n",
		"two hosts":           "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"HTTP/2 version":      "GET /a HTTP/2.0\r\nHost: a\r\n\r\n",
		"absolute form":       "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"NUL in value":        "GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
	}
	for name, raw := range cases {
		out := rawExchange(t, g.addr, raw, 3*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "Connection: close") ||
			!strings.Contains(out, `"error":"bad_request"`) {
			t.Errorf("%s: got %q", name, out)
		}
		if strings.Count(out, "HTTP/1.1") != 1 {
			t.Errorf("%s: more than one response: %q", name, out)
		}
	}
	if n := o.requests.Load(); n != 0 {
		t.Fatalf("%d refused requests reached the upstream", n)
	}
	// Dots that are not whole segments are fine.
	out := rawExchange(t, g.addr, "GET /a/..b/.c/%2e%2e%2e HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 3*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("dotted names refused: %q", out)
	}
}

func TestHeaderLimitsAndSlowClients(t *testing.T) {
	o := startOrigin(t, echoHandler)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", read_header_timeout: 300ms, max_header_bytes: 2048, max_body_bytes: 1000}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, o.addr))
	big := "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 3000) + "\r\n\r\n"
	if out := rawExchange(t, g.addr, big, 3*time.Second); !strings.HasPrefix(out, "HTTP/1.1 431 ") || !strings.Contains(out, "header_too_large") {
		t.Errorf("oversized head: %q", out)
	}
	tooLong := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n"
	if out := rawExchange(t, g.addr, tooLong, 3*time.Second); !strings.HasPrefix(out, "HTTP/1.1 413 ") {
		t.Errorf("oversized body: %q", out)
	}
	chunked := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + strings.Repeat("y", 2000) + "\r\n0\r\n\r\n"
	if out := rawExchange(t, g.addr, chunked, 3*time.Second); !strings.HasPrefix(out, "HTTP/1.1 413 ") {
		t.Errorf("oversized chunked body: %q", out)
	}
	// A client that sends half a head and stalls is cut off.
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	io.ReadAll(c)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow client held the connection for %v", d)
	}
	if n := o.requests.Load(); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
}

func TestExpectContinueAndChunkedUpload(t *testing.T) {
	o := startOrigin(t, echoHandler)
	g := startGateway(t, basicConfig(o.addr, ""))
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 100 Continue\r\n\r\n") {
		t.Fatalf("expected 100 Continue, got %q %v", buf[:n], err)
	}
	io.WriteString(c, "hello")
	n, _ = io.ReadAtLeast(c, buf, 20)
	if !strings.Contains(string(buf[:n]), "200 OK") {
		t.Fatalf("after continue: %q", buf[:n])
	}

	body := strings.NewReader(strings.Repeat("z", 100000))
	req, _ := http.NewRequest("POST", g.url("/chunked"), io.NopCloser(body))
	req.ContentLength = -1 // forces Transfer-Encoding: chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("X-Origin-Body-Len") != "100000" || len(got) != 100000 {
		t.Fatalf("chunked upload: origin saw %s bytes, echoed %d", resp.Header.Get("X-Origin-Body-Len"), len(got))
	}
}
