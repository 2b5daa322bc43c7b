package h2srv

import (
	"errors"

	"golang.org/x/net/http2"
)

// errFrameTooLarge: a frame header announced more than MaxReadFrameSize.
var errFrameTooLarge = connErr(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")

// handleFrame parses one whole frame and applies it. A stream error is
// answered here; a connection error is returned.
func (c *Conn) handleFrame(frame []byte) error {
	c.src.b = frame
	f, err := c.fr.ReadFrame()
	if err != nil {
		err = frameErr(err)
		var se http2.StreamError
		if errors.As(err, &se) {
			c.resetID(se.StreamID, se.Code)
			return nil
		}
		return err
	}
	if !c.gotSettings {
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			return connErr(http2.ErrCodeProtocol, "client preface not followed by SETTINGS")
		}
	}
	return c.dispatch(f)
}

// dispatch applies one parsed frame.
func (c *Conn) dispatch(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.HeadersFrame:
		return c.onHeaders(f)
	case *http2.ContinuationFrame:
		return c.onContinuation(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.PingFrame:
		return c.onPing(f)
	case *http2.RSTStreamFrame:
		return c.onRSTStream(f)
	case *http2.PriorityFrame:
		return c.onPriority(f)
	case *http2.GoAwayFrame:
		c.peerGoneAway = true
		return nil
	case *http2.PushPromiseFrame:
		return connErr(http2.ErrCodeProtocol, "PUSH_PROMISE from a client")
	}
	return nil // unknown frame types are ignored (RFC 9113 section 5.5)
}

// idle reports whether id names a stream not opened yet: one above the
// client's highest, or an even one (the server's, which opens none).
func (c *Conn) idle(id uint32) bool { return id > c.maxClientID || id%2 == 0 }

// onPing answers a PING.
func (c *Conn) onPing(f *http2.PingFrame) error {
	if f.IsAck() {
		return nil
	}
	if err := c.countControl("PING"); err != nil {
		return err
	}
	c.fr.WritePing(true, f.Data)
	return nil
}

// onRSTStream closes a stream the client reset.
func (c *Conn) onRSTStream(f *http2.RSTStreamFrame) error {
	if c.idle(f.StreamID) {
		return connErr(http2.ErrCodeProtocol, "RST_STREAM on an idle stream")
	}
	if err := c.countReset(); err != nil {
		return err
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return nil
	}
	announced := s.announced
	c.closeStream(s)
	if announced {
		c.h.Reset(s, f.ErrCode)
	}
	return nil
}

// onPriority checks a PRIORITY frame, whose advice is otherwise ignored.
func (c *Conn) onPriority(f *http2.PriorityFrame) error {
	if err := c.countControl("PRIORITY"); err != nil {
		return err
	}
	if f.StreamDep == f.StreamID {
		c.resetID(f.StreamID, http2.ErrCodeProtocol)
	}
	return nil
}

// resetID answers a stream error on stream id: RST_STREAM, and the stream,
// if open, closed (and reported to the handler if it saw it).
func (c *Conn) resetID(id uint32, code http2.ErrCode) {
	if s := c.streams[id]; s != nil {
		c.resetStream(s, code)
		return
	}
	c.fr.WriteRSTStream(id, code)
}

// resetStream answers a stream error on an open stream.
func (c *Conn) resetStream(s *Stream, code http2.ErrCode) {
	c.fr.WriteRSTStream(s.id, code)
	announced := s.announced
	c.closeStream(s)
	if announced {
		c.h.Reset(s, code)
	}
}
