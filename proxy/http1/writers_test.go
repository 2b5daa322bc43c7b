package http1

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// The head written back to a client: status line, the fields minus
// hop-by-hop ones and Content-Length, and the Connection field its
// version needs.
func TestWriteHead(t *testing.T) {
	var p Response
	raw := "HTTP/1.1 404 Not Here\r\nX-A: 1\r\nConnection: x-secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\nContent-Length: 3\r\n\r\n"
	if err := p.ReadHead(bufio.NewReader(strings.NewReader(raw)), 4096); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	w := bufio.NewWriter(&out)
	WriteStatusLine(w, p.Status, p.Reason())
	WriteFields(w, &p.Fields, p.Fields.Get("Connection"))
	WriteField(w, "X-B", "2")
	WriteConnection(w, true, 0)
	WriteStatusLine(w, 503, nil)
	WriteConnection(w, true, 1)
	WriteConnection(w, false, 1)
	w.Flush()
	want := "HTTP/1.1 404 Not Here\r\nX-A: 1\r\nX-B: 2\r\nConnection: keep-alive\r\n" +
		"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
	if out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
}

// The framing of a forwarded request comes from the parse, not from the
// client's fields.
func TestAppendFraming(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n"},
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n", "Content-Length: 7\r\n\r\n"},
		{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  chunked \r\n\r\n", "Transfer-Encoding: chunked\r\n\r\n"},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
	} {
		q, err := parseRequest(c.raw, 4096)
		if err != nil {
			t.Fatalf("%q: %v", c.raw, err)
		}
		if got := string(q.AppendFraming(AppendField(nil, "A", "b"))); got != "A: b\r\n"+c.want {
			t.Errorf("%q: %q, want %q", c.raw, got, "A: b\r\n"+c.want)
		}
	}
}

// WriteChunk and AppendChunk frame the same bytes the same way, and both
// leave an empty piece out (it would read as the last chunk).
func TestChunkFraming(t *testing.T) {
	for _, n := range []int{0, 1, 5, 15, 16, 17, 255, 256, 0x1f3, 4096, 0xffff, 0x10000, 1<<20 + 3} {
		p := strings.Repeat("x", n)
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if err := WriteChunk(w, []byte(p)); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		want := ""
		if p != "" {
			want = strconv.FormatInt(int64(len(p)), 16) + "\r\n" + p + "\r\n"
		}
		if b.String() != want {
			t.Errorf("WriteChunk(%d bytes) = %q, want %q", len(p), b.String(), want)
		}
		if got := string(AppendChunk([]byte("pre"), []byte(p))); got != "pre"+want {
			t.Errorf("AppendChunk(%d bytes) = %q, want %q", len(p), got, "pre"+want)
		}
	}
}
