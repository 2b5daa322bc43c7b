package http1

import (
	"bufio"
	"strings"
	"testing"
)

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
		p := &Response{}
		if err := p.ReadHead(bufio.NewReader(strings.NewReader(c.raw)), 4096); err != nil {
			t.Errorf("%q: ReadHead: %v", c.raw, err)
			continue
		}
		err := p.Parse()
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v", c.raw, err)
			continue
		}
		if c.ok && (p.Status != c.status || p.ContentLen != c.cl || p.Chunked != c.chunked || p.CloseAfter != c.close) {
			t.Errorf("%q: status %d cl %d chunked %v close %v", c.raw, p.Status, p.ContentLen, p.Chunked, p.CloseAfter)
		}
	}
}
