package sock

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket is a connection's own duplicate of its socket, kept for the
// connection's whole life: an event loop reads and writes it directly,
// without waiting and without Go's netpoller, and a goroutine that must
// block gets a net.Conn on it (NetConn). Loops and Quiet are the event
// loops' bookkeeping: a bit per loop that has the socket in its epoll set,
// and per loop whose registration is disarmed; both start at 0.
//
// A Socket without a descriptor (OwnSocket failed, or the connection is
// not TCP) reports FD -1: such a connection is served by goroutines only.
type Socket struct {
	fd       int
	nonblock bool
	peek     [1]byte

	Loops, Quiet uint64
}

// OwnSocket duplicates c's socket into a Socket the caller owns (and must
// Close). On failure the Socket has no descriptor.
func OwnSocket(c syscall.Conn) Socket {
	fd, err := Dup(c)
	if err != nil {
		return Socket{fd: -1}
	}
	return Socket{fd: fd}
}

// NoSocket is the Socket of a connection that has no descriptor of its
// own (not TCP).
func NoSocket() Socket { return Socket{fd: -1} }

// FD returns the descriptor, or -1.
func (s *Socket) FD() int { return s.fd }

// SetNonblocking says whether reads go to the descriptor without waiting
// (an event loop waits for readiness itself); it stays off for a Socket
// without descriptor.
func (s *Socket) SetNonblocking(on bool) { s.nonblock = on && s.fd >= 0 }

// Nonblocking reports whether reads go to the descriptor without waiting.
func (s *Socket) Nonblocking() bool { return s.nonblock }

// Read is one non-blocking read (see the package's Read).
func (s *Socket) Read(p []byte) (int, error) { return Read(s.fd, p) }

// WriteNow writes without waiting (see the package's WriteNow).
func (s *Socket) WriteNow(p []byte) (int, error) { return WriteNow(s.fd, p) }

// NetConn returns a net.Conn on a further duplicate of the descriptor, for
// a goroutine; name labels errors.
func (s *Socket) NetConn(name string) (net.Conn, error) { return NetConn(s.fd, name) }

// Silent reports whether an idle connection's socket has nothing to read
// (a non-blocking MSG_PEEK finds EAGAIN): EOF means the peer closed it, an
// error that it was reset, and unsolicited bytes (a server's 408, say)
// that the stream is out of step. A Socket without descriptor is assumed
// fine.
func (s *Socket) Silent() bool {
	if s.fd < 0 {
		return true
	}
	for {
		// recvfrom(2) directly: unix.Recvfrom allocates its sockaddr.
		_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd),
			uintptr(unsafe.Pointer(&s.peek[0])), uintptr(len(s.peek)),
			unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		if errno != unix.EINTR {
			return errno == unix.EAGAIN
		}
	}
}

// Close closes the descriptor.
func (s *Socket) Close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}
