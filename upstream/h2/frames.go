package h2

import (
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/net/http2"
)

// readLoop reads and applies the server's frames until the connection
// ends.
func (c *clientConn) readLoop() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if c.frameError(err) {
				continue
			}
			return
		}
		if err := c.handle(f); err != nil {
			c.fail(err)
			return
		}
	}
}

// frameError handles a frame the Framer could not read: a stream error
// resets that stream and reading goes on (true); anything else ends the
// connection.
func (c *clientConn) frameError(err error) bool {
	var se http2.StreamError
	if errors.As(err, &se) {
		c.mu.Lock()
		s := c.streams[se.StreamID]
		c.mu.Unlock()
		if s != nil {
			c.failStream(s, se.Code, fmt.Errorf("HTTP/2 stream to %s: malformed frame: %v", c.pool.opts.Addr, se))
		}
		return true
	}
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &ce):
		c.fail(connFault(http2.ErrCode(ce), "malformed frame from the server: %v", err))
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.fail(connFault(http2.ErrCodeFrameSize, "frame larger than %d bytes from the server (does it speak HTTP/2?)", defaultFrameSize))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.fail(errors.New("closed by the server"))
	default:
		c.fail(fmt.Errorf("reading: %w", err))
	}
	return false
}

// handle applies one frame; an error ends the connection.
func (c *clientConn) handle(f http2.Frame) error {
	if !c.gotSettings {
		if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
			return connFault(http2.ErrCodeProtocol, "the server's first frame is %v, not SETTINGS (does it speak HTTP/2?)", f.Header().Type)
		}
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.HeadersFrame:
		return c.onHeaders(f)
	case *http2.ContinuationFrame:
		return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			return c.ack(func() { c.fr.WritePing(true, f.Data) })
		}
	case *http2.RSTStreamFrame:
		c.onReset(f)
	case *http2.GoAwayFrame:
		c.onGoAway(f)
	case *http2.PushPromiseFrame:
		return connFault(http2.ErrCodeProtocol, "PUSH_PROMISE though push is disabled")
	}
	return nil // PRIORITY and unknown frame types are ignored
}

// maxAckBacklog bounds the output a server makes the connection queue by
// asking for acknowledgements (PING, SETTINGS) it does not read.
const maxAckBacklog = 4 * maxPending

// ack queues an acknowledgement written by write, unless the server lets
// them pile up unread.
func (c *clientConn) ack(write func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out.pending) >= maxAckBacklog {
		return connFault(http2.ErrCodeEnhanceYourCalm, "the server asks for PING or SETTINGS acknowledgements faster than it reads them")
	}
	write()
	c.out.kick()
	return nil
}

// onSettings applies the server's SETTINGS and acknowledges them.
func (c *clientConn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	err := f.ForeachSetting(c.applySettingLocked)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.ack(func() { c.fr.WriteSettingsAck() }); err != nil {
		return err
	}
	if !c.gotSettings {
		c.gotSettings = true
		c.markReady()
	}
	return nil
}

// applySettingLocked applies one of the server's settings (mu held).
func (c *clientConn) applySettingLocked(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		return connFault(http2.ErrCodeProtocol, "SETTINGS: %v", err)
	}
	switch s.ID {
	case http2.SettingMaxConcurrentStreams:
		c.maxStreams.Store(max(s.Val, 1))
	case http2.SettingInitialWindowSize:
		delta := int64(s.Val) - c.peerWin
		c.peerWin = int64(s.Val)
		for _, st := range c.streams {
			st.sendWin += delta
			if st.sendWin > maxWindow {
				return connFault(http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window")
			}
		}
		if delta > 0 {
			c.wakeBlockedLocked()
		}
	case http2.SettingMaxFrameSize:
		c.peerFrame = int(s.Val)
	case http2.SettingHeaderTableSize:
		c.enc.SetMaxDynamicTableSizeLimit(min(s.Val, tableSize))
	}
	return nil
}

// onWindowUpdate grows a send window and wakes the senders waiting on it.
func (c *clientConn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWin += inc
		if c.sendWin > maxWindow {
			c.mu.Unlock()
			return connFault(http2.ErrCodeFlowControl, "connection send window over 2^31-1")
		}
		c.wakeBlockedLocked()
		c.mu.Unlock()
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		c.mu.Unlock()
		return nil // a closed stream: a late update is harmless
	}
	s.sendWin += inc
	over := s.sendWin > maxWindow
	if !over && s.blocked {
		s.blocked = false
		signal(s.writable)
	}
	c.mu.Unlock()
	if over {
		c.failStream(s, http2.ErrCodeFlowControl, fmt.Errorf("HTTP/2 stream to %s: send window over 2^31-1", c.pool.opts.Addr))
	}
	return nil
}

// onReset fails the stream the server reset: REFUSED_STREAM is a refusal
// (safe to retry), any other code a plain error.
func (c *clientConn) onReset(f *http2.RSTStreamFrame) {
	c.mu.Lock()
	s := c.streams[f.StreamID]
	c.mu.Unlock()
	if s == nil || !c.detach(s, 0, resetNever) {
		return
	}
	if f.ErrCode == http2.ErrCodeRefusedStream {
		s.fail(&refusedError{addr: c.pool.opts.Addr, why: "RST_STREAM REFUSED_STREAM"})
		return
	}
	s.fail(&resetError{addr: c.pool.opts.Addr, code: f.ErrCode})
}

// onGoAway stops new streams on the connection and refuses those above
// the server's last stream id; the others go on until the server closes.
func (c *clientConn) onGoAway(f *http2.GoAwayFrame) {
	c.goingAway.Store(true)
	c.mu.Lock()
	var refused []*stream
	for id, s := range c.streams {
		if id > f.LastStreamID {
			refused = append(refused, s)
		}
	}
	c.mu.Unlock()
	why := fmt.Sprintf("GOAWAY %v with last stream %d", f.ErrCode, f.LastStreamID)
	if d := f.DebugData(); len(d) > 0 {
		why += fmt.Sprintf(" (%.200q)", d)
	}
	for _, s := range refused {
		if c.detach(s, 0, resetNever) {
			s.fail(&refusedError{addr: c.pool.opts.Addr, why: why})
		}
	}
	c.pool.forget(c)
}

// onData hands a DATA frame's payload to its stream, within the flow
// control windows.
func (c *clientConn) onData(f *http2.DataFrame) error {
	size := int64(f.Length)
	if size > c.recvWin {
		return connFault(http2.ErrCodeFlowControl, "DATA beyond the connection window")
	}
	c.recvWin -= size
	c.recvOwed += size
	c.mu.Lock()
	if c.recvOwed >= connWindow/2 {
		c.fr.WriteWindowUpdate(0, uint32(c.recvOwed))
		c.out.kick()
		c.recvWin += c.recvOwed
		c.recvOwed = 0
	}
	s := c.streams[f.StreamID]
	opened := f.StreamID < c.nextID
	c.mu.Unlock()
	if s == nil {
		if !opened {
			return connFault(http2.ErrCodeProtocol, "DATA on stream %d, which the gateway did not open", f.StreamID)
		}
		return nil // a stream the gateway reset or cancelled
	}
	if err := s.deliver(f.Data(), size, f.StreamEnded()); err != nil {
		c.failStream(s, err.code, fmt.Errorf("HTTP/2 response from %s: %w", c.pool.opts.Addr, err))
		return nil
	}
	if f.StreamEnded() {
		c.endStream(s, nil)
	}
	return nil
}
