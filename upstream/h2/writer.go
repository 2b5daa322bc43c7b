package h2

import (
	"net"
	"sync"
)

// Batched writes to an HTTP/2 server.
//
// Every frame a connection sends is appended to its writer's pending
// buffer under the connection's mutex (the Framer writes into it), by
// whoever produces it: a Bridge starting a stream or sending body, a read
// of the response giving window back, the read loop answering a PING or
// SETTINGS. One goroutine per connection writes what is pending in one
// write(2); while it is in the system call the frames produced next gather
// behind it and leave together in the next one. A stream whose request is
// complete when it starts puts HEADERS and its DATA in the buffer under
// one lock, so they leave in one write.
//
// Memory is bounded by the producers: body senders wait while pending
// holds maxPending bytes or more, and are woken after each write.
type writer struct {
	nc      net.Conn
	cond    sync.Cond // L is the connection's mutex
	pending []byte
	spare   []byte
	idle    bool // the goroutine waits for bytes
	closing bool // write what is pending, then close the socket
	stop    bool // end now: the connection failed
}

// Bounds of a writer's buffers.
const (
	// maxPending is what body senders may queue before they wait.
	maxPending = 256 << 10
	// keepBuffer is the largest buffer a writer keeps between writes.
	keepBuffer = 512 << 10
)

// Write appends one frame (the Framer's; mu held).
func (w *writer) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	return len(p), nil
}

// kick wakes the writing goroutine when it waits and bytes are pending
// (mu held).
func (w *writer) kick() {
	if w.idle && (len(w.pending) > 0 || w.closing || w.stop) {
		w.idle = false
		w.cond.Signal()
	}
}

// full reports that body senders should wait (mu held).
func (w *writer) full() bool { return len(w.pending) >= maxPending }

// loop writes what is pending until the connection stops; written is
// called (mu held) after each write, failed (mu not held) on a failed
// write.
func (w *writer) loop(written func(), failed func(error)) {
	w.cond.L.Lock()
	for {
		for len(w.pending) == 0 && !w.closing && !w.stop {
			w.idle = true
			w.cond.Wait()
		}
		w.idle = false
		if w.stop || len(w.pending) == 0 {
			break
		}
		buf := w.pending
		w.pending = w.spare[:0]
		w.spare = nil
		w.cond.L.Unlock()
		_, err := w.nc.Write(buf)
		w.cond.L.Lock()
		if cap(buf) <= keepBuffer {
			w.spare = buf[:0]
		}
		if err != nil {
			w.cond.L.Unlock()
			failed(err)
			w.nc.Close()
			return
		}
		written()
	}
	closing := w.closing && !w.stop
	w.pending, w.spare = nil, nil
	w.cond.L.Unlock()
	if closing {
		w.nc.Close()
	}
}
