package h2stream

import (
	"io"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tollgate/internal/testkit"
)

// TestBatchHoldsATurnsAnswersForOneWrite: answers written without waiting
// by streams a Batch was given for stay pending (no flushing goroutine
// starts) until the Batch's Flush, which writes them all in one write on
// the cleartext socket; the client then reads each answer whole.
func TestBatchHoldsATurnsAnswersForOneWrite(t *testing.T) {
	var batch Batch
	taken := make(chan *Conn, 3)
	c, _ := startRaw(t, Config{
		Serve:  func(*Conn) { t.Error("a stream Inline could take went to a runner") },
		Inline: func(sc *Conn) (*Batch, bool) { taken <- sc; return &batch, true },
	})
	ids := []uint32{1, 3, 5}
	for _, id := range ids {
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block("/b"), EndStream: true, EndHeaders: true})
	}
	var streams []*Conn
	for range ids {
		streams = append(streams, <-taken)
	}
	cn := streams[0].cn
	idle := func() bool { // the driver's own output (SETTINGS, its ack) is out
		cn.mu.Lock()
		defer cn.mu.Unlock()
		return !cn.out.writing && len(cn.out.pending) == 0
	}
	if !testkit.Poll(10*time.Second, time.Millisecond, idle) {
		t.Fatal("the connection's own output still waits 10 s on")
	}
	for _, sc := range streams {
		io.Copy(io.Discard, sc)
		if _, err := io.WriteString(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
			t.Fatal(err)
		}
	}
	cn.mu.Lock()
	writing, pending := cn.out.writing, len(cn.out.pending)
	cn.mu.Unlock()
	if writing || pending == 0 {
		t.Fatalf("before the Batch's Flush: writing %v, %d bytes pending; want the answers pending, nothing writing", writing, pending)
	}
	batch.Flush()
	cn.mu.Lock()
	writing, pending = cn.out.writing, len(cn.out.pending)
	cn.mu.Unlock()
	if writing || pending != 0 {
		t.Fatalf("after the Flush: writing %v, %d bytes pending; want all written at once", writing, pending)
	}
	for _, id := range ids {
		if body, _ := c.readAnswer(id); string(body) != "hello" {
			t.Fatalf("stream %d: %q", id, body)
		}
	}
	for _, sc := range streams {
		sc.Finish()
	}
}
