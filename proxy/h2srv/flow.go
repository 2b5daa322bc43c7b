package h2srv

import (
	"golang.org/x/net/http2"
)

// onWindowUpdate grows a send window and wakes the streams waiting on it.
func (c *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWin += inc
		if c.sendWin > maxWindow {
			return connErr(http2.ErrCodeFlowControl, "connection send window over 2^31-1")
		}
		c.wakeWriters()
		return nil
	}
	if c.idle(f.StreamID) {
		return connErr(http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return nil // closed: a late update is harmless
	}
	s.sendWin += inc
	if s.sendWin > maxWindow {
		c.resetStream(s, http2.ErrCodeFlowControl)
		return nil
	}
	if s.blocked {
		c.wakeWriters()
	}
	return nil
}

// wakeWriters calls Handler.Writable for each waiting stream that both
// windows let send again, in the order they started waiting, while the
// connection window lasts.
func (c *Conn) wakeWriters() {
	if c.sendWin <= 0 || len(c.waiting) == 0 {
		return
	}
	list := c.waiting
	c.waiting = c.wakeScratch[:0]
	for i, s := range list {
		if !s.blocked {
			continue
		}
		if c.sendWin <= 0 || s.sendWin <= 0 || c.err != nil {
			c.waiting = append(c.waiting, s)
			continue
		}
		s.blocked = false
		list[i] = nil
		c.h.Writable(s)
	}
	clear(list)
	c.wakeScratch = list[:0]
}

// unblock drops s from the streams waiting for window.
func (c *Conn) unblock(s *Stream) {
	if !s.blocked {
		return
	}
	s.blocked = false
	for i, w := range c.waiting {
		if w == s {
			c.waiting = append(c.waiting[:i], c.waiting[i+1:]...)
			return
		}
	}
}

// takeRecv charges a DATA frame of size bytes to the connection's receive
// window.
func (c *Conn) takeRecv(size int64) error {
	if size > c.recvWin {
		return connErr(http2.ErrCodeFlowControl, "DATA beyond the connection window")
	}
	c.recvWin -= size
	return nil
}

// grantConn gives n received bytes back to the connection window, with a
// WINDOW_UPDATE once half the window is owed.
func (c *Conn) grantConn(n int64) {
	if c.err != nil {
		return
	}
	c.recvHeld += n
	if c.recvHeld >= int64(c.cfg.ConnWindowSize)/2 {
		c.fr.WriteWindowUpdate(0, uint32(c.recvHeld))
		c.recvWin += c.recvHeld
		c.recvHeld = 0
	}
}

// grantStream gives n consumed bytes back to s's window, with a
// WINDOW_UPDATE once half the window is owed; a stream whose request has
// ended needs none.
func (c *Conn) grantStream(s *Stream, n int64) {
	if s.remoteEnded || c.err != nil {
		return
	}
	s.recvOwed += n
	if s.recvOwed >= int64(c.cfg.InitialWindowSize)/2 {
		c.fr.WriteWindowUpdate(s.id, uint32(s.recvOwed))
		s.recvWin += s.recvOwed
		s.recvOwed = 0
	}
}

// onData delivers a DATA frame's payload to its stream, after flow
// control and the stream's state allow it.
func (c *Conn) onData(f *http2.DataFrame) error {
	if c.idle(f.StreamID) {
		return connErr(http2.ErrCodeProtocol, "DATA on an idle stream")
	}
	size := int64(f.Length)
	if err := c.takeRecv(size); err != nil {
		return err
	}
	s := c.streams[f.StreamID]
	if s == nil || s.remoteEnded || !s.announced {
		c.grantConn(size)
		c.resetID(f.StreamID, http2.ErrCodeStreamClosed)
		return nil
	}
	if size > s.recvWin {
		c.grantConn(size)
		c.resetStream(s, http2.ErrCodeFlowControl)
		return nil
	}
	s.recvWin -= size
	data := f.Data()
	if pad := size - int64(len(data)); pad > 0 {
		c.grantConn(pad)
		c.grantStream(s, pad)
	}
	return c.deliver(s, data, f.StreamEnded())
}

// deliver hands body bytes to the handler, checking them against the
// request's content-length.
func (c *Conn) deliver(s *Stream, data []byte, end bool) error {
	s.received += int64(len(data))
	if s.contentLength >= 0 && (s.received > s.contentLength || end && s.received != s.contentLength) {
		c.grantConn(int64(len(data)))
		c.resetStream(s, http2.ErrCodeProtocol)
		return nil
	}
	if len(data) == 0 && !end {
		return c.countControl("empty DATA")
	}
	s.held += int64(len(data))
	if end {
		s.remoteEnded = true
	}
	c.h.Data(s, data, end)
	if end && !s.closed && s.localEnded {
		c.closeStream(s)
	}
	return nil
}
