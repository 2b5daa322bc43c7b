package http1

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// scanAll decodes body with a ChunkScanner fed step bytes at a time, as a
// loop would see them arrive.
func scanAll(body []byte, step, maxLine int) ([]byte, bool, error) {
	var sc ChunkScanner
	sc.Reset(maxLine)
	var out, buf []byte
	for fed := 0; ; {
		for {
			n, data, err := sc.Next(buf)
			if err != nil {
				return out, false, err
			}
			if n == 0 {
				break
			}
			out = append(out, data...)
			buf = buf[n:]
		}
		if sc.Done() || fed == len(body) {
			return out, sc.Done(), nil
		}
		k := min(step, len(body)-fed)
		buf = append(buf, body[fed:fed+k]...)
		fed += k
	}
}

// readAllChunked decodes body with the blocking ChunkedReader.
func readAllChunked(body []byte, size int) ([]byte, error) {
	var cr ChunkedReader
	cr.Reset(bufio.NewReaderSize(bytes.NewReader(body), size))
	return io.ReadAll(&cr)
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
	want, rerr := readAllChunked(body, 4096)
	got, done, serr := scanAll(body, step, 4096)
	switch {
	case rerr == nil && (serr != nil || !done || !bytes.Equal(got, want)):
		t.Errorf("%q step %d: scanner %q done %v err %v; reader %q", body, step, got, done, serr, want)
	case rerr == ErrBadChunk && serr == nil && done:
		t.Errorf("%q step %d: reader refused it, scanner accepted %q", body, step, got)
	case rerr != nil && serr == nil && done:
		t.Errorf("%q step %d: reader failed (%v), scanner finished", body, step, rerr)
	}
}

func FuzzChunkScanner(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 3)
	f.Add([]byte("1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, body []byte, step int) {
		if step <= 0 || step > 64 {
			step = 1
		}
		compareDecoders(t, body, step)
	})
}
