package proxy

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
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
	c     net.Conn
	isTCP bool
	isTLS bool
	fd    int // -1 when the connection cannot be parked
	peer  netip.AddrPort
	state atomic.Int32
	fresh bool // just accepted into a worker: data is expected, do not wait first
	wheel wheelLink

	registered bool // added to the epoll set

	raw  syscall.RawConn // nil when the connection cannot be parked
	loop *evLoop         // the event loop it is registered with, or nil

	// Guarded by loop.mu: what the session waits for, bytes seen while it
	// was busy, the upstream socket awaited in modeAwaitUp, and the mode it
	// had when it expired.
	mode        int32
	inPending   bool
	upFD        int
	expiredMode int32

	// cc is the clientConn that stays attached while a request waits for
	// its upstream or moves from the loop to a worker.
	cc *clientConn

	// writeRearm is when the client write deadline must be pushed forward
	// again: it is armed once per half idle_timeout, not per request.
	writeRearm time.Time
}

func newSession(c net.Conn) *session {
	s := &session{c: c, fd: -1, upFD: -1, fresh: true, wheel: wheelLink{slot: -1}}
	if tc, ok := c.(*net.TCPConn); ok {
		s.isTCP = true
		if raw, err := tc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { s.fd = int(fd) })
			s.raw = raw
		}
	}
	_, s.isTLS = c.(*tls.Conn)
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		s.peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return s
}

// parkable reports whether the session can wait in the epoll reactor: a
// plain TCP connection (a TLS connection may hold decrypted bytes).
func (s *session) parkable() bool { return s.fd >= 0 && !s.isTLS }

// tcp returns the connection as *net.TCPConn for splicing, or nil.
func (s *session) tcp() *net.TCPConn {
	tc, _ := s.c.(*net.TCPConn)
	return tc
}
