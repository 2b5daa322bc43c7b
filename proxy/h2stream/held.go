package h2stream

import (
	"golang.org/x/net/http2"

	"tollgate/proxy/h2srv"
	"tollgate/proxy/sock"
)

// Serving a stream without waiting (an event loop's way).
//
// A Conn made non-blocking (SetNonblocking) never waits: a Read with no
// body bytes at hand returns sock.ErrWouldBlock, as a non-blocking socket
// does, and a Write takes every byte at once. What the client's windows
// (or the connection's output bound) do not let leave now is held, in
// order: answer bytes, then the answer's end — END_STREAM, or trailers.
// Held bytes go out first with the next Write, or with Flush, which waits
// for room as a blocking Write does; while bytes are held the answer is
// not sent whole, so Close resets the stream rather than end it short.
// Whoever writes without waiting bounds what is held by looking at Held
// and letting a goroutine Flush.

// heldEnd is how an answer whose bytes are held ends once they left.
type heldEnd uint8

const (
	heldOpen     heldEnd = iota // more may follow
	heldEndData                 // END_STREAM with (or after) the last held byte
	heldTrailers                // the held trailer fields end it
)

// SetNonblocking makes Read and Write of c return at once (true) or wait
// as a connection's do (false, the default).
func (c *Conn) SetNonblocking(on bool) {
	c.cn.mu.Lock()
	c.nonblock = on
	if !on {
		c.batch = nil
	}
	c.cn.mu.Unlock()
}

// Held returns how many answer bytes wait for the client's window, and
// whether anything (bytes or the answer's end) does.
func (c *Conn) Held() (int, bool) {
	c.cn.mu.Lock()
	defer c.cn.mu.Unlock()
	return len(c.held), c.holding()
}

// holding reports held bytes or a held end (cn.mu held).
func (c *Conn) holding() bool { return len(c.held) > 0 || c.heldEnd != heldOpen }

// Flush sends what is held, waiting for room as a blocking Write does
// (until the write deadline).
func (c *Conn) Flush() error {
	cn := c.cn
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return c.pushHeld(true)
}

// BodyAtHand reports whether the request body is all received: the
// request ended, and n bytes of it wait to be read.
func (c *Conn) BodyAtHand() (n int, whole bool) {
	c.cn.mu.Lock()
	defer c.cn.mu.Unlock()
	return len(c.body) - c.bodyOff, c.remoteEnded
}

// readNow is fill's answer when nothing is at hand: wait (blocking) or
// say so (non-blocking), cn.mu held.
func (c *Conn) readNow() error {
	if c.nonblock {
		return sock.ErrWouldBlock
	}
	return c.waitRead()
}

// hold keeps p, and the answer's end when end is set, behind what is
// already held (cn.mu held).
func (c *Conn) hold(p []byte, end bool) {
	c.held = append(c.held, p...)
	if end {
		c.heldEnd = heldEndData
	}
}

// holdTrailers keeps the answer's trailer fields behind the held bytes
// (cn.mu held): fields is the writer's scratch, so it is copied (its
// strings are the writer's own).
func (c *Conn) holdTrailers(fields []h2srv.Field) {
	c.heldFields = append(c.heldFields[:0], fields...)
	c.heldEnd = heldTrailers
}

// pushHeld sends what is held as far as the windows and the output bound
// allow; with wait it waits for room until all is sent (cn.mu held).
func (c *Conn) pushHeld(wait bool) error {
	if len(c.held) > 0 || c.heldEnd == heldEndData {
		end := c.heldEnd == heldEndData
		n, err := c.send(c.held, end, wait)
		c.dropHeld(n)
		if err != nil || len(c.held) > 0 || end && !c.localEnded {
			return err // an error, or room ran out without waiting: the rest stays held
		}
		if end {
			c.heldEnd = heldOpen
		}
	}
	if c.heldEnd != heldTrailers {
		return nil
	}
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.writeTrailers(c.heldFields); err != nil {
		return err // still held: Close resets the stream
	}
	clear(c.heldFields)
	c.heldFields, c.heldEnd = c.heldFields[:0], heldOpen
	return nil
}

// dropHeld forgets the first n held bytes, which were sent.
func (c *Conn) dropHeld(n int) {
	if n == len(c.held) {
		c.held = c.held[:0]
		if cap(c.held) > keptHead {
			c.held = nil
		}
		return
	}
	c.held = c.held[:copy(c.held, c.held[n:])]
}

// heldCode is closeCode's answer while something is held: the answer was
// not sent whole.
func (c *Conn) heldCode() (http2.ErrCode, bool) {
	if c.holding() {
		return http2.ErrCodeInternal, true
	}
	return 0, false
}
