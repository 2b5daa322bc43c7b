package proxy

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tollgate/proxy/h2stream"
)

// Connection states tracked for graceful shutdown.
const (
	stateIdle int32 = iota
	stateActive
)

// session is what a client connection keeps for its whole life: small, so
// that a parked idle connection costs little. The heavy clientConn is
// attached only while a request is being read or served.
type session struct {
	// c is the connection as a net.Conn, for workers. A connection accepted
	// raw (see rawSession) has none until a worker first needs it
	// (Engine.sessionConn); until then its socket is not in Go's netpoller,
	// which would otherwise wake for every request the loop serves.
	c     net.Conn
	isTLS bool
	fd    int  // the raw socket an event loop reads and writes; -1 when the connection cannot be parked
	ownFD bool // fd was accepted raw: closing the session closes it (c, if made, is a duplicate)
	peer  netip.AddrPort
	state atomic.Int32
	fresh bool // just accepted into a worker: data is expected, do not wait first
	spoke bool // a request head parsed: the peer speaks HTTP/1.x (failNotHTTP is for first requests only)
	proto protocol
	// linger: the gateway answered without reading the request's body;
	// closing reads and drops what the client still sends (lingerClose)
	linger bool
	wheel  wheelLink

	registered bool    // added to the epoll set
	outArmed   bool    // its registration includes EPOLLOUT (awaitClient)
	loop       *evLoop // the event loop it is registered with, or nil

	// Guarded by loop.mu: what the session waits for, bytes seen while it
	// was busy, the upstream socket awaited in modeAwaitUp, and the mode it
	// had when it expired.
	mode        int32
	inPending   bool
	upFD        int
	expiredMode int32

	// stream is the HTTP/2 stream an event loop serves as this session
	// (Engine.inlineStream); ending the session ends the stream (Finish).
	stream *h2stream.Conn

	// cc is the clientConn that stays attached while a request waits for
	// its upstream or moves from the loop to a worker.
	cc *clientConn

	// writeRearm is when the client write deadline must be pushed forward
	// again: it is armed once per half idle_timeout, not per request.
	writeRearm time.Time
}

// newSession wraps a connection served by workers only (a TLS connection
// may hold decrypted bytes no epoll event announces).
func newSession(c net.Conn) *session {
	s := &session{c: c, fd: -1, upFD: -1, fresh: true, wheel: wheelLink{slot: -1}}
	s.isTLS = isTLSConn(c)
	s.peer = peerOf(c)
	return s
}

// isTLSConn reports a connection that came over TLS: a TLS connection,
// or an HTTP/2 stream of one.
func isTLSConn(c net.Conn) bool {
	switch c := c.(type) {
	case *tls.Conn:
		return true
	case interface{ IsTLS() bool }:
		return c.IsTLS()
	}
	return false
}

// protocol is the protocol a client speaks on a session.
type protocol uint8

const (
	protoH1   protocol = iota // HTTP/1.x (the request says which)
	protoH2                   // an HTTP/2 stream
	protocols                 // how many there are
)

// String is the protocol's name in metrics and the access log.
func (p protocol) String() string {
	if p == protoH2 {
		return "h2"
	}
	return "http1"
}

// peerOf returns c's remote address, IPv4-mapped addresses unmapped.
func peerOf(c net.Conn) netip.AddrPort {
	var ap netip.AddrPort
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr: // a TCP or TLS connection, an HTTP/2 stream of one: no text round trip
		ap = a.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return netip.AddrPort{}
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// newRawSession wraps a plain TCP socket accepted raw: event loops serve
// it through fd, workers through a net.Conn made when first needed.
func newRawSession(fd int, peer netip.AddrPort) *session {
	return &session{fd: fd, ownFD: true, peer: peer, upFD: -1, fresh: true, wheel: wheelLink{slot: -1}}
}

// parkable reports whether the session can wait in the epoll reactor.
func (s *session) parkable() bool { return s.fd >= 0 && !s.isTLS }

// closeConn closes the connection: its net.Conn if one was made, and the
// raw socket it owns.
func (s *session) closeConn() {
	if s.c != nil {
		s.c.Close()
	}
	if s.ownFD {
		unix.Close(s.fd)
	}
}

// tcp returns the connection as *net.TCPConn for splicing, or nil.
func (s *session) tcp() *net.TCPConn {
	tc, _ := s.c.(*net.TCPConn)
	return tc
}
