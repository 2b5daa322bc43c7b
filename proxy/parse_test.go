package proxy

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func parseRequest(raw string, max int) (*request, error) {
	q := &request{}
	var err error
	q.h.buf, err = readHead(bufio.NewReaderSize(strings.NewReader(raw), 64), q.h.buf, max)
	if err != nil {
		return q, err
	}
	return q, q.parse()
}

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name, raw string
		err       error
		method    string
		target    string
		path      string
		cl        int64
		chunked   bool
		keep      bool
	}{
		{"simple", "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n", nil, "GET", "/a?b=1", "/a", -1, false, true},
		{"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", nil, "GET", "/", "/", -1, false, true},
		{"close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", nil, "GET", "/", "/", -1, false, false},
		{"1.0 default close", "GET / HTTP/1.0\r\n\r\n", nil, "GET", "/", "/", -1, false, false},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", nil, "GET", "/", "/", -1, false, true},
		{"content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", nil, "POST", "/", "/", 12, false, true},
		{"same CL twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", nil, "POST", "/", "/", 3, false, true},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", nil, "POST", "/", "/", -1, true, true},
		{"value whitespace", "GET / HTTP/1.1\r\nHost:   x  \r\n\r\n", nil, "GET", "/", "/", -1, false, true},
		{"CL+TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", errCLAndTE, "", "", "", 0, false, false},
		{"TE+CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", errCLAndTE, "", "", "", 0, false, false},
		{"CL differ", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", errBadCL, "", "", "", 0, false, false},
		{"CL sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", errBadCL, "", "", "", 0, false, false},
		{"CL empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", errBadCL, "", "", "", 0, false, false},
		{"CL huge", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", errBadCL, "", "", "", 0, false, false},
		{"TE identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", errBadTE, "", "", "", 0, false, false},
		{"TE on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", errBadTE, "", "", "", 0, false, false},
		{"bare LF", "GET / HTTP/1.1\nHost: x\r\n\r\n", errBareLF, "", "", "", 0, false, false},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\n\tmore\r\n\r\n", errObsFold, "", "", "", 0, false, false},
		{"bad name", "GET / HTTP/1.1\r\nHo st: x\r\n\r\n", errBadField, "", "", "", 0, false, false},
		{"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", errBadField, "", "", "", 0, false, false},
		{"CR in value", "GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", errBadField, "", "", "", 0, false, false},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", errBadLine, "", "", "", 0, false, false},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", errBadLine, "", "", "", 0, false, false},
		{"version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", errBadVersion, "", "", "", 0, false, false},
		{"absolute", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", errBadTarget, "", "", "", 0, false, false},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", errBadTarget, "", "", "", 0, false, false},
		{"dotdot", "GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", errDotSegment, "", "", "", 0, false, false},
		{"encoded dot", "GET /a/%2E/b HTTP/1.1\r\nHost: x\r\n\r\n", errDotSegment, "", "", "", 0, false, false},
		{"dotdot before query", "GET /a/..?x HTTP/1.1\r\nHost: x\r\n\r\n", errDotSegment, "", "", "", 0, false, false},
		{"dots in query ok", "GET /a?x=/../ HTTP/1.1\r\nHost: x\r\n\r\n", nil, "GET", "/a?x=/../", "/a", -1, false, true},
		{"no host", "GET / HTTP/1.1\r\n\r\n", errNoHost, "", "", "", 0, false, false},
		{"too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n", errHeadTooLarge, "", "", "", 0, false, false},
	}
	for _, c := range cases {
		q, err := parseRequest(c.raw, 256)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(q.Method()) != c.method || string(q.Target()) != c.target || string(q.Path()) != c.path ||
			q.contentLen != c.cl || q.chunked != c.chunked || q.keepAlive != c.keep {
			t.Errorf("%s: got %s %s %s cl=%d chunked=%v keep=%v", c.name, q.Method(), q.Target(), q.Path(), q.contentLen, q.chunked, q.keepAlive)
		}
	}
}

func TestChunkedReader(t *testing.T) {
	cases := []struct {
		name, in, out string
		err           error
	}{
		{"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", nil},
		{"extension", "5;a=b\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"trailers", "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", "hello", nil},
		{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", nil},
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"overflow", "1000000000000000\r\n", "", errBadChunk},
		{"missing CRLF", "5\r\nhelloX\r\n0\r\n\r\n", "hello", errBadChunk},
		{"bare LF size", "5\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"truncated", "5\r\nhel", "hel", io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		var cr chunkedReader
		cr.reset(bufio.NewReaderSize(strings.NewReader(c.in), 16))
		out, err := io.ReadAll(&cr)
		if c.err == nil && (err != nil || string(out) != c.out) {
			t.Errorf("%s: %q %v", c.name, out, err)
		}
		if c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: err %v, want %v (out %q)", c.name, err, c.err, out)
		}
	}
}

func TestParseResponse(t *testing.T) {
	cases := []struct {
		raw     string
		ok      bool
		status  int
		cl      int64
		chunked bool
		close   bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, 200, 5, false, false},
		{"HTTP/1.1 204\r\n\r\n", true, 204, -1, false, false},
		{"HTTP/1.0 200 OK\r\n\r\n", true, 200, -1, false, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", true, 200, -1, true, true},
		{"HTTP/1.1 2000 OK\r\n\r\n", false, 0, 0, false, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, 0, 0, false, false},
		{"SIP/2.0 200 OK\r\n\r\n", false, 0, 0, false, false},
	}
	for _, c := range cases {
		p := &response{}
		p.h.buf = append(p.h.buf, c.raw...)
		err := p.parse()
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v", c.raw, err)
			continue
		}
		if c.ok && (p.status != c.status || p.contentLen != c.cl || p.chunked != c.chunked || p.closeAfter != c.close) {
			t.Errorf("%q: status %d cl %d chunked %v close %v", c.raw, p.status, p.contentLen, p.chunked, p.closeAfter)
		}
	}
}

func TestHeaderEdits(t *testing.T) {
	var h Header
	h.Add("Content-Type", "text/plain")
	h.Add("X-A", "1")
	h.Add("x-a", "2")
	if string(h.Get("x-A")) != "1" || h.Count("X-A") != 2 {
		t.Fatalf("get/count: %q %d", h.Get("x-A"), h.Count("X-A"))
	}
	h.Set("X-A", "3")
	if string(h.Get("X-A")) != "3" || h.Count("X-A") != 1 || string(h.Get("content-type")) != "text/plain" {
		t.Fatal("set did not replace")
	}
	h.Del("content-type")
	if h.Has("Content-Type") || h.Len() != 1 {
		t.Fatal("del")
	}
	if !isHopByHop([]byte("X-Secret"), []byte("keep-alive, x-secret")) || isHopByHop([]byte("X-Other"), []byte("x-secret")) {
		t.Fatal("connection-named hop headers")
	}
}

// FuzzParseRequest: no input panics the head parser or the chunk decoder.
func FuzzParseRequest(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	f.Add("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("GET /%2e%2E/ HTTP/1.0\r\nContent-Length: 1, 1\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		r := bufio.NewReaderSize(strings.NewReader(raw), 32)
		q := &request{}
		var err error
		if q.h.buf, err = readHead(r, q.h.buf, 4096); err != nil {
			return
		}
		if q.parse() != nil {
			return
		}
		var cr chunkedReader
		cr.reset(r)
		io.Copy(io.Discard, &cr)
	})
}
