package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// serveRaw serves a plain TCP listener's connections from the event
// loops as bare sockets: each accepted socket is taken out of Go's
// netpoller (its fd duplicated, the net.Conn closed), so the netpoller does
// not wake for the requests the loops serve; a loop blocked in epoll_wait
// is then the only thread that does. A worker that needs the connection
// makes a net.Conn again (sessionConn).
func (e *Engine) serveRaw(l *net.TCPListener) error {
	var lastWarn time.Time
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if e.acceptFailed(err, &lastWarn) {
				return nil
			}
			continue
		}
		s, err := rawSession(c)
		if err != nil {
			e.warnEverySecond(&lastWarn, "connection dropped", err)
			continue
		}
		if !e.track(s) {
			s.closeConn()
			continue
		}
		if e.reactor.adopt(s, e.snap.Load().Conf.Server.ReadHeaderTimeout) {
			continue // its loop serves it when the request arrives
		}
		e.dispatch(s)
	}
}

// rawSession turns an accepted connection into a session that owns a
// duplicate of its socket; c is closed (which takes it out of Go's
// netpoller). Go made the socket non-blocking, with TCP_NODELAY and
// keep-alive probes, when it accepted it.
func rawSession(c *net.TCPConn) (*session, error) {
	defer c.Close()
	var peer netip.AddrPort
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("client socket: %w", err)
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("client socket: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("dup client socket: %w", derr)
	}
	return newRawSession(fd, peer), nil
}

// sessionConn returns s's net.Conn, making it on first use for a session
// accepted raw: a duplicate of its socket, registered with Go's netpoller,
// that workers read and write with deadlines. The session keeps fd for its
// event loop; closing the session closes both. Once made, it stays.
func (e *Engine) sessionConn(s *session) (net.Conn, error) {
	if s.c != nil { // only the session's owner sets it
		return s.c, nil
	}
	if !s.ownFD {
		return nil, errors.New("session has no connection")
	}
	dup, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup client socket: %w", err)
	}
	f := os.NewFile(uintptr(dup), "client")
	c, err := net.FileConn(f) // a second duplicate, which the net.Conn owns
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("client socket as net.Conn: %w", err)
	}
	e.mu.Lock() // closeAll reads it under the lock
	s.c = c
	e.mu.Unlock()
	return c, nil
}
