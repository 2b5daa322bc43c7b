package proxy

import (
	"net"
	"sync"
	"time"
)

// Batched writes to an HTTP/2 client.
//
// x/net's server writes its frames into a buffer and flushes the buffer
// each time its queue of frames to write runs empty: with many streams
// answering one after another, that is a write(2) for about every answer.
// A cleartext connection's writes are batched here instead: Write copies
// the bytes into a pending buffer and returns, and one goroutine (started
// when there is something to write, gone when there is not) writes what
// is pending. While it is in write(2), what the server flushes next
// gathers behind it and leaves in the next write — as an event loop
// writes once per turn what its streams produced. Order is kept.
// Memory is bounded: a Write waits while h2PendingMax bytes are pending,
// so a client that does not read holds the server back as the socket's
// own buffer would. A failed write closes the connection, so the server's
// reads fail too, and later Writes return the error. Close waits (at most
// h2CloseFlush) for what is pending, a GOAWAY say, before closing.

const (
	h2PendingMax = 256 << 10
	h2CloseFlush = time.Second
)

// batchedWriter is the write side of an HTTP/2 cleartext connection.
// Its buffers come from bufs while it has something to write and go back
// when it has nothing: an idle connection holds none.
type batchedWriter struct {
	c    net.Conn
	bufs *sync.Pool // of *[]byte

	mu      sync.Mutex
	cond    sync.Cond
	pending []byte
	spare   []byte
	writing bool  // a goroutine is writing pending
	err     error // the first failed write
}

func newBatchedWriter(c net.Conn, bufs *sync.Pool) *batchedWriter {
	w := &batchedWriter{c: c, bufs: bufs}
	w.cond.L = &w.mu
	return w
}

// Write queues p for the connection.
func (w *batchedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && len(w.pending) >= h2PendingMax {
		w.cond.Wait()
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.pending == nil {
		w.pending = w.take()
	}
	w.pending = append(w.pending, p...)
	if !w.writing {
		w.writing = true
		go w.flush()
	}
	return len(p), nil
}

// flush writes what is pending until nothing is.
func (w *batchedWriter) flush() {
	w.mu.Lock()
	for len(w.pending) > 0 && w.err == nil {
		buf := w.pending
		w.pending = w.spare
		w.spare = nil
		if w.pending == nil {
			w.pending = w.take()
		}
		w.cond.Broadcast() // a Write waiting for room has it: the next batch gathers meanwhile
		w.mu.Unlock()
		_, err := w.c.Write(buf)
		w.mu.Lock()
		w.spare = buf[:0]
		if err != nil {
			w.err = err
			w.c.Close() // the server's reads end too
		}
		w.cond.Broadcast()
	}
	if len(w.pending) == 0 {
		w.give(w.pending)
		w.pending = nil
	}
	w.give(w.spare)
	w.spare = nil
	w.writing = false
	w.cond.Broadcast()
	w.mu.Unlock()
}

// drain waits until nothing is pending, for at most h2CloseFlush.
func (w *batchedWriter) drain() {
	w.c.SetWriteDeadline(time.Now().Add(h2CloseFlush))
	w.mu.Lock()
	for w.writing {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// take returns an empty buffer from the pool.
func (w *batchedWriter) take() []byte { return (*w.bufs.Get().(*[]byte))[:0] }

// give returns b to the pool, unless it is nil or grew large.
func (w *batchedWriter) give(b []byte) {
	if b != nil && cap(b) <= 64<<10 {
		w.bufs.Put(&b)
	}
}
