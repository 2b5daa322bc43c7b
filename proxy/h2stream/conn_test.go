package h2stream

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// exchange stands in for the gateway's exchange: what a stream's runner
// does with its Conn in the test that starts the server. r is the request
// parsed from the Conn (its body reads the rest), raw the bytes it read.
type exchange func(t *testing.T, c *Conn, r *http.Request, raw *bytes.Buffer)

// startH2C serves HTTP/2 with prior knowledge on loopback through a
// Server, each stream handed to ex through a Conn, and returns the
// server's URL and a client for it.
func startH2C(t *testing.T, ex exchange) (string, *http.Client) {
	t.Helper()
	return startH2CConfig(t, Config{}, ex)
}

// startH2CConfig is startH2C with cfg (its Serve set here).
func startH2CConfig(t *testing.T, cfg Config, ex exchange) (string, *http.Client) {
	t.Helper()
	bufs := &sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	srv := NewServer(bufs)
	cfg.Serve = func(c *Conn) {
		var raw bytes.Buffer
		r, err := http.ReadRequest(bufio.NewReader(io.TeeReader(c, &raw)))
		if err != nil {
			t.Errorf("the rendered request does not parse: %v\n%q", err, raw.String())
			return
		}
		ex(t, c, r, &raw)
	}
	addr := testkit.ServeLoopback(t, func(nc net.Conn) { srv.ServeConn(nc, nil, cfg) }, srv.GoAway)
	client := testkit.H2CClient(10 * time.Second)
	t.Cleanup(client.CloseIdleConnections)
	return "http://" + addr, client
}

// TestRequestRendering: what the exchange reads from a stream is an
// HTTP/1.1 request net/http parses back to the same method, target, host,
// fields and body — framed by length when the client said it, in chunks
// when not, without framing when there is no body.
func TestRequestRendering(t *testing.T) {
	type seen struct {
		req  *http.Request
		body string
		raw  string
	}
	got := make(chan seen, 1)
	srv, client := startH2C(t, func(t *testing.T, c *Conn, req *http.Request, raw *bytes.Buffer) {
		body, _ := io.ReadAll(req.Body)
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("after the request: %d bytes, %v; want io.EOF (one request a stream)", n, err)
		}
		got <- seen{req, string(body), raw.String()}
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	})
	cases := []struct {
		method string
		body   io.Reader
		want   string
		framed string // the framing field the rendering must carry ("" none)
	}{
		{"GET", nil, "", ""},
		{"POST", strings.NewReader("sized body"), "sized body", "Content-Length: 10"},
		{"POST", io.MultiReader(strings.NewReader("of unknown "), strings.NewReader("length")), "of unknown length", "Transfer-Encoding: chunked"},
		{"PUT", strings.NewReader(""), "", "Content-Length: 0"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv+"/p/a?q=1", tc.body)
		req.Header.Set("X-Custom", "v1")
		req.Header.Add("X-Custom", "v2")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		s := <-got
		if s.req == nil {
			t.FailNow()
		}
		if s.req.Method != tc.method || s.req.RequestURI != "/p/a?q=1" || s.req.Host != strings.TrimPrefix(srv, "http://") ||
			strings.Join(s.req.Header.Values("X-Custom"), ",") != "v1,v2" || s.body != tc.want {
			t.Errorf("%s: rendered as %q", tc.method, s.raw)
		}
		head, _, _ := strings.Cut(s.raw, "\r\n\r\n")
		hasCL, hasTE := strings.Contains(head, "Content-Length:"), strings.Contains(head, "Transfer-Encoding:")
		if tc.framed == "" && (hasCL || hasTE) || tc.framed != "" && !strings.Contains(head, tc.framed) {
			t.Errorf("%s: framing %q, want %q", tc.method, head, tc.framed)
		}
		if resp.StatusCode != 204 {
			t.Errorf("%s: status %d", tc.method, resp.StatusCode)
		}
	}
}

// answer is an HTTP/1.1 answer as the exchange writes it: an interim
// head, hop-by-hop fields, a chunked body and trailers (one forbidden).
const answer = "HTTP/1.1 100 Continue\r\n\r\n" +
	"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nTransfer-Encoding: chunked\r\nX-Answer: yes\r\n\r\n" +
	"5\r\nhello\r\n7\r\n, world\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message: fine\r\n\r\n"

// TestAnswerSplitAnywhere: however the exchange's writes cut the answer,
// the client gets the same head (no interim, no hop-by-hop fields), body
// and trailers.
func TestAnswerSplitAnywhere(t *testing.T) {
	srv, client := startH2C(t, func(t *testing.T, c *Conn, r *http.Request, _ *bytes.Buffer) {
		at, _ := strconv.Atoi(r.URL.Query().Get("at"))
		for _, part := range []string{answer[:at], answer[at:]} {
			if _, err := io.WriteString(c, part); err != nil {
				t.Errorf("split at %d: %v", at, err)
			}
		}
	})
	for at := 0; at <= len(answer); at++ {
		resp, err := client.Get(srv + "/?at=" + strconv.Itoa(at))
		if err != nil {
			t.Fatalf("split at %d: %v", at, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != "hello, world" || resp.Header.Get("X-Answer") != "yes" ||
			resp.Header.Get("X-Hop") != "" || resp.Header.Get("Connection") != "" ||
			resp.Trailer.Get("Grpc-Status") != "0" || resp.Trailer.Get("Grpc-Message") != "fine" {
			t.Fatalf("split at %d: %d %q %v, header %v, trailer %v", at, resp.StatusCode, body, err, resp.Header, resp.Trailer)
		}
	}
}

// TestBodylessAnswerEndsWithItsHead: an answer without a body (a gRPC
// trailers-only answer) is one head; a Content-Length body passes as is;
// an answer cut short resets the stream instead of ending it cleanly.
func TestBodylessAnswerEndsWithItsHead(t *testing.T) {
	srv, client := startH2C(t, func(t *testing.T, c *Conn, r *http.Request, _ *bytes.Buffer) {
		switch r.URL.Path {
		case "/bodyless":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nGrpc-Status: 16\r\nContent-Length: 0\r\n\r\n")
		case "/sized":
			io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nsix")
			io.WriteString(c, "six")
		case "/cut":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
		}
	})
	resp, err := client.Get(srv + "/bodyless")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Grpc-Status") != "16" {
		t.Fatalf("bodyless: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, err = client.Get(srv + "/sized")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != "sixsix" {
		t.Fatalf("sized: %d %q", resp.StatusCode, body)
	}
	resp, err = client.Get(srv + "/cut")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("an answer cut short ended as if whole")
	}
}
