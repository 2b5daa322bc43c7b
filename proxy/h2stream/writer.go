package h2stream

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// Batched writes to an HTTP/2 client.
//
// Every frame a connection has to send (the driver's after a Feed, a
// stream's head and DATA) is copied from h2srv's Output into the pending
// buffer, under the connection's mutex, and one goroutine (started when
// there is something to write, gone when there is not) writes what is
// pending. While it is in write(2), what the streams produce next gathers
// behind it and leaves in the next write — as an event loop writes once
// per turn what its streams produced. Order is kept.
//
// Queueing never blocks (it runs under the connection's mutex): memory is
// bounded by those who queue, who wait while full says the pending bytes
// reached the bound — the driver before it feeds more of the client's
// bytes, a stream before it writes more DATA — with wait telling them when
// room opens. A failed write (or one that made no progress for
// writeTimeout) closes the connection, so its reads fail too. closeAfter
// closes it once what is pending is written (at most closeFlush later).
// Buffers come from bufs while there is something to write and go back
// when there is not: an idle connection holds none.
type writer struct {
	nc           net.Conn
	raw          syscall.RawConn // nc's socket for writeNow; nil for TLS
	mu           *sync.Mutex     // the connection's
	bufs         *sync.Pool      // of *[]byte
	max          int
	writeTimeout time.Duration // 0: none

	pending []byte
	spare   []byte
	writing bool  // a goroutine is writing pending
	closing bool  // close the socket once pending is written
	final   bool  // what is pending is the last: closeFlush bounds its writing
	closed  bool  // the socket was closed
	err     error // the first failed write
	waiters []chan struct{}
}

// closeFlush bounds the time a closing connection's last bytes (a GOAWAY)
// take to leave.
const closeFlush = time.Second

// queue appends p to what is pending (mu held).
func (w *writer) queue(p []byte) {
	if len(p) == 0 || w.err != nil || w.closed {
		return
	}
	if w.pending == nil {
		w.pending = w.take()
	}
	w.pending = append(w.pending, p...)
	if !w.writing {
		w.writing = true
		go w.flush()
	}
}

// add appends p to what is pending without starting the flushing
// goroutine: writeNow (or a later queue) sends it (mu held).
func (w *writer) add(p []byte) {
	if len(p) == 0 || w.err != nil || w.closed {
		return
	}
	if w.pending == nil {
		w.pending = w.take()
	}
	w.pending = append(w.pending, p...)
}

// writeNow writes what is pending with one write that does not wait, when
// no goroutine is writing; what the socket does not take is left to one
// started here (mu held, released during the write).
func (w *writer) writeNow() {
	if w.writing || len(w.pending) == 0 || w.err != nil || w.closed {
		return
	}
	w.writing = true
	if w.raw == nil {
		go w.flush()
		return
	}
	buf := w.pending
	w.pending = w.spare
	w.spare = nil
	w.mu.Unlock()
	n, err := writeRaw(w.raw, buf)
	w.mu.Lock()
	if err != nil {
		w.err = err
		w.give(buf)
		w.closeNow()
		w.writing = false
		w.wake()
		return
	}
	if n < len(buf) { // the rest goes first, then what was added meanwhile
		added := w.pending
		w.pending = append(buf[:copy(buf, buf[n:])], added...)
		w.give(added)
	} else {
		w.spare = buf[:0]
	}
	if len(w.pending) > 0 {
		go w.flush()
		return
	}
	w.writing = false
	if w.closing {
		w.closeNow()
	}
	w.wake()
}

// full reports whether the pending bytes reached the bound (mu held).
func (w *writer) full() bool { return len(w.pending) >= w.max && w.err == nil && !w.closed }

// wait has ch signalled once room opens or the connection fails (mu held).
func (w *writer) wait(ch chan struct{}) { w.waiters = append(w.waiters, ch) }

// wake signals every waiter (mu held).
func (w *writer) wake() {
	for i, ch := range w.waiters {
		signal(ch)
		w.waiters[i] = nil
	}
	w.waiters = w.waiters[:0]
}

// closeAfter closes the socket once what is pending is written (mu held).
func (w *writer) closeAfter() {
	if w.closing {
		return
	}
	w.closing = true
	if !w.writing {
		w.closeNow()
		return
	}
	w.nc.SetWriteDeadline(time.Now().Add(closeFlush))
}

// finish bounds the writing of what is pending to closeFlush from now: the
// connection is ending (mu held).
func (w *writer) finish() {
	w.final = true
	w.nc.SetWriteDeadline(time.Now().Add(closeFlush))
}

// closeNow closes the socket (mu held).
func (w *writer) closeNow() {
	if !w.closed {
		w.closed = true
		w.nc.Close()
		w.wake()
	}
}

// flush writes what is pending until nothing is.
func (w *writer) flush() {
	w.mu.Lock()
	for len(w.pending) > 0 && w.err == nil {
		buf := w.pending
		w.pending = w.spare
		w.spare = nil
		if w.pending == nil {
			w.pending = w.take()
		}
		w.wake() // room: the next batch gathers meanwhile
		// Set under mu, so finish's deadline is never overwritten.
		if w.writeTimeout > 0 && !w.closing && !w.final {
			w.nc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
		}
		w.mu.Unlock()
		_, err := w.nc.Write(buf)
		w.mu.Lock()
		w.spare = buf[:0]
		if err != nil {
			w.err = err
			w.closeNow() // the connection's reads end too
		}
	}
	w.give(w.pending)
	w.pending = nil
	w.give(w.spare)
	w.spare = nil
	w.writing = false
	if w.closing {
		w.closeNow()
	}
	w.wake()
	w.mu.Unlock()
}

// take returns an empty buffer from the pool.
func (w *writer) take() []byte { return (*w.bufs.Get().(*[]byte))[:0] }

// give returns b to the pool, unless it is nil or grew large.
func (w *writer) give(b []byte) {
	if b != nil && cap(b) <= 64<<10 {
		w.bufs.Put(&b)
	}
}

// signal wakes whoever waits on ch, without blocking (ch has room for one).
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
