package proxy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

func newTestBatchedWriter(c net.Conn) *batchedWriter {
	bufs := &sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	return newBatchedWriter(c, bufs)
}

// TestBatchedWriterKeepsOrder: writes of every size, queued faster than
// the reader takes them, arrive whole and in order, and what is queued
// when the connection is closed is written before the close.
func TestBatchedWriterKeepsOrder(t *testing.T) {
	client, server := net.Pipe()
	w := newTestBatchedWriter(server)
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	for i := range 2000 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*37%3000)
		want.Write(p)
		if n, err := w.Write(p); n != len(p) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	w.drain()
	server.Close()
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("read %d bytes, wrote %d: not the same bytes in the same order", len(b), want.Len())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader did not get everything within 10 s")
	}
}

// TestBatchedWriterHoldsBackAndFails: with a reader that does not read,
// Write stops returning once h2PendingMax bytes are pending (memory stays
// bounded); when the connection fails, the blocked Write and the ones
// after it return an error, and drain returns.
func TestBatchedWriterHoldsBackAndFails(t *testing.T) {
	client, server := net.Pipe()
	w := newTestBatchedWriter(server)
	chunk := make([]byte, 16<<10)
	wrote := make(chan int, 1)
	go func() {
		total := 0
		for total < 4*h2PendingMax {
			if _, err := w.Write(chunk); err != nil {
				break
			}
			total += len(chunk)
		}
		wrote <- total
	}()
	pending := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.pending)
	}
	// The queue fills up to its bound, and then the writing goroutine
	// waits in Write.
	if !testkit.Poll(10*time.Second, time.Millisecond, func() bool { return pending() >= h2PendingMax }) {
		t.Fatalf("%d bytes pending after 10 s, want the bound %d reached", pending(), h2PendingMax)
	}
	select {
	case n := <-wrote:
		t.Fatalf("%d bytes written to a reader that reads nothing: Write never held back", n)
	default:
	}
	if p := pending(); p > h2PendingMax+len(chunk) {
		t.Fatalf("%d bytes pending, past the bound %d", p, h2PendingMax)
	}
	client.Close() // the peer goes away: the write in progress fails
	select {
	case n := <-wrote:
		if n >= 4*h2PendingMax {
			t.Fatalf("all %d bytes accepted after the peer closed", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Write stayed blocked after the connection failed")
	}
	if _, err := w.Write(chunk); err == nil {
		t.Fatal("Write after a failed write returned no error")
	}
	w.drain()
}
