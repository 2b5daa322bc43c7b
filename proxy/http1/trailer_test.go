package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// trailerCase is a chunked body ending in a trailer section, with the
// trailer the decoders keep (err: the body is refused).
type trailerCase struct {
	name, in, data, trailer string
	err                     error
	max                     int // the line limit, when not 4096
}

// trailerCases are the bodies the decoders are tried on.
var trailerCases = []trailerCase{
	{"none", "5\r\nhello\r\n0\r\n\r\n", "hello", "", nil, 0},
	{"grpc", "5\r\nhello\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message: all good\r\n\r\n", "hello",
		"Grpc-Status: 0\r\nGrpc-Message: all good\r\n", nil, 0},
	{"whitespace trimmed", "0\r\nX-T:   v 1 \t\r\nX-Empty:\r\n\r\n", "", "X-T: v 1\r\nX-Empty: \r\n", nil, 0},
	{"forbidden dropped", "1\r\nz\r\n0\r\nContent-Length: 5\r\nHost: evil\r\nTransfer-Encoding: chunked\r\n" +
		"Connection: close\r\nTrailer: X\r\nkeep-alive: 1\r\nTE: trailers\r\nUpgrade: h2c\r\n" +
		"Proxy-Authorization: x\r\nProxy-Authenticate: x\r\nProxy-Connection: x\r\nX-Ok: 1\r\n\r\n", "z", "X-Ok: 1\r\n", nil, 0},
	{"63 fields", "0\r\n" + strings.Repeat("T: x\r\n", 63) + "\r\n", "", strings.Repeat("T: x\r\n", 63), nil, 0},
	{"64 fields", "0\r\n" + strings.Repeat("T: x\r\n", 64) + "\r\n", "", "", ErrBadChunk, 0},
	{"name not a token", "0\r\nBad Name: x\r\n\r\n", "", "", ErrBadChunk, 0},
	{"space before colon", "0\r\nX-T : x\r\n\r\n", "", "", ErrBadChunk, 0},
	{"no colon", "0\r\nX-T\r\n\r\n", "", "", ErrBadChunk, 0},
	{"no name", "0\r\n: x\r\n\r\n", "", "", ErrBadChunk, 0},
	{"control byte", "0\r\nX-T: a\x01b\r\n\r\n", "", "", ErrBadChunk, 0},
	{"obs-fold", "0\r\nX-T: a\r\n b\r\n\r\n", "", "", ErrBadChunk, 0},
	{"bare LF", "0\r\nX-T: a\n\r\n", "", "", ErrBadChunk, 0},
	{"line within the limit", "0\r\nX-T: " + strings.Repeat("a", 57) + "\r\n\r\n", "", "X-T: " + strings.Repeat("a", 57) + "\r\n", nil, 64},
	{"line too long", "0\r\nX-T: " + strings.Repeat("a", 58) + "\r\n\r\n", "", "", ErrBadChunk, 64},
	{"section within the limit", "0\r\n" + strings.Repeat("X-T: "+strings.Repeat("a", 9)+"\r\n", 4) + "\r\n", "",
		strings.Repeat("X-T: "+strings.Repeat("a", 9)+"\r\n", 4), nil, 64},
	{"section too large", "0\r\n" + strings.Repeat("X-T: "+strings.Repeat("a", 20)+"\r\n", 3) + "\r\n", "", "", ErrBadChunk, 64},
}

// maxLine is the line limit c runs with.
func (c trailerCase) maxLine() int {
	if c.max == 0 {
		return 4096
	}
	return c.max
}

// TestChunkScannerKeepsTrailer: the scanner keeps the same trailer fields
// however the body is split across reads — in two at every byte
// boundary, and byte by byte — and refuses the same bodies.
func TestChunkScannerKeepsTrailer(t *testing.T) {
	var sc ChunkScanner // one scanner for every body, as a connection's
	for _, c := range trailerCases {
		maxLine := c.maxLine()
		in := []byte(c.in)
		for k := 0; k <= len(in); k++ {
			sc.Reset(maxLine)
			first := true
			got := scanFed(&sc, in, func(int) int {
				if first {
					first = false
					return k
				}
				return len(in)
			})
			checkTrailer(t, c.name, "split at "+strconv.Itoa(k), got, c.data, c.trailer, c.err)
		}
		sc.Reset(maxLine)
		got := scanFed(&sc, in, func(int) int { return 1 })
		checkTrailer(t, c.name, "byte by byte", got, c.data, c.trailer, c.err)
	}
}

// TestChunkedReaderKeepsTrailer: the blocking reader keeps the same
// trailer fields and refuses the same bodies, with its buffer the line
// limit.
func TestChunkedReaderKeepsTrailer(t *testing.T) {
	var cr ChunkedReader
	for _, c := range trailerCases {
		cr.Reset(bufio.NewReaderSize(strings.NewReader(c.in), c.maxLine()))
		data, err := io.ReadAll(&cr)
		got := scanned{data: data, trailer: cr.Trailer(), done: err == nil, err: err}
		checkTrailer(t, c.name, "reader", got, c.data, c.trailer, c.err)
	}
}

func checkTrailer(t *testing.T, name, how string, got scanned, data, trailer string, err error) {
	t.Helper()
	switch {
	case err != nil && !errors.Is(got.err, err):
		t.Errorf("%s, %s: err %v, want %v (trailer %q)", name, how, got.err, err, got.trailer)
	case err == nil && (got.err != nil || !got.done):
		t.Errorf("%s, %s: not decoded: done %v err %v", name, how, got.done, got.err)
	case err == nil && (string(got.data) != data || string(got.trailer) != trailer):
		t.Errorf("%s, %s: data %q trailer %q, want %q %q", name, how, got.data, got.trailer, data, trailer)
	}
}

// TestTrailerBufferReused: a decoder that kept trailer fields keeps its
// buffer for the next body: a body with trailers decodes without
// allocating once it has been through, and a body without trailers after
// it has none.
func TestTrailerBufferReused(t *testing.T) {
	body := []byte("3\r\nabc\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message: ok\r\n\r\n")
	var sc ChunkScanner
	scan := func(b []byte) []byte {
		sc.Reset(4096)
		for len(b) > 0 {
			n, _, err := sc.Next(b)
			if err != nil || n == 0 {
				t.Fatalf("%q: n %d err %v", b, n, err)
			}
			b = b[n:]
		}
		return sc.Trailer()
	}
	scan(body)
	if avg := testing.AllocsPerRun(100, func() { scan(body) }); avg != 0 {
		t.Errorf("scanner: %.1f allocations per body with trailers", avg)
	}
	if tr := scan([]byte("0\r\n\r\n")); len(tr) != 0 {
		t.Errorf("scanner: a body without trailers has %q", tr)
	}

	var cr ChunkedReader
	src := bytes.NewReader(body)
	br := bufio.NewReaderSize(src, 4096)
	p := make([]byte, 64)
	read := func(b []byte) []byte {
		src.Reset(b)
		br.Reset(src)
		cr.Reset(br)
		for {
			if _, err := cr.Read(p); err == io.EOF {
				return cr.Trailer()
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	read(body)
	if avg := testing.AllocsPerRun(100, func() { read(body) }); avg != 0 {
		t.Errorf("reader: %.1f allocations per body with trailers", avg)
	}
	if tr := read([]byte("0\r\n\r\n")); len(tr) != 0 {
		t.Errorf("reader: a body without trailers has %q", tr)
	}
}

// TestWriteTrailer: the last chunk carries the kept fields, and the
// Trailer announcement names only fields a trailer may carry.
func TestWriteTrailer(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	WriteLastChunk(w, nil)
	WriteLastChunk(w, []byte("Grpc-Status: 0\r\n"))
	var h Header
	h.Add("Trailer", "Grpc-Status, Content-Length,, bad name, Host")
	h.Add("Content-Type", "application/grpc")
	h.Add("trailer", "X-Meta")
	WriteTrailerNames(w, &h)
	var none Header
	none.Add("Trailer", "Transfer-Encoding")
	WriteTrailerNames(w, &none)
	w.Flush()
	const want = "0\r\n\r\n" + "0\r\nGrpc-Status: 0\r\n\r\n" + "Trailer: Grpc-Status, X-Meta\r\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}
