package http1

import (
	"errors"
	"testing"
)

// TestChunkSinkPieces writes a chunked body with trailers, followed by
// extra bytes, in pieces of every size: the data and trailers come out
// whole and the extra bytes are not counted as the body's.
func TestChunkSinkPieces(t *testing.T) {
	body := "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nGrpc-Status: 0\r\n\r\n"
	msg := body + "XY"
	for step := 1; step <= len(msg); step++ {
		var s ChunkSink
		s.Reset(64)
		var out []byte
		taken := 0
		for off := 0; off < len(msg) && !s.Done(); off += step {
			p := []byte(msg[off:min(off+step, len(msg))])
			n, err := s.Write(p, func(d []byte) error { out = append(out, d...); return nil })
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if !s.Done() && n != len(p) {
				t.Fatalf("step %d: took %d of %d before the end", step, n, len(p))
			}
			taken += n
		}
		if !s.Done() || string(out) != "hello world!" || taken != len(body) {
			t.Fatalf("step %d: done %v, data %q, took %d of %d", step, s.Done(), out, taken, len(body))
		}
		if string(s.Trailer()) != "Grpc-Status: 0\r\n" {
			t.Fatalf("step %d: trailer %q", step, s.Trailer())
		}
	}
}

// TestChunkSinkErrors: a malformed body is ErrBadChunk, even when the
// bad byte comes in a later write; the data callback's error comes back.
func TestChunkSinkErrors(t *testing.T) {
	var s ChunkSink
	s.Reset(64)
	if _, err := s.Write([]byte("5\r"), func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("x\n"), func([]byte) error { return nil }); !errors.Is(err, ErrBadChunk) {
		t.Fatalf("err %v, want ErrBadChunk", err)
	}
	s.Reset(64)
	boom := errors.New("boom")
	if _, err := s.Write([]byte("2\r\nab\r\n"), func([]byte) error { return boom }); err != boom {
		t.Fatalf("err %v, want the callback's", err)
	}
	s.Reset(8)
	if _, err := s.Write([]byte("123456789"), func([]byte) error { return nil }); !errors.Is(err, ErrBadChunk) {
		t.Fatalf("long size line: err %v, want ErrBadChunk", err)
	}
}
