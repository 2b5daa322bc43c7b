package http1

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// scanned is what a ChunkScanner made of a body.
type scanned struct {
	data, trailer []byte
	done          bool
	err           error
}

// scanAll decodes body with a ChunkScanner fed step bytes at a time, as a
// loop would see them arrive.
func scanAll(body []byte, step, maxLine int) scanned {
	var sc ChunkScanner
	sc.Reset(maxLine)
	return scanFed(&sc, body, func(int) int { return step })
}

// scanFed decodes body with sc, fed piece(fed) more bytes each time it
// needs more (fed: the bytes given so far).
func scanFed(sc *ChunkScanner, body []byte, piece func(fed int) int) scanned {
	var out, buf []byte
	for fed := 0; ; {
		for {
			n, data, err := sc.Next(buf)
			if err != nil {
				return scanned{data: out, err: err}
			}
			if n == 0 {
				break
			}
			out = append(out, data...)
			buf = buf[n:]
		}
		if sc.Done() || fed == len(body) {
			return scanned{data: out, trailer: sc.Trailer(), done: sc.Done()}
		}
		k := min(max(piece(fed), 1), len(body)-fed)
		buf = append(buf, body[fed:fed+k]...)
		fed += k
	}
}

// readAllChunked decodes body with the blocking ChunkedReader; trailer is
// what it kept of the trailer section.
func readAllChunked(body []byte, size int) (data, trailer []byte, err error) {
	var cr ChunkedReader
	cr.Reset(bufio.NewReaderSize(bytes.NewReader(body), size))
	data, err = io.ReadAll(&cr)
	return data, cr.Trailer(), err
}

func TestChunkScannerMatchesReader(t *testing.T) {
	for _, body := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\n",
		"5\r\nhello\r\n",        // unfinished
		"5\r\nhelloXX0\r\n\r\n", // no CRLF after data
		"5\nhello\r\n0\r\n\r\n", // bare LF
		"zz\r\n",                // not hex
		"1234567890123456\r\n",  // too many digits
		"0\r\n" + string(bytes.Repeat([]byte("T: x\r\n"), 70)) + "\r\n",
		"1\r\nx\r\n0\r\nGrpc-Status: 0\r\nContent-Length: 9\r\nX-Meta:  a b \r\n\r\n",
		"0\r\nBad Name: x\r\n\r\n", // not a token
		"0\r\nX: 1\r\n folded\r\n\r\n",
	} {
		for _, step := range []int{1, 2, 3, 7, 1000} {
			compareDecoders(t, []byte(body), step)
		}
	}
}

// compareDecoders fails when the scanner and the reader disagree on body:
// the same data when both accept it, a refusal when the reader refuses.
func compareDecoders(t *testing.T, body []byte, step int) {
	t.Helper()
	want, trailer, rerr := readAllChunked(body, 4096)
	got := scanAll(body, step, 4096)
	switch {
	case rerr == nil && (got.err != nil || !got.done || !bytes.Equal(got.data, want) || !bytes.Equal(got.trailer, trailer)):
		t.Errorf("%q step %d: scanner %q trailer %q done %v err %v; reader %q trailer %q",
			body, step, got.data, got.trailer, got.done, got.err, want, trailer)
	case rerr == ErrBadChunk && got.err == nil && got.done:
		t.Errorf("%q step %d: reader refused it, scanner accepted %q", body, step, got.data)
	case rerr != nil && got.err == nil && got.done:
		t.Errorf("%q step %d: reader failed (%v), scanner finished", body, step, rerr)
	}
}

func FuzzChunkScanner(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 3)
	f.Add([]byte("1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n"), 1)
	f.Add([]byte("2\r\nok\r\n0\r\nGrpc-Status: 0\r\nHost: x\r\nX-M:  a \r\n\r\n"), 2)
	f.Fuzz(func(t *testing.T, body []byte, step int) {
		if step <= 0 || step > 64 {
			step = 1
		}
		compareDecoders(t, body, step)
	})
}
