package http1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func parseRequest(raw string, max int) (*Request, error) {
	q := &Request{}
	if err := q.ReadHead(bufio.NewReaderSize(strings.NewReader(raw), 64), max); err != nil {
		return q, err
	}
	return q, q.Parse()
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
		{"bare LF", "GET / HTTP/1.1\nHost: x\r\n\r\n", ErrBareLF, "", "", "", 0, false, false},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\n\tmore\r\n\r\n", ErrObsFold, "", "", "", 0, false, false},
		{"bad name", "GET / HTTP/1.1\r\nHo st: x\r\n\r\n", errBadField, "", "", "", 0, false, false},
		{"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", errBadField, "", "", "", 0, false, false},
		{"CR in value", "GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", errBadField, "", "", "", 0, false, false},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", errBadLine, "", "", "", 0, false, false},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", errBadLine, "", "", "", 0, false, false},
		{"version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", ErrBadVersion, "", "", "", 0, false, false},
		{"absolute", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", errBadTarget, "", "", "", 0, false, false},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", errBadTarget, "", "", "", 0, false, false},
		{"dotdot", "GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", errDotSegment, "", "", "", 0, false, false},
		{"encoded dot", "GET /a/%2E/b HTTP/1.1\r\nHost: x\r\n\r\n", errDotSegment, "", "", "", 0, false, false},
		{"dotdot before query", "GET /a/..?x HTTP/1.1\r\nHost: x\r\n\r\n", errDotSegment, "", "", "", 0, false, false},
		{"dots in query ok", "GET /a?x=/../ HTTP/1.1\r\nHost: x\r\n\r\n", nil, "GET", "/a?x=/../", "/a", -1, false, true},
		{"no host", "GET / HTTP/1.1\r\n\r\n", errNoHost, "", "", "", 0, false, false},
		{"too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n", ErrHeadTooLarge, "", "", "", 0, false, false},
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
			q.ContentLen != c.cl || q.Chunked != c.chunked || q.KeepAlive != c.keep {
			t.Errorf("%s: got %s %s %s cl=%d chunked=%v keep=%v", c.name, q.Method(), q.Target(), q.Path(), q.ContentLen, q.Chunked, q.KeepAlive)
		}
		if want := len(strings.TrimLeft(c.raw, "\r\n")); q.HeadLen() != want {
			t.Errorf("%s: HeadLen %d, want %d", c.name, q.HeadLen(), want)
		}
	}
}

// FuzzParseRequest: no input panics the head parser or the chunk decoder.
func FuzzParseRequest(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	f.Add("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("GET /%2e%2E/ HTTP/1.0\r\nContent-Length: 1, 1\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		r := bufio.NewReaderSize(strings.NewReader(raw), 32)
		q := &Request{}
		if q.ReadHead(r, 4096) != nil {
			return
		}
		if q.Parse() != nil {
			return
		}
		var cr ChunkedReader
		cr.Reset(r)
		io.Copy(io.Discard, &cr)
	})
}

// TestSpeaksHTTP: a head whose first line ends in an HTTP version, one
// Parse accepts or not, speaks HTTP; bytes of other protocols do not.
func TestSpeaksHTTP(t *testing.T) {
	cases := map[string]bool{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n":          true,
		"\r\nGET / HTTP/1.0\r\n\r\n":                 true,
		"GET / HTTP/1.2\r\nHost: x\r\n\r\n":          true, // unsupported, but HTTP
		"GET /a HTTP/2.0\r\n\r\n":                    true,
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":           true, // a preface with HTTP/2 disabled
		"GET / HTTP/1.1\nHost: x\n\n":                true, // bare LF: HTTP, refused
		"G(T  /x HTTP/1.1\r\nHost: x\r\n\r\n":        true,
		"INVALID CONNECTION PREFACE\r\n\r\n":         false, // h2spec http2/3.5
		"GET /\r\n\r\n":                              false, // HTTP/0.9
		"GET / HTTP/1.x\r\n\r\n":                     false,
		"GET / HTTPS/1.1\r\n\r\n":                    false,
		"GET /HTTP/1.1\r\n\r\n":                      false,
		"HTTP/1.1\r\n\r\n":                           false,
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\n\r\n": false,
		"SSH-2.0-OpenSSH_9.6\r\n\r\n":                false,
		"GET / HTTP/1.1 \r\n\r\n":                    false,
		"GET / HTTP/11\r\n\r\n":                      false,
		"GET / HTTP/1.1\r\nX: " + "HTTP/1.1\r\n\r\n": true,
		"NOPE\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n":  false, // the first line decides
		"GET / HTTP/1.1 trailing HTTP/1.1\r\n\r\n":   true,
		"GET / http/1.1\r\nHost: x\r\n\r\n":          false,
		"GET / HTTP/1.1HTTP/1.1\r\nHost: x\r\n\r\n":  false,
		"A\r\n\r\n": false,
		"GET / HTTP/9.9\r\nHost: x\r\nX: y\r\n\r\n":                   true,
		"GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 3) + "\r\n": true,
	}
	for raw, want := range cases {
		q, _ := parseRequest(raw, 256)
		if got := q.SpeaksHTTP(); got != want {
			t.Errorf("%q: SpeaksHTTP %v, want %v", raw, got, want)
		}
	}
}
