package h2srv

import (
	"bytes"
	"errors"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// ClientPreface is what an HTTP/2 client sends first (RFC 9113 section
// 3.4), before its SETTINGS frame.
const ClientPreface = http2.ClientPreface

// Handler receives a connection's requests. Its methods are called
// synchronously from Conn.Feed (Reset also from Conn.Close); they may
// call the Stream's methods, and must not call Feed.
type Handler interface {
	// Request: a stream opened with a whole, valid request head
	// (s.Method, s.Path, s.Authority, s.Scheme, s.Fields). s.EndStream
	// says whether the request ends here (no body).
	Request(s *Stream)
	// Data: request body bytes, p valid only during the call; end: the
	// body ended (END_STREAM). The window they took is given back to the
	// client as the handler calls s.Consumed.
	Data(s *Stream, p []byte, end bool)
	// Trailers: the request's trailers, valid only during the call; the
	// request has ended.
	Trailers(s *Stream, fields []Field)
	// Reset: the stream ended abnormally — the client reset it, its
	// request broke a rule (code is the one sent to the client), or the
	// connection is ending with it open. The stream is gone after the call.
	Reset(s *Stream, code http2.ErrCode)
	// Writable: the send windows opened for a stream whose WriteData took
	// less than it was given.
	Writable(s *Stream)
}

// Conn is the server side of one HTTP/2 connection. It is not safe for
// concurrent use: one driver calls its methods, and the handler's calls
// come from within them.
type Conn struct {
	cfg Config
	h   Handler

	in     input
	src    source
	out    output
	fr     *http2.Framer
	dec    *hpack.Decoder
	enc    *hpack.Encoder
	encBuf bytes.Buffer

	prefaceLeft  int  // bytes of the client preface still to check
	gotSettings  bool // the client's first SETTINGS arrived
	err          error
	goingAway    bool // GOAWAY sent: no new streams
	peerGoneAway bool // GOAWAY received: no new streams

	peer peerSettings

	streams     map[uint32]*Stream
	free        []*Stream // closed streams kept for reuse
	maxClientID uint32    // highest stream id the client used
	blk         headerBlock

	sendWin  int64 // connection send window
	recvWin  int64 // bytes the client may still send on the connection
	recvHeld int64 // bytes consumed (or discarded) not yet granted back

	waiting     []*Stream // streams whose WriteData waits for window
	wakeScratch []*Stream
	resets      rate
	control     rate
}

// NewConn returns a connection that has queued its server preface
// (SETTINGS and the connection's WINDOW_UPDATE) in Output and expects the
// client preface first.
func NewConn(cfg Config, h Handler) *Conn {
	cfg = cfg.withDefaults()
	c := &Conn{
		cfg:         cfg,
		h:           h,
		prefaceLeft: len(ClientPreface),
		peer:        defaultPeerSettings(),
		streams:     make(map[uint32]*Stream),
		sendWin:     defaultWindow,
		recvWin:     int64(cfg.ConnWindowSize),
	}
	c.in.max = cfg.MaxReadFrameSize
	c.fr = http2.NewFramer(&c.out, &c.src)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(cfg.MaxReadFrameSize)
	c.dec = hpack.NewDecoder(defaultTableSize, c.emit)
	c.dec.SetMaxStringLength(int(cfg.MaxHeaderListSize))
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.resets = rate{max: cfg.MaxResetsPerWindow, span: cfg.RateWindow}
	c.control = rate{max: cfg.MaxControlPerWindow, span: cfg.RateWindow}
	c.writeServerPreface()
	return c
}

// Feed takes bytes read from the client. It consumes every byte given
// (n == len(p)), keeping the start of a frame that is not whole yet,
// unless Output holds more than Config.MaxOutput bytes: then it stops
// early and returns n < len(p); the driver writes Output (and stops
// reading the socket) and feeds p[n:] again later. A connection error
// queues a GOAWAY, tells the handler about every open stream, and is
// returned (a *ConnError): the driver writes Output, then closes. After
// that, Feed returns the same error.
func (c *Conn) Feed(p []byte) (n int, err error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.prefaceLeft > 0 {
		if n, err = c.readPreface(p); err != nil {
			return n, c.fail(err)
		}
	}
	for len(c.out.pending()) <= c.cfg.MaxOutput && c.err == nil {
		frame, used, err := c.in.next(p[n:])
		n += used
		if err != nil {
			return n, c.fail(err)
		}
		if frame == nil {
			return n, nil
		}
		if err := c.handleFrame(frame); err != nil {
			return n, c.fail(err)
		}
	}
	return n, c.err
}

// readPreface checks the client preface as its bytes arrive.
func (c *Conn) readPreface(p []byte) (int, error) {
	done := len(ClientPreface) - c.prefaceLeft
	k := min(c.prefaceLeft, len(p))
	if string(p[:k]) != ClientPreface[done:done+k] {
		return k, connErr(http2.ErrCodeProtocol, "bad client preface")
	}
	c.prefaceLeft -= k
	return k, nil
}

// Output returns the bytes waiting to be written to the client; they stay
// valid until the next call of any other method.
func (c *Conn) Output() []byte { return c.out.pending() }

// Wrote reports that the first n bytes of Output were written.
func (c *Conn) Wrote(n int) { c.out.wrote(n) }

// GoAway starts a graceful shutdown: a GOAWAY naming the last stream the
// client opened; the streams open finish, new ones are ignored. Done
// reports when the driver may close.
func (c *Conn) GoAway() {
	if c.goingAway || c.err != nil {
		return
	}
	c.goingAway = true
	c.fr.WriteGoAway(c.maxClientID, http2.ErrCodeNo, nil)
}

// InHeaderBlock reports whether the connection waits for the rest of
// something a client must send whole and in time: the client preface and
// its first SETTINGS, or a header block begun (a HEADERS frame without
// END_HEADERS, its CONTINUATIONs still to come). The driver bounds that
// wait (read_header_timeout).
func (c *Conn) InHeaderBlock() bool {
	return c.err == nil && (c.prefaceLeft > 0 || !c.gotSettings || c.blk.kind != blockNone || c.in.partialHeaders())
}

// Idle reports whether no stream is open (for idle timeouts).
func (c *Conn) Idle() bool { return len(c.streams) == 0 }

// Done reports whether the driver should close once Output is written: a
// connection error happened, or the server's GOAWAY went out and no stream
// is left. The client's GOAWAY only stops new streams: the client closes
// when it is done, and until then its PINGs and SETTINGS are answered
// (h2spec http2/7 sends a PING after one).
func (c *Conn) Done() bool {
	return c.err != nil || (c.goingAway && len(c.streams) == 0)
}

// Close ends the connection from the driver's side (the socket failed or
// a timeout fired): each open stream gets Handler.Reset with CANCEL, and
// every later call fails with ErrConnClosed.
func (c *Conn) Close() {
	if c.err != nil {
		return
	}
	c.err = ErrConnClosed
	c.resetAll(http2.ErrCodeCancel)
}

// fail ends the connection with err: a GOAWAY with its code (or, for an
// error that is not a ConnError, INTERNAL_ERROR) and every open stream
// reset toward the handler.
func (c *Conn) fail(err error) error {
	var ce *ConnError
	if !errors.As(err, &ce) {
		ce = &ConnError{Code: http2.ErrCodeInternal, Reason: err.Error()}
		err = ce
	}
	c.fr.WriteGoAway(c.maxClientID, ce.Code, nil)
	c.err = err
	c.resetAll(ce.Code)
	return err
}

// resetAll tells the handler every open stream is gone.
func (c *Conn) resetAll(code http2.ErrCode) {
	for _, s := range c.streams {
		announced := s.announced
		c.closeStream(s)
		if announced {
			c.h.Reset(s, code)
		}
	}
}

// writeServerPreface queues the server's SETTINGS and the connection
// window's growth beyond the default.
func (c *Conn) writeServerPreface() {
	settings := [...]http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: c.cfg.MaxConcurrentStreams},
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.cfg.InitialWindowSize)},
		{ID: http2.SettingMaxFrameSize, Val: c.cfg.MaxReadFrameSize},
		{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
	}
	c.fr.WriteSettings(settings[:]...)
	if grow := c.cfg.ConnWindowSize - defaultWindow; grow > 0 {
		c.fr.WriteWindowUpdate(0, uint32(grow))
	}
}
