package h2stream

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"tollgate/proxy/h2srv"
)

// Conn is one HTTP/2 stream seen as an HTTP/1.1 connection carrying one
// request (see the package doc). Read and Write may run at once (a body
// streams up while the answer streams down); each alone is used by one
// goroutine at a time, as the exchange does.
//
// What the connection's driver tells the stream (body bytes, trailers, a
// reset, room to write) arrives under the connection's mutex, and the
// Conn's calls into h2srv are made holding it too. The *h2srv.Stream is
// used only while h2srv has it open (s != nil): h2srv reuses a closed one
// for a later stream.
type Conn struct {
	cn    *conn
	id    uint32
	serve func(*Conn)

	// Guarded by cn.mu.
	s           *h2srv.Stream // nil once h2srv closed the stream
	remoteEnded bool          // the request ended (END_STREAM)
	localEnded  bool          // the answer ended (END_STREAM sent)
	reset       error         // why the stream is gone before its end, if it is
	body        []byte        // request body received, not read yet: body[bodyOff:]
	bodyOff     int
	trailer     []byte // the request's trailer lines, rendered
	rwake       chan struct{}
	wwake       chan struct{}
	nonblock    bool          // Read and Write never wait (held.go)
	batch       *Batch        // while nonblock: output waits for its Flush (batch.go)
	held        []byte        // answer bytes a non-blocking Write could not send yet
	heldEnd     heldEnd       // how the answer ends once held bytes left
	heldFields  []h2srv.Field // held trailers (heldEnd == heldTrailers)

	in  requestReader
	out responseWriter

	readDeadline, writeDeadline deadline
	closed                      atomic.Bool
}

// newConn returns a Conn for the pool; its channels and buffers are kept
// from stream to stream.
func newConn() *Conn {
	c := &Conn{rwake: make(chan struct{}, 1), wwake: make(chan struct{}, 1)}
	c.readDeadline.wake, c.writeDeadline.wake = c.rwake, c.wwake
	return c
}

// open readies c for the stream s just opened (cn.mu held): the request
// head is rendered now, while s's fields are valid.
func (c *Conn) open(cn *conn, s *h2srv.Stream) {
	c.cn, c.s, c.id = cn, s, s.ID()
	c.remoteEnded, c.localEnded, c.reset = s.EndStream(), false, nil
	c.nonblock, c.batch, c.held, c.heldEnd = false, nil, c.held[:0], heldOpen
	c.body, c.bodyOff, c.trailer = c.body[:0], 0, c.trailer[:0]
	drain(c.rwake)
	drain(c.wwake)
	c.closed.Store(false)
	c.readDeadline.open()
	c.writeDeadline.open()
	c.in.bufs = cn.srv.bodyBufs
	c.in.init(c, s)
	c.out.init(c, s.Method() == "HEAD")
}

// drain empties a wake channel.
func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// keptHead bounds the buffers a released Conn keeps for the next stream
// (its rendered request head, its answer head's, its body buffer).
const keptHead = 16 << 10

// Errors of Read and Write.
var (
	// ErrClosed is returned by Read and Write after Close.
	ErrClosed = errors.New("h2stream: stream closed")
	// ErrReset is a stream the client reset, or whose connection ended.
	ErrReset = errors.New("h2stream: stream reset")
)

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

// Close ends the stream's use as a connection, once its exchange is done:
// an answer cut short resets the stream (INTERNAL_ERROR); one whose end
// had no framing (it ran until the close) ends now; a whole answer sent
// before the request body ended resets the rest of the request
// (NO_ERROR). Later Reads and Writes fail.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.readDeadline.stop()
	c.writeDeadline.stop()
	cn := c.cn
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if c.s != nil {
		c.s.Reset(c.closeCode()) // a no-op once both sides ended
	}
	c.gone(nil) // h2srv closed it: reset, or both sides ended
	cn.queue()
	return nil
}

// closeCode ends what is left of the stream when its exchange is done
// (cn.mu held, the stream open): an answer framed by the close gets its
// END_STREAM; the code says how to reset what still remains —
// INTERNAL_ERROR for an answer cut short, NO_ERROR for a request body no
// longer wanted.
func (c *Conn) closeCode() http2.ErrCode {
	if code, ok := c.heldCode(); ok {
		return code
	}
	if !c.out.complete() {
		return http2.ErrCodeInternal
	}
	if !c.localEnded {
		if _, err := c.s.WriteData(nil, true); err != nil {
			return http2.ErrCodeInternal
		}
		c.localEnded = true
	}
	return http2.ErrCodeNo
}

// gone notes that h2srv closed the stream (cn.mu held): err, when not
// nil, is what pending and later reads and writes return.
func (c *Conn) gone(err error) {
	if c.s == nil {
		return
	}
	c.s = nil
	if err != nil && c.reset == nil {
		c.reset = err
	}
	signal(c.rwake)
	signal(c.wwake)
	c.cn.streamGone(c.id)
}

// ended checks whether both sides ended, h2srv then having closed the
// stream (cn.mu held).
func (c *Conn) ended() {
	if c.s != nil && c.localEnded && c.remoteEnded {
		c.gone(nil)
	}
}

// onData keeps request body bytes until the exchange reads them (cn.mu
// held). The stream's receive window bounds them.
func (c *Conn) onData(p []byte, end bool) {
	if c.bodyOff == len(c.body) {
		c.body, c.bodyOff = c.body[:0], 0
	}
	c.body = append(c.body, p...)
	if end {
		c.remoteEnded = true
	}
	signal(c.rwake)
	c.ended()
}

// onTrailers keeps the request's trailers, rendered as a chunked body's
// trailer section (cn.mu held); the request has ended.
func (c *Conn) onTrailers(fields []h2srv.Field) {
	for _, f := range fields {
		if skipRequestField(f.Name) {
			continue
		}
		c.trailer = append(append(append(append(c.trailer, f.Name...), ": "...), f.Value...), "\r\n"...)
	}
	c.remoteEnded = true
	signal(c.rwake)
	c.ended()
}

// onReset fails the stream's pending and later reads and writes (cn.mu
// held).
func (c *Conn) onReset(code http2.ErrCode) {
	c.gone(ErrReset)
}

// waitRead waits, cn.mu held on entry and exit, until the stream's state
// changes or the read deadline passes.
func (c *Conn) waitRead() error {
	return c.waitOn(c.rwake, &c.readDeadline)
}

// waitWrite is waitRead for a write.
func (c *Conn) waitWrite() error {
	return c.waitOn(c.wwake, &c.writeDeadline)
}

func (c *Conn) waitOn(wake chan struct{}, d *deadline) error {
	if d.passed() {
		return os.ErrDeadlineExceeded
	}
	c.cn.mu.Unlock()
	<-wake
	c.cn.mu.Lock()
	if d.passed() {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Complete reports whether the answer was written whole: its head and,
// when it was framed, its last byte.
func (c *Conn) Complete() bool { return c.out.complete() }

// Started reports whether the answer's head was sent.
func (c *Conn) Started() bool { return c.out.started }

// LocalAddr returns the HTTP/2 connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.cn.nc.LocalAddr() }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.cn.nc.RemoteAddr() }

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
	if c.cn.tls == nil {
		return tls.ConnectionState{}
	}
	return *c.cn.tls
}

// IsTLS reports whether the stream came over TLS.
func (c *Conn) IsTLS() bool { return c.cn.tls != nil }

// release drops what c holds of its stream, keeping its buffers for the
// next one, once it is closed.
func (c *Conn) release() {
	c.in.release()
	c.out.release()
	if cap(c.body) > keptHead {
		c.body = nil
	}
	if cap(c.trailer) > keptHead {
		c.trailer = nil
	}
	if cap(c.held) > keptHead {
		c.held = nil
	}
	clear(c.heldFields)
	c.heldFields, c.heldEnd = c.heldFields[:0], heldOpen
	c.cn, c.serve = nil, nil
}

// sendHead writes a response head (a 1xx, or the final one; end: no body
// follows).
func (c *Conn) sendHead(status int, fields []h2srv.Field, end bool) error {
	cn := c.cn
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.s.WriteHeaders(status, fields, end); err != nil {
		return err
	}
	if end && status >= 200 {
		c.localEnded = true
	}
	c.queueOut()
	c.ended()
	return nil
}

// sendData writes body bytes, waiting while the connection's output is
// full or the client's windows are spent (until the write deadline);
// end: the answer ends with them.
func (c *Conn) sendData(p []byte, end bool) (int, error) {
	cn := c.cn
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if c.nonblock {
		return c.sendOrHold(p, end)
	}
	if err := c.pushHeld(true); err != nil {
		return 0, err
	}
	return c.send(p, end, true)
}

// sendOrHold is sendData without waiting (cn.mu held): what the windows
// and the output bound do not take now is held (held.go), behind what
// already is.
func (c *Conn) sendOrHold(p []byte, end bool) (int, error) {
	if err := c.pushHeld(false); err != nil {
		return 0, err
	}
	n := 0
	if !c.holding() {
		var err error
		if n, err = c.send(p, end, false); err != nil {
			return n, err
		}
	}
	if n < len(p) || end && !c.localEnded {
		c.hold(p[n:], end)
	}
	return len(p), nil
}

// send writes p as DATA, END_STREAM with its last byte when end is set,
// as far as the client's windows and the connection's output bound allow;
// with wait it waits for room (until the write deadline) until all of p
// is sent. It returns how much was sent (cn.mu held).
func (c *Conn) send(p []byte, end, wait bool) (int, error) {
	cn := c.cn
	sent := 0
	for {
		if err := c.usable(); err != nil {
			return sent, err
		}
		if cn.out.full() {
			if !wait {
				return sent, nil
			}
			cn.out.wait(c.wwake)
			if err := c.waitWrite(); err != nil {
				return sent, err
			}
			continue
		}
		n, err := c.s.WriteData(p[sent:], end)
		if err != nil {
			return sent, err
		}
		sent += n
		c.queueOut()
		if sent == len(p) {
			if end {
				c.localEnded = true
				c.ended()
			}
			return sent, nil
		}
		if !wait {
			return sent, nil
		}
		if err := c.waitWrite(); err != nil {
			return sent, err
		}
	}
}

// sendTrailers ends the answer: with trailer fields, or, when there are
// none, an empty DATA frame.
func (c *Conn) sendTrailers(fields []h2srv.Field) error {
	if len(fields) == 0 {
		_, err := c.sendData(nil, true)
		return err
	}
	cn := c.cn
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	if c.holding() { // behind the held bytes
		c.holdTrailers(fields)
		if c.nonblock {
			return nil
		}
		return c.pushHeld(true)
	}
	return c.writeTrailers(fields)
}

// writeTrailers ends the answer with its trailer fields (cn.mu held).
func (c *Conn) writeTrailers(fields []h2srv.Field) error {
	if err := c.s.WriteTrailers(fields); err != nil {
		return err
	}
	c.localEnded = true
	c.queueOut()
	c.ended()
	return nil
}

// usable says why the stream cannot be written to, if it cannot (cn.mu
// held).
func (c *Conn) usable() error {
	switch {
	case c.reset != nil:
		return c.reset
	case c.s == nil:
		return ErrReset
	}
	return nil
}
