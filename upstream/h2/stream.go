package h2

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"tollgate/proxy/http1"
)

// stream is one exchange's HTTP/2 stream: the request its Bridge sends,
// and the response the connection's read loop puts in its buffers, which
// the Bridge's Read renders as HTTP/1.1. A Bridge keeps its stream from
// one exchange to the next, buffers and all.
type stream struct {
	c      *clientConn
	isHead bool

	// Guarded by c.mu: the sending side and the connection's view.
	id         uint32
	sendWin    int64         // what the server lets the request body send
	localEnded bool          // END_STREAM was sent
	removed    bool          // off the connection's streams: ended, reset, cancelled
	blocked    bool          // the body sender waits for window or room
	writable   chan struct{} // a token: window, room or the stream's end

	mu       sync.Mutex
	readable chan struct{} // a token: bytes, the end or a failure
	recvWin  int64         // what the server may still send on the stream
	owed     int64         // body bytes read, not yet given back to the window
	head     []byte        // the rendered head (or a chunk rendered for a short read), unread from hr
	hr       int
	body     []byte // DATA bytes, unread from br
	br       int
	tail     []byte // the chunked end (last chunk and trailers), unread from tr
	tr       int
	mode     framing
	clen     int64 // Content-Length, for framingLength
	got      int64 // body bytes received
	headSeen bool  // the final head arrived (read loop's)
	nInterim int   // 1xx heads skipped
	headed   bool  // the head may be read
	ended    bool  // the response ended: everything is buffered
	finished bool  // off its connection; nothing more comes
	err      error // the stream's failure, after what is buffered
}

// keepStreamBuffer is the largest buffer a stream keeps for its next
// exchange.
const keepStreamBuffer = 64 << 10

func newStream() *stream {
	return &stream{writable: make(chan struct{}, 1), readable: make(chan struct{}, 1), removed: true}
}

// reset readies a finished (or new) stream for an exchange on c.
func (s *stream) reset(c *clientConn, isHead bool) {
	s.mu.Lock()
	s.c, s.isHead = c, isHead
	s.recvWin, s.owed = streamWindow, 0
	s.head, s.hr = trim(s.head), 0
	s.body, s.br = trim(s.body), 0
	s.tail, s.tr = trim(s.tail), 0
	s.mode, s.clen, s.got = framingNone, -1, 0
	s.headSeen, s.nInterim, s.headed, s.ended, s.finished, s.err = false, 0, false, false, false, nil
	s.mu.Unlock()
	drain(s.readable)
	drain(s.writable)
}

// trim empties b, dropping it when it grew large.
func trim(b []byte) []byte {
	if cap(b) > keepStreamBuffer {
		return nil
	}
	return b[:0]
}

// drain takes a token left in ch.
func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// signal leaves a token in ch unless one is there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// cancel ends the stream for a Bridge closed during its exchange
// (RST_STREAM CANCEL); nothing once it ended.
func (s *stream) cancel() {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.cancel(s)
	}
}

// gotHead reports that the final head arrived (a later block is the
// trailers).
func (s *stream) gotHead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headSeen && !s.finished
}

// interim counts a 1xx head; false past the bound.
func (s *stream) interim() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nInterim++
	return s.nInterim <= maxInterim
}

// setHead takes the final head of b: its framing decided, the rendering
// finished; a head with a body may be read at once, a bodyless one once
// the stream ends. False when the stream is gone.
func (s *stream) setHead(b *headerBlock) bool {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return false
	}
	clen := b.contentLength(s.isHead)
	s.mode = chooseFraming(b.status, s.isHead, clen, b.announced)
	s.clen = clen
	s.head = appendFraming(append(s.head[:0], b.out...), b.status, s.mode, clen)
	s.hr = 0
	s.headSeen = true
	s.headed = s.mode != framingNone
	s.mu.Unlock()
	if s.headed {
		signal(s.readable)
	}
	return true
}

// deliver takes a DATA frame's payload (size: the frame's flow-controlled
// length, padding included). A fault fails the stream.
func (s *stream) deliver(data []byte, size int64, end bool) *protocolError {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.finished:
		return nil
	case size > s.recvWin:
		return streamFault(http2.ErrCodeFlowControl, "DATA beyond the stream window")
	case !s.headSeen:
		return streamFault(http2.ErrCodeProtocol, "DATA before the response head")
	}
	s.recvWin -= size
	s.owed += size - int64(len(data)) // padding: given back with the next grant
	s.got += int64(len(data))
	switch s.mode {
	case framingNone:
		if s.got > maxEmptyBody {
			return &protocolError{code: http2.ErrCodeCancel, msg: "bodyless answer", err: errEmptyBody}
		}
		return nil
	case framingLength:
		if s.got > s.clen {
			return streamFault(http2.ErrCodeProtocol, "HTTP/2 response body longer than its Content-Length %d", s.clen)
		}
	}
	if len(data) == 0 {
		return nil
	}
	if s.br == len(s.body) {
		s.body, s.br = s.body[:0], 0
	} else if s.br > 0 && cap(s.body)-len(s.body) < len(data) {
		n := copy(s.body, s.body[s.br:])
		s.body, s.br = s.body[:n], 0
	}
	if s.body == nil {
		s.body = make([]byte, 0, max(4<<10, len(data)))
	}
	s.body = append(s.body, data...)
	if !end {
		signal(s.readable)
	}
	return nil
}

// checkEnd checks the body against its Content-Length at the stream's end.
func (s *stream) checkEnd() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == framingLength && s.got < s.clen {
		return fmt.Errorf("HTTP/2 response body ended at %d of its Content-Length %d: %w", s.got, s.clen, io.ErrUnexpectedEOF)
	}
	return nil
}

// end publishes the end of the response: tail (nil: an end without
// trailers) follows a chunked body.
func (s *stream) end(tail []byte) {
	s.mu.Lock()
	s.finished, s.ended, s.headed = true, true, true
	if s.mode == framingChunked {
		if tail == nil {
			tail = []byte("0\r\n\r\n")
		}
		s.tail = append(s.tail[:0], tail...)
	}
	s.mu.Unlock()
	signal(s.readable)
}

// fail ends the stream with err, which its reads get after what is
// buffered and its writes at once.
func (s *stream) fail(err error) {
	s.mu.Lock()
	s.finished = true
	if !s.ended && s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	signal(s.readable)
	signal(s.writable)
}

// read copies the rendered response into p as it arrives, waiting until
// d's deadline or until closed is.
func (s *stream) read(p []byte, d *deadline, closed <-chan struct{}) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		s.mu.Lock()
		n, grant := s.fill(p)
		if n > 0 {
			s.mu.Unlock()
			if grant > 0 {
				s.c.grantStream(s, grant)
			}
			return n, nil
		}
		err := s.err
		if err == nil && s.ended {
			err = io.EOF
		}
		s.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if err := d.wait(s.readable, closed); err != nil {
			return 0, err
		}
	}
}

// fill copies what may be read into p (mu held): the head, body bytes
// (framed as one chunk for a chunked body), and the end. grant is window
// to give back.
func (s *stream) fill(p []byte) (n int, grant int64) {
	if !s.headed {
		return 0, 0
	}
	if s.hr < len(s.head) {
		k := copy(p, s.head[s.hr:])
		s.hr += k
		n += k
		if s.hr < len(s.head) {
			return n, 0
		}
	}
	if avail := len(s.body) - s.br; avail > 0 {
		k := 0
		switch {
		case s.mode != framingChunked:
			k = copy(p[n:], s.body[s.br:])
			n += k
		case len(p)-n > http1.ChunkRoom+2:
			k = min(avail, len(p)-n-http1.ChunkRoom-2)
			copy(p[n+http1.ChunkRoom:], s.body[s.br:s.br+k])
			chunk := http1.FrameChunk(p[n:], k)
			n += copy(p[n:], chunk) // the size line moves to the front
		case n == 0:
			// Too short a read for a framed chunk: render one to read
			// from the head's buffer.
			k = min(avail, 4<<10)
			s.head = http1.AppendChunk(s.head[:0], s.body[s.br:s.br+k])
			s.hr = copy(p, s.head)
			n = s.hr
		}
		s.br += k
		if !s.ended {
			s.owed += int64(k)
			if s.owed >= streamWindow/2 {
				grant, s.owed = s.owed, 0
				s.recvWin += grant
			}
		}
		if s.br < len(s.body) || s.hr < len(s.head) {
			return n, grant
		}
	}
	if s.ended && s.tr < len(s.tail) {
		k := copy(p[n:], s.tail[s.tr:])
		s.tr += k
		n += k
	}
	return n, grant
}

// drained reports that the response ended and every byte of it was read.
func (s *stream) drained() bool {
	return s.ended && s.err == nil && s.hr == len(s.head) && s.br == len(s.body) && s.tr == len(s.tail)
}

// waitDrained reports whether the response was read whole, waiting up to
// a second for its end: its last body bytes can reach the exchange a
// moment before END_STREAM does.
func (s *stream) waitDrained() bool {
	var timer *time.Timer
	for {
		s.mu.Lock()
		ok, over := s.drained(), s.finished
		s.mu.Unlock()
		if ok || over {
			if timer != nil {
				timer.Stop()
			}
			return ok
		}
		if timer == nil {
			timer = time.NewTimer(time.Second)
			defer timer.Stop()
		}
		select {
		case <-s.readable:
		case <-timer.C:
			return false
		}
	}
}
