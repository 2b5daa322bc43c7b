package h2

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Flow control and bounds of the gateway's HTTP/2 client connections.
const (
	// connWindow is the connection's receive window: large, since every
	// stream's own window (streamWindow) bounds what it buffers.
	connWindow = 1 << 30
	// defaultWindow is HTTP/2's initial window (RFC 9113 section 6.9.2).
	defaultWindow = 65535
	// maxWindow is the largest window HTTP/2 allows.
	maxWindow = 1<<31 - 1
	// defaultFrameSize is HTTP/2's initial SETTINGS_MAX_FRAME_SIZE, which
	// the gateway keeps for what it reads.
	defaultFrameSize = 16384
	// tableSize is HPACK's dynamic table size both ways.
	tableSize = 4096
	// maxStreamID is the last stream id a connection may open.
	maxStreamID = 1<<31 - 1
	// closeFlush bounds the time a closing connection's GOAWAY takes to leave.
	closeFlush = time.Second
	// readBuffer is the size of a connection's read buffer.
	readBuffer = 16 << 10
)

// errConnClosed is the end of a connection the gateway closed itself
// (idle, retired pool).
var errConnClosed = errors.New("HTTP/2 connection closed by the gateway")

// clientConn is one HTTP/2 connection to the target: the gateway's own
// client side of the protocol. Its read loop (frames.go) applies what the
// server sends and fills the streams' response buffers; its writer
// (writer.go) sends what the streams and the read loop queue.
type clientConn struct {
	pool *Pool
	nc   net.Conn
	fr   *http2.Framer // read by the read loop; written under mu, into out

	// Read by the pool without mu.
	closed     atomic.Bool   // no new streams: the connection failed or is closing
	goingAway  atomic.Bool   // the server sent GOAWAY
	maxStreams atomic.Uint32 // the server's SETTINGS_MAX_CONCURRENT_STREAMS, at least 1

	ready     chan struct{} // closed at the server's first SETTINGS or the connection's end
	readyOnce sync.Once

	mu        sync.Mutex
	out       writer
	enc       *hpack.Encoder
	encBuf    bytes.Buffer
	names     fieldCache // request field names, lower case
	values    fieldCache // request field values
	digits    [20]byte   // a content-length being encoded
	streams   map[uint32]*stream
	nextID    uint32
	sendWin   int64 // the connection's send window
	peerWin   int64 // the server's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame int   // the server's SETTINGS_MAX_FRAME_SIZE
	blocked   bool  // some stream waits for window or room
	err       error // why the connection ended; nil while it serves

	// The read loop's own.
	dec         *hpack.Decoder
	blk         headerBlock
	scratch     []byte
	recvWin     int64 // what the server may still send on the connection
	recvOwed    int64 // received bytes not yet given back to the connection window
	gotSettings bool

	// Guarded by Pool.mu.
	reserved  int // streams reserved by Prepare and not yet released
	idleSince time.Time
	idleArmed bool
	idleTimer *time.Timer
}

// newClientConn starts HTTP/2 on nc: the preface, the gateway's SETTINGS
// and connection window go out, and the read loop and the writer run.
func newClientConn(p *Pool, nc net.Conn) *clientConn {
	c := &clientConn{pool: p, nc: nc, ready: make(chan struct{}), streams: make(map[uint32]*stream),
		nextID: 1, sendWin: defaultWindow, peerWin: defaultWindow, peerFrame: defaultFrameSize, recvWin: connWindow}
	c.maxStreams.Store(defaultStreams)
	c.out.nc = nc
	c.out.cond.L = &c.mu
	c.out.pending = p.takeBuf()
	c.fr = http2.NewFramer(&c.out, bufio.NewReaderSize(nc, readBuffer))
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(defaultFrameSize)
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.dec = hpack.NewDecoder(tableSize, c.emit)
	c.dec.SetMaxStringLength(maxHeaderList)
	c.names.init()
	c.values.init()

	c.mu.Lock()
	c.out.pending = append(c.out.pending, http2.ClientPreface...)
	c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderList},
	)
	c.fr.WriteWindowUpdate(0, connWindow-defaultWindow)
	c.mu.Unlock()
	go c.out.loop(c.written, func(err error) { c.fail(fmt.Errorf("writing to %s: %w", p.opts.Addr, err)) })
	go c.readLoop()
	return c
}

// waitReady waits for the server's SETTINGS until deadline (zero: none).
func (c *clientConn) waitReady(deadline time.Time) error {
	expired, stop := expiry(deadline)
	defer stop()
	select {
	case <-c.ready:
	case <-expired:
		c.fail(errors.New("no SETTINGS from the server in time"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// markReady ends waitReady.
func (c *clientConn) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// written runs after each write (mu held): body senders waiting for room
// may go on.
func (c *clientConn) written() {
	if c.blocked {
		c.wakeBlockedLocked()
	}
}

// fail ends the connection on an error: a protocol error gets a GOAWAY
// with its code; every open stream fails with err. Only the first end
// counts.
func (c *clientConn) fail(err error) {
	var pe *protocolError
	if errors.As(err, &pe) {
		c.end(fmt.Errorf("HTTP/2 connection to %s: %w", c.pool.opts.Addr, err), pe.code, true)
		return
	}
	c.end(fmt.Errorf("HTTP/2 connection to %s: %w", c.pool.opts.Addr, err), http2.ErrCodeNo, false)
}

// shutdown closes the connection gracefully: a GOAWAY, then the socket
// once it has left.
func (c *clientConn) shutdown() { c.end(errConnClosed, http2.ErrCodeNo, true) }

// end closes the connection with err, sending a GOAWAY with code first
// when goAway is set.
func (c *clientConn) end(err error, code http2.ErrCode, goAway bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.closed.Store(true)
	streams := make([]*stream, 0, len(c.streams))
	for _, s := range c.streams {
		s.removed = true
		streams = append(streams, s)
	}
	c.streams = nil
	if goAway {
		var debug []byte
		if code != http2.ErrCodeNo {
			debug = []byte(err.Error())
		}
		c.fr.WriteGoAway(0, code, debug)
		c.out.closing = true
		c.nc.SetWriteDeadline(time.Now().Add(closeFlush))
	} else {
		c.out.stop = true
	}
	c.out.kick()
	c.mu.Unlock()
	if !goAway {
		c.nc.Close()
	}
	c.markReady()
	for _, s := range streams {
		s.fail(err)
		c.pool.release(c)
	}
	c.pool.forget(c)
}

// wakeBlockedLocked wakes the streams waiting to send body (mu held).
func (c *clientConn) wakeBlockedLocked() {
	c.blocked = false
	for _, s := range c.streams {
		if s.blocked {
			s.blocked = false
			signal(s.writable)
		}
	}
}

// removeLocked takes s off the connection's streams; false when it was
// already (mu held).
func (c *clientConn) removeLocked(s *stream) bool {
	if s.removed {
		return false
	}
	s.removed = true
	delete(c.streams, s.id)
	return true
}

// resetMode says whether detach sends RST_STREAM.
type resetMode uint8

const (
	resetNever  resetMode = iota // the server closed the stream itself (RST_STREAM, GOAWAY)
	resetIfOpen                  // the response ended: cancel a request still being sent
	resetAlways                  // the gateway ends the stream
)

// detach takes s off the connection, sending RST_STREAM code as mode
// says (CANCEL for resetIfOpen); the reservation is released. False
// when s was already detached.
func (c *clientConn) detach(s *stream, code http2.ErrCode, mode resetMode) bool {
	c.mu.Lock()
	removed := c.removeLocked(s)
	if removed && c.err == nil && (mode == resetAlways || mode == resetIfOpen && !s.localEnded) {
		if mode == resetIfOpen {
			code = http2.ErrCodeCancel
		}
		c.fr.WriteRSTStream(s.id, code)
		c.out.kick()
	}
	c.mu.Unlock()
	if removed {
		c.pool.release(c)
	}
	return removed
}

// failStream resets s with code and fails it with err.
func (c *clientConn) failStream(s *stream, code http2.ErrCode, err error) {
	if c.detach(s, code, resetAlways) {
		s.fail(err)
	}
}

// endStream closes s at its END_STREAM and publishes the end of its
// response: tail (the chunked end with the trailers) follows the body.
func (c *clientConn) endStream(s *stream, tail []byte) {
	if err := s.checkEnd(); err != nil {
		c.failStream(s, http2.ErrCodeProtocol, fmt.Errorf("HTTP/2 response from %s: %w", c.pool.opts.Addr, err))
		return
	}
	if c.detach(s, http2.ErrCodeCancel, resetIfOpen) {
		s.end(tail)
	}
}

// cancel ends a stream the exchange gave up on (RST_STREAM CANCEL).
func (c *clientConn) cancel(s *stream) {
	if c.detach(s, http2.ErrCodeCancel, resetAlways) {
		s.fail(net.ErrClosed)
	}
}

// grantStream gives n read bytes back to s's window.
func (c *clientConn) grantStream(s *stream, n int64) {
	c.mu.Lock()
	if !s.removed && c.err == nil {
		c.fr.WriteWindowUpdate(s.id, uint32(n))
		c.out.kick()
	}
	c.mu.Unlock()
}
