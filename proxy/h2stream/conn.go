package h2stream

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one HTTP/2 stream seen as an HTTP/1.1 connection carrying one
// request (see the package doc). Read and Write may run at once (a body
// streams up while the answer streams down); each alone is used by one
// goroutine at a time, as the exchange does.
type Conn struct {
	req    *http.Request
	w      http.ResponseWriter
	rc     http.ResponseController
	local  net.Addr
	remote net.Addr

	in  requestReader
	out responseWriter

	readDeadline, writeDeadline deadline

	closed atomic.Bool
	from   *Streams // where the Conn goes back once released
}

// Streams hands out the Conns of streams. A Conn released goes back to
// it with its buffers (the rendered request head, the answer's head
// parser and fields, its deadline timers), kept for the next stream.
type Streams struct {
	conns sync.Pool
	bufs  *sync.Pool
}

// NewStreams returns a Streams whose Conns read request bodies through
// the buffers (*[]byte) bufs lends.
func NewStreams(bufs *sync.Pool) *Streams {
	s := &Streams{bufs: bufs}
	s.conns.New = func() any { return &Conn{from: s} }
	return s
}

// Open returns the Conn of the stream a handler was given. local and
// remote are the HTTP/2 connection's addresses.
func (s *Streams) Open(w http.ResponseWriter, r *http.Request, local, remote net.Addr) *Conn {
	c := s.conns.Get().(*Conn)
	c.req, c.w, c.local, c.remote = r, w, local, remote
	c.rc = *http.NewResponseController(w)
	c.closed.Store(false)
	c.readDeadline.open(c.rc.SetReadDeadline)
	c.writeDeadline.open(c.rc.SetWriteDeadline)
	c.in.bufs = s.bufs
	c.in.init(r)
	c.out.init(w, &c.rc, r.Method == http.MethodHead)
	return c
}

// keptHead bounds the buffers a released Conn keeps for the next stream
// (its rendered request head, its answer head's).
const keptHead = 16 << 10

// ErrClosed is returned by Read and Write after Close.
var ErrClosed = errors.New("h2stream: stream closed")

// Read returns the request as HTTP/1.1 bytes, then io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	return c.in.read(p)
}

// Write takes the exchange's HTTP/1.1 answer and sends it on the stream.
func (c *Conn) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	return c.out.write(p)
}

// Close ends the stream's use as a connection: what the answer's
// trailers held is set, and later Reads and Writes fail. The handler
// returning ends the stream itself.
func (c *Conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.readDeadline.stop()
		c.writeDeadline.stop()
		c.in.close()
		c.out.finish()
	}
	return nil
}

// Complete reports whether the answer was written whole: its head and,
// when it was framed, its last byte. A stream whose answer is cut must
// be reset rather than ended cleanly (the handler panics with
// http.ErrAbortHandler).
func (c *Conn) Complete() bool { return c.out.complete() }

// Started reports whether the answer's head was sent.
func (c *Conn) Started() bool { return c.out.started }

// LocalAddr returns the HTTP/2 connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds reads of the request body.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.readDeadline.setTo(t) }

// SetWriteDeadline bounds writes of the answer.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.writeDeadline.setTo(t) }

// ConnectionState returns the TLS state of the HTTP/2 connection (the
// client's certificate, for mutual TLS); the zero state for h2c.
func (c *Conn) ConnectionState() tls.ConnectionState {
	if c.req.TLS == nil {
		return tls.ConnectionState{}
	}
	return *c.req.TLS
}

// IsTLS reports whether the stream came over TLS.
func (c *Conn) IsTLS() bool { return c.req.TLS != nil }

// Release gives the Conn back, with its buffers, once its stream is done
// with and the Conn closed: no method may be called after it.
func (c *Conn) Release() {
	c.in.release()
	c.out.head.Shrink(keptHead)
	if cap(c.out.text) > keptHead {
		c.out.text, c.out.kept = nil, nil
	}
	c.req, c.w, c.rc, c.local, c.remote = nil, nil, http.ResponseController{}, nil, nil
	c.out.w, c.out.rc = nil, nil
	c.from.conns.Put(c)
}
