package http1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestChunkedReader(t *testing.T) {
	cases := []struct {
		name, in, out string
		err           error
	}{
		{"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", nil},
		{"extension", "5;a=b\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"trailers", "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", "hello", nil},
		{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", nil},
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"overflow", "1000000000000000\r\n", "", ErrBadChunk},
		{"missing CRLF", "5\r\nhelloX\r\n0\r\n\r\n", "hello", ErrBadChunk},
		{"bare LF size", "5\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"truncated", "5\r\nhel", "hel", io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		var cr ChunkedReader
		cr.Reset(bufio.NewReaderSize(strings.NewReader(c.in), 16))
		out, err := io.ReadAll(&cr)
		if c.err == nil && (err != nil || string(out) != c.out) {
			t.Errorf("%s: %q %v", c.name, out, err)
		}
		if c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: err %v, want %v (out %q)", c.name, err, c.err, out)
		}
	}
}

// errNoMore is what drySource returns once its bytes are gone: a read
// that would have waited for the peer.
var errNoMore = errors.New("read would wait for the peer")

// drySource hands out its bytes in one read, then counts reads that would
// have waited.
type drySource struct {
	b      []byte
	waited int
}

func (s *drySource) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		s.waited++
		return 0, errNoMore
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// TestChunkedReaderReturnsBufferedBytes: a chunk's bytes come back as soon
// as they are buffered, before its closing CRLF and before the next chunk,
// and the CRLF is still checked.
func TestChunkedReaderReturnsBufferedBytes(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"5\r\nhello", "hello"},
		{"5\r\nhello\r\n", "hello"},
		{"5\r\nhello\r\n3\r\n", "hello"},
		{"5\r\nhel", "hel"},
		{"5\r\nhello\r\n3\r\nab", "helloab"},
	} {
		src := &drySource{b: []byte(c.in)}
		var cr ChunkedReader
		cr.Reset(bufio.NewReaderSize(src, 64))
		var got []byte
		p := make([]byte, 64)
		for {
			n, err := cr.Read(p)
			got = append(got, p[:n]...)
			if err != nil {
				if !errors.Is(err, errNoMore) {
					t.Errorf("%q: err %v", c.in, err)
				}
				break
			}
		}
		if string(got) != c.out {
			t.Errorf("%q: read %q before waiting, want %q", c.in, got, c.out)
		}
	}
	var cr ChunkedReader
	cr.Reset(bufio.NewReaderSize(strings.NewReader("5\r\nhelloXY3\r\nabc\r\n0\r\n\r\n"), 16))
	out, err := io.ReadAll(&cr)
	if string(out) != "hello" || !errors.Is(err, ErrBadChunk) {
		t.Errorf("bad CRLF after a chunk: %q %v", out, err)
	}
}

// TestChunkedReaderCanRead: for every prefix of well-formed bodies held in
// the buffer, canRead is true exactly when the next Read returns without
// reading the source again, and the bytes decoded are the prefix's.
func TestChunkedReaderCanRead(t *testing.T) {
	bodies := []struct{ in, out string }{
		{"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", "helloabc"},
		{"1\r\na\r\n0\r\n\r\n", "a"},
		{"A\r\n0123456789\r\n2\r\nxy\r\n0\r\n\r\n", "0123456789xy"},
		{"0\r\n\r\n", ""},
	}
	for _, body := range bodies {
		for _, size := range []int{1, 3, 64} {
			for k := 0; k <= len(body.in); k++ {
				src := &drySource{b: []byte(body.in[:k])}
				br := bufio.NewReaderSize(src, 64)
				br.Peek(1) // the prefix is buffered; the source is dry
				var cr ChunkedReader
				cr.Reset(br)
				var got []byte
				p := make([]byte, size)
				for i := 0; ; i++ {
					if i > 100 {
						t.Fatalf("%q[:%d]: no end", body.in, k)
					}
					want := cr.CanRead()
					waited := src.waited
					n, err := cr.Read(p)
					got = append(got, p[:n]...)
					if didWait := src.waited > waited; didWait == want {
						t.Fatalf("%q[:%d] read size %d after %q: canRead %v, read waited %v", body.in, k, size, got, want, didWait)
					}
					if err == io.EOF {
						if k != len(body.in) || string(got) != body.out {
							t.Fatalf("%q[:%d]: EOF after %q", body.in, k, got)
						}
						break
					}
					if err != nil {
						if !errors.Is(err, errNoMore) || !strings.HasPrefix(body.out, string(got)) {
							t.Fatalf("%q[:%d]: %q %v", body.in, k, got, err)
						}
						break
					}
				}
			}
		}
	}
}

// TestFrameChunk frames data in place for sizes with one to eight hex
// digits: the chunk decodes back to the data.
func TestFrameChunk(t *testing.T) {
	for _, n := range []int{1, 15, 16, 255, 4096, 1 << 20} {
		buf := make([]byte, ChunkRoom+n+2)
		for i := range n {
			buf[ChunkRoom+i] = byte('a' + i%26)
		}
		want := string(buf[ChunkRoom : ChunkRoom+n])
		chunk := FrameChunk(buf, n)
		got, _, err := readAllChunked(append(chunk, "0\r\n\r\n"...), 64)
		if err != nil || string(got) != want {
			t.Fatalf("n %d: chunk %q…: %d bytes, err %v", n, chunk[:min(len(chunk), 12)], len(got), err)
		}
	}
}
