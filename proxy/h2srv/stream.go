package h2srv

import (
	"golang.org/x/net/http2"
)

// Stream is one request and its answer on a connection. Its methods are
// called by the connection's driver, inside handler calls or between
// Feeds (an answer that comes later, once the upstream replies); what
// they send waits in Conn.Output. It is valid from
// Handler.Request until it closes: after Handler.Reset returns, after the
// handler's own Reset, or once both sides have ended (the call that ended
// the second one returns). The connection then reuses it for a later
// stream, so the handler must drop it; what it returned (Fields, Method,
// ...) must be copied to outlive it.
type Stream struct {
	c  *Conn
	id uint32

	announced   bool // Handler.Request was called
	remoteEnded bool // the request ended (END_STREAM received)
	localEnded  bool // the answer ended (END_STREAM sent)
	headersSent bool // a final response head went out
	closed      bool
	blocked     bool // WriteData took less than given; Writable will follow

	method, path, authority, scheme string
	pseudo                          uint8 // pseudo-header fields seen (bits)
	fields                          []Field
	trailers                        []Field
	contentLength                   int64 // -1: none given
	received                        int64 // body bytes received

	sendWin  int64 // bytes the server may still send
	recvWin  int64 // bytes the client may still send
	recvOwed int64 // consumed bytes not yet granted back
	held     int64 // bytes delivered to the handler, not yet Consumed
}

// ID is the stream's identifier.
func (s *Stream) ID() uint32 { return s.id }

// Method is the request's :method.
func (s *Stream) Method() string { return s.method }

// Path is the request's :path (empty for CONNECT).
func (s *Stream) Path() string { return s.path }

// Authority is the request's :authority (may be empty: see Host in Fields).
func (s *Stream) Authority() string { return s.authority }

// Scheme is the request's :scheme (empty for CONNECT).
func (s *Stream) Scheme() string { return s.scheme }

// Fields are the request's regular header fields in the order received,
// names in lower case, valid while the stream is.
func (s *Stream) Fields() []Field { return s.fields }

// EndStream reports whether the request has ended (no more Data).
func (s *Stream) EndStream() bool { return s.remoteEnded }

// ContentLength is the request's content-length, or -1 when it gave none.
func (s *Stream) ContentLength() int64 { return s.contentLength }

// usable reports why the stream cannot send any more, if it cannot.
func (s *Stream) usable() error {
	switch {
	case s.closed:
		return ErrStreamClosed
	case s.c.err != nil:
		return ErrConnClosed
	case s.localEnded:
		return ErrStreamEnded
	}
	return nil
}

// WriteHeaders sends the response head: :status then fields (names lower
// cased, hop-by-hop fields dropped), in a HEADERS frame and as many
// CONTINUATION frames as the client's frame size needs. end: no body
// follows. A 1xx status may precede the final one.
func (s *Stream) WriteHeaders(status int, fields []Field, end bool) error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.headersSent {
		return ErrHeadersSent
	}
	informational := status >= 100 && status < 200
	s.c.writeHead(s.id, status, fields, end && !informational)
	if !informational {
		s.headersSent = true
		if end {
			s.endLocal()
		}
	}
	return nil
}

// WriteData sends body bytes: as many as the stream's and the connection's
// send windows allow now (copied into Output, cut at the client's frame
// size). n < len(p): the rest waits, and Handler.Writable will say when
// to write it again. end (honoured once all of p is taken): the answer
// ends here. An answer that ends before the request does leaves the
// stream half-closed: it counts toward MaxConcurrentStreams until the
// request ends, so a handler that does not want the rest of the body
// calls Reset(http2.ErrCodeNo) (RFC 9113 section 8.1).
func (s *Stream) WriteData(p []byte, end bool) (int, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	if !s.headersSent {
		return 0, ErrNoHeaders
	}
	c := s.c
	n := int64(len(p))
	n = max(0, min(n, s.sendWin, c.sendWin))
	whole := n == int64(len(p))
	if n == 0 && whole && end {
		c.fr.WriteData(s.id, true, nil)
	}
	for off := int64(0); off < n; {
		k := min(n-off, int64(c.peer.maxFrameSize))
		c.fr.WriteData(s.id, end && whole && off+k == n, p[off:off+k])
		off += k
	}
	s.sendWin -= n
	c.sendWin -= n
	switch {
	case !whole:
		s.block()
	case end:
		s.endLocal()
	}
	return int(n), nil
}

// WriteTrailers ends the answer with trailer fields (a HEADERS frame with
// END_STREAM).
func (s *Stream) WriteTrailers(fields []Field) error {
	if err := s.usable(); err != nil {
		return err
	}
	if !s.headersSent {
		return ErrNoHeaders
	}
	s.c.writeHead(s.id, 0, fields, true)
	s.endLocal()
	return nil
}

// Consumed reports that the handler used n body bytes: the client gets
// their window back (WINDOW_UPDATE on the stream and the connection once
// half a window is owed). On a closed stream it does nothing: closing
// gave back what was still held.
func (s *Stream) Consumed(n int) {
	if s.closed || n <= 0 {
		return
	}
	k := min(int64(n), s.held)
	s.held -= k
	s.c.grantConn(k)
	s.c.grantStream(s, k)
}

// Reset abandons the stream: RST_STREAM with code, and the stream closed
// (Handler.Reset is not called for it).
func (s *Stream) Reset(code http2.ErrCode) {
	if s.closed || s.c.err != nil {
		return
	}
	s.c.fr.WriteRSTStream(s.id, code)
	s.c.closeStream(s)
}

// block puts s among the streams waiting for window.
func (s *Stream) block() {
	if !s.blocked {
		s.blocked = true
		s.c.waiting = append(s.c.waiting, s)
	}
}

// endLocal marks the answer ended, closing the stream if the request has
// ended too.
func (s *Stream) endLocal() {
	s.localEnded = true
	s.c.unblock(s)
	if s.remoteEnded {
		s.c.closeStream(s)
	}
}

// newStream opens stream id, reusing a closed one when there is one.
func (c *Conn) newStream(id uint32) *Stream {
	var s *Stream
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		fields, trailers := s.fields, s.trailers
		clear(fields)
		clear(trailers)
		*s = Stream{fields: fields[:0], trailers: trailers[:0]}
	} else {
		s = new(Stream)
	}
	s.c, s.id = c, id
	s.contentLength = -1
	s.sendWin = c.peer.initialWindow
	s.recvWin = int64(c.cfg.InitialWindowSize)
	c.streams[id] = s
	return s
}

// closeStream forgets s: it leaves the open streams and the waiting list,
// gives back the connection window its unconsumed bytes held, and is kept
// for reuse.
func (c *Conn) closeStream(s *Stream) {
	if s.closed {
		return
	}
	c.unblock(s)
	s.closed = true
	delete(c.streams, s.id)
	if s.held > 0 {
		c.grantConn(s.held)
		s.held = 0
	}
	if len(c.free) < int(c.cfg.MaxConcurrentStreams) {
		c.free = append(c.free, s)
	}
}
