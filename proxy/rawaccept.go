package proxy

import (
	"errors"
	"fmt"
	"net"

	"tollgate/proxy/sock"
)

// rawSession turns an accepted plain TCP connection into a session its
// event loop serves as a bare socket: the session owns a duplicate of the
// socket and c is closed, which takes the socket out of Go's netpoller, so
// the netpoller does not wake for the requests the loop serves (a loop
// blocked in epoll_wait is then the only thread that does). A worker that
// needs the connection makes a net.Conn again (sessionConn). Go made the
// socket non-blocking, with TCP_NODELAY and keep-alive probes, when it
// accepted it. Out of file descriptors for the duplicate, the connection
// is served by workers through c instead (newSession), so that it is
// answered — 503 if its request needs an upstream socket — not dropped.
func rawSession(c *net.TCPConn) (*session, error) {
	fd, err := sock.Dup(c)
	if err != nil {
		if outOfFiles(err) {
			return newSession(c), nil
		}
		c.Close()
		return nil, fmt.Errorf("client: %w", err)
	}
	c.Close()
	return newRawSession(fd, peerOf(c)), nil
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
	c, err := sock.NetConn(s.fd, "client")
	if err != nil {
		return nil, err
	}
	e.mu.Lock() // closeAll reads it under the lock
	s.c = c
	e.mu.Unlock()
	return c, nil
}
