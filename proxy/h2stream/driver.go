package h2stream

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"tollgate/proxy/h2srv"
	"tollgate/proxy/sock"
)

// conn drives one HTTP/2 connection: its goroutine reads the client and
// feeds h2srv's Conn, the streams' Conns answer on their own goroutines,
// and every call into h2srv is made holding mu. It is h2srv's Handler:
// those calls come from within Feed, with mu held, and never block.
type conn struct {
	srv *Server
	nc  net.Conn
	cfg Config
	tls *tls.ConnectionState // nil for h2c

	mu      sync.Mutex
	h2      *h2srv.Conn
	out     writer
	streams map[uint32]*Conn // the streams h2srv has open, by id
	room    chan struct{}    // the reader's wake when output room opens
	reading bool             // the driver is in Feed (or closing): it acts on Done itself
	offered []*Conn          // streams the feed opened, for Config.Inline after it
	shard   uint32           // Conn.Shard
	batched bool             // in a Batch, its output waiting for the Batch's Flush

	// The read deadline: the header block's or the idle one's.
	blockSince time.Time // when the preface or the current header block began
	idleSince  time.Time // when the last stream ended (zero while streams are open)
	deadline   time.Time // the read deadline set on nc
}

func newDriver(srv *Server, nc net.Conn, cfg Config) *conn {
	cn := &conn{srv: srv, nc: nc, cfg: cfg, streams: make(map[uint32]*Conn), room: make(chan struct{}, 1)}
	cn.shard = srv.shards.Add(1)
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		cn.tls = &cs
	}
	h2cfg := cfg.H2
	if h2cfg.MaxOutput <= 0 {
		h2cfg.MaxOutput = 256 << 10
	}
	cn.out = writer{nc: nc, mu: &cn.mu, bufs: &srv.writeBufs, max: h2cfg.MaxOutput, writeTimeout: cfg.IdleTimeout}
	cn.out.raw = rawConn(nc)
	cn.h2 = h2srv.NewConn(h2cfg, cn)
	now := time.Now()
	cn.blockSince, cn.idleSince = now, now
	return cn
}

// serve reads and feeds the client until the connection ends.
func (cn *conn) serve(pre []byte) {
	src := newSource(cn.nc, cn.out.raw, pre, &cn.srv.readBufs)
	cn.mu.Lock()
	cn.nc.SetWriteDeadline(time.Time{})
	cn.queue()
	linger := false
	for {
		cn.setReadDeadline(time.Now())
		cn.mu.Unlock()
		p, buf, err := src.next()
		cn.mu.Lock()
		if err != nil {
			linger = cn.readFailed(err)
			break
		}
		done := cn.feed(p)
		src.done(buf)
		if done {
			linger = cn.out.err == nil && !cn.out.closed
			break
		}
	}
	cn.reading = true // for good: the driver closes
	cn.h2.Close()     // the streams still open are reset toward their Conns
	if !linger {
		cn.out.closeAfter()
		cn.mu.Unlock()
		return
	}
	cn.lingerClose()
}

// Lingering after a GOAWAY: the connection's last frames are written, its
// sending side shut, and what the client still sends read and dropped for
// a moment, so that the GOAWAY is read rather than lost to the reset a
// close with unread bytes would send.
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 10
)

// lingerClose writes what is pending, shuts the sending side, drains the
// client for a moment and closes (mu held on entry, released).
func (cn *conn) lingerClose() {
	cn.out.finish()
	for cn.out.writing && !cn.out.closed {
		cn.out.wait(cn.room)
		cn.mu.Unlock()
		<-cn.room
		cn.mu.Lock()
	}
	closed := cn.out.closed
	cn.mu.Unlock()
	if !closed {
		sock.Linger(cn.nc, lingerTime, lingerBytes)
	}
	cn.mu.Lock()
	cn.out.closeAfter()
	cn.mu.Unlock()
}

// feed gives p to h2srv, waiting for room when the output is full, and
// reports whether the connection is done (mu held).
func (cn *conn) feed(p []byte) bool {
	for {
		for cn.out.full() {
			cn.out.wait(cn.room)
			cn.mu.Unlock()
			<-cn.room
			cn.mu.Lock()
		}
		cn.reading = true
		n, err := cn.h2.Feed(p)
		cn.reading = false
		cn.offer()
		p = p[n:]
		cn.queue()
		var ce *h2srv.ConnError
		if errors.As(err, &ce) && cn.cfg.ConnError != nil {
			cn.cfg.ConnError(cn.nc.RemoteAddr(), ce)
		}
		if err != nil || cn.h2.Done() || cn.out.err != nil || cn.out.closed {
			return true
		}
		if len(p) == 0 {
			return false
		}
	}
}

// readFailed ends the connection after a failed read: a header block (or
// the preface) late past read_header_timeout is counted; an idle
// connection gets its GOAWAY (mu held).
// It reports whether a GOAWAY went out, to linger after.
func (cn *conn) readFailed(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	if cn.h2.InHeaderBlock() {
		if cn.cfg.HeaderTimeout != nil {
			cn.cfg.HeaderTimeout(cn.nc.RemoteAddr())
		}
		return false
	}
	cn.h2.GoAway()
	cn.queue()
	return true
}

// setReadDeadline sets the read deadline the connection's state asks for
// (mu held): the header block's while one is owed, the idle timeout's
// while no stream is open, else none.
func (cn *conn) setReadDeadline(now time.Time) {
	var want time.Time
	switch {
	case cn.h2.InHeaderBlock():
		if cn.blockSince.IsZero() {
			cn.blockSince = now
		}
		if cn.cfg.ReadHeaderTimeout > 0 {
			want = cn.blockSince.Add(cn.cfg.ReadHeaderTimeout)
		}
	case cn.h2.Idle():
		cn.blockSince = time.Time{}
		if cn.idleSince.IsZero() {
			cn.idleSince = now
		}
		if cn.cfg.IdleTimeout > 0 {
			want = cn.idleSince.Add(cn.cfg.IdleTimeout)
		}
	default:
		cn.blockSince, cn.idleSince = time.Time{}, time.Time{}
	}
	if !want.Equal(cn.deadline) {
		cn.deadline = want
		cn.nc.SetReadDeadline(want)
	}
}

// queue moves what h2srv has to send to the writer (mu held).
func (cn *conn) queue() {
	if out := cn.h2.Output(); len(out) > 0 {
		cn.out.queue(out)
		cn.h2.Wrote(len(out))
	}
}

// streamGone forgets a stream h2srv closed (mu held); once no stream is
// left, the idle deadline runs, and a connection told to go away closes.
func (cn *conn) streamGone(id uint32) {
	delete(cn.streams, id)
	if cn.reading {
		return
	}
	if cn.h2.Done() {
		cn.out.closeAfter()
		return
	}
	if cn.h2.Idle() {
		cn.setReadDeadline(time.Now())
	}
}

// goAway sends a GOAWAY; a connection with no stream then closes.
func (cn *conn) goAway() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.h2.GoAway()
	cn.queue()
	if cn.h2.Done() {
		cn.out.closeAfter()
	}
}

// Request starts a stream's exchange: on whoever Config.Inline hands it
// to, or on a runner (h2srv.Handler).
func (cn *conn) Request(s *h2srv.Stream) {
	cn.blockSince = time.Time{} // a header block ended: the next one's time starts with it
	c := cn.srv.conns.Get().(*Conn)
	c.open(cn, s)
	cn.streams[s.ID()] = c
	if cn.cfg.Inline != nil && !c.in.chunked {
		cn.offered = append(cn.offered, c) // once the feed is done: its body may follow in it
		return
	}
	cn.srv.run(c, cn.cfg.Serve)
}

// offer hands the streams a feed opened to Config.Inline, with the body
// bytes that came in the same feed, or to runners (mu held).
func (cn *conn) offer() {
	for i, c := range cn.offered {
		cn.offered[i] = nil
		c.nonblock = true
		if b, taken := cn.cfg.Inline(c); taken {
			c.batch = b
			continue
		}
		c.nonblock = false
		cn.srv.run(c, cn.cfg.Serve)
	}
	cn.offered = cn.offered[:0]
}

// Data passes request body bytes to the stream's Conn (h2srv.Handler).
func (cn *conn) Data(s *h2srv.Stream, p []byte, end bool) {
	if c := cn.streams[s.ID()]; c != nil {
		c.onData(p, end)
	}
}

// Trailers passes the request's trailers to the stream's Conn
// (h2srv.Handler).
func (cn *conn) Trailers(s *h2srv.Stream, fields []h2srv.Field) {
	cn.blockSince = time.Time{}
	if c := cn.streams[s.ID()]; c != nil {
		c.onTrailers(fields)
	}
}

// Reset fails the stream's Conn (h2srv.Handler).
func (cn *conn) Reset(s *h2srv.Stream, code http2.ErrCode) {
	if c := cn.streams[s.ID()]; c != nil {
		c.onReset(code)
	}
}

// Writable wakes the stream's blocked Write (h2srv.Handler).
func (cn *conn) Writable(s *h2srv.Stream) {
	if c := cn.streams[s.ID()]; c != nil {
		signal(c.wwake)
	}
}
