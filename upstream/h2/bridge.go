package h2

import (
	"net"
	"sync"
	"time"

	"tollgate/proxy/http1"
)

// Bridge is one pooled upstream connection of an HTTP/2 target: a
// net.Conn without a socket that carries one HTTP/1.1 exchange at a time
// as one HTTP/2 stream (see the package comment). One goroutine writes
// it and one reads it — the same one, or two at once for a full-duplex
// exchange; Close and the Set*Deadline methods may be called from any
// goroutine.
type Bridge struct {
	pool   *Pool
	rd, wd deadline
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	slot *clientConn // the connection Prepare reserved a stream on; guarded by mu
	cur  *stream     // the stream of the current (or last) exchange; guarded by mu
	live bool        // cur is the current exchange's (Read may read it); guarded by mu

	// The writer's side, used by the exchange's goroutine only.
	wstate  writeState
	head    http1.HeadCollector // the request head as written so far
	q       http1.Request
	left    int64 // Content-Length body bytes still to come
	chunks  http1.ChunkSink
	scratch []byte // a chunked body's data, decoded
}

// writeState is how far the request written to a Bridge got.
type writeState uint8

const (
	writeHead writeState = iota // the head is being written
	writeBody                   // the body is (Content-Length or chunked)
	writeDone                   // the request is complete
)

// maxHead bounds a request head written to a Bridge.
const maxHead = 1 << 20

// NewBridge returns an idle bridge to the pool's target; Prepare
// reserves a stream for its next exchange.
func (p *Pool) NewBridge() *Bridge {
	return &Bridge{pool: p, closed: make(chan struct{}), wstate: writeDone}
}

// Prepare readies the bridge for an exchange: it reserves a stream on one
// of the pool's connections, dialling one before deadline (and within
// connect) when none has room. reused is false when it dialled. An error
// is the dial's: no byte of the request has been written.
func (b *Bridge) Prepare(deadline time.Time, connect time.Duration) (reused bool, err error) {
	b.mu.Lock()
	if b.slot != nil {
		b.mu.Unlock()
		return true, nil
	}
	b.mu.Unlock()
	c, reused, err := b.pool.reserve(deadline, connect)
	if err != nil {
		return false, err
	}
	b.mu.Lock()
	b.slot, b.live = c, false
	b.mu.Unlock()
	b.wstate = writeHead
	b.head.Reset(maxHead)
	return reused, nil
}

// Reusable reports whether the bridge may go back to the pool: its last
// stream ended and its response was read whole.
func (b *Bridge) Reusable() bool {
	b.mu.Lock()
	s := b.cur
	b.mu.Unlock()
	if s == nil || b.wstate != writeDone {
		return false
	}
	select {
	case <-b.closed:
		return false
	default:
	}
	return s.waitDrained()
}

// Write takes the request: the head, then the body its framing announces.
// The stream starts once the head is whole.
func (b *Bridge) Write(p []byte) (int, error) {
	select {
	case <-b.closed:
		return 0, net.ErrClosed
	default:
	}
	switch b.wstate {
	case writeHead:
		return b.writeHead(p)
	case writeBody:
		return b.writeBody(p)
	}
	return 0, errBodyAfterEnd
}

// writeHead collects the head; at its blank line the stream starts and
// the rest of p is body.
func (b *Bridge) writeHead(p []byte) (int, error) {
	used, done, err := b.head.Add(p)
	if err != nil || !done {
		return used, err
	}
	n, err := b.start(p[used:])
	if err != nil {
		return 0, err
	}
	return used + n, nil
}

// Read returns the response of the current stream rendered as HTTP/1.1,
// as it arrives, waiting until the read deadline.
func (b *Bridge) Read(p []byte) (int, error) {
	b.mu.Lock()
	s, live := b.cur, b.live
	b.mu.Unlock()
	if !live {
		return 0, errNoStream
	}
	return s.read(p, &b.rd, b.closed)
}

// Close ends the bridge: a stream still open is cancelled (RST_STREAM
// CANCEL), a reservation released. Closing twice does nothing.
func (b *Bridge) Close() error {
	b.once.Do(func() {
		close(b.closed)
		b.mu.Lock()
		s, slot := b.cur, b.slot
		b.cur, b.slot = nil, nil
		b.mu.Unlock()
		if s != nil {
			s.cancel()
		}
		if slot != nil {
			b.pool.release(slot)
		}
	})
	return nil
}

// LocalAddr returns the bridge's pseudo-address.
func (b *Bridge) LocalAddr() net.Addr { return bridgeAddr("tollgate") }

// RemoteAddr returns the target's address.
func (b *Bridge) RemoteAddr() net.Addr { return bridgeAddr(b.pool.opts.Addr) }

// SetDeadline sets both deadlines.
func (b *Bridge) SetDeadline(t time.Time) error {
	b.rd.set(t)
	b.wd.set(t)
	return nil
}

// SetReadDeadline bounds Read (the response); zero: no bound.
func (b *Bridge) SetReadDeadline(t time.Time) error {
	b.rd.set(t)
	return nil
}

// SetWriteDeadline bounds Write (the request body waiting for the
// stream's flow control); zero: no bound.
func (b *Bridge) SetWriteDeadline(t time.Time) error {
	b.wd.set(t)
	return nil
}

// bridgeAddr is a Bridge's net.Addr.
type bridgeAddr string

// Network names HTTP/2.
func (a bridgeAddr) Network() string { return "h2" }

// String returns the address.
func (a bridgeAddr) String() string { return string(a) }
