package h2

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestPipeGrowsAndCarriesEveryByte: writes of every size, from a few
// bytes to several times the pipe's capacity, reach a slower reader whole
// and in order while the buffer grows from its first size to its bound,
// never past it.
func TestPipeGrowsAndCarriesEveryByte(t *testing.T) {
	p := newPipe()
	var want bytes.Buffer
	for i := range 400 {
		want.Write(bytes.Repeat([]byte{byte(i)}, 1+i*i%(3*pipeSize)/17))
	}
	done := make(chan struct{})
	defer close(done)
	var d deadline
	d.set(time.Now().Add(10 * time.Second))
	go func() {
		src := want.Bytes()
		for len(src) > 0 {
			k := min(len(src), 1+len(src)%(2*pipeSize))
			if _, err := p.write(src[:k], &d, done); err != nil {
				p.closeWrite(err)
				return
			}
			src = src[k:]
		}
		p.closeWrite(io.EOF)
	}()
	var got bytes.Buffer
	b := make([]byte, 7000)
	for {
		n, err := p.read(b, &d, done)
		got.Write(b[:n])
		p.mu.Lock()
		size := len(p.buf)
		p.mu.Unlock()
		if size > pipeSize {
			t.Fatalf("pipe buffer grew to %d bytes, past %d", size, pipeSize)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", got.Len(), err)
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("read %d bytes, wrote %d: not the same bytes", got.Len(), want.Len())
	}
}
