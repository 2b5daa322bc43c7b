package sock

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dup returns a close-on-exec duplicate of c's socket, which the caller
// owns. An event loop keeps such a descriptor for the life of a
// connection, whether or not a net.Conn is open on it too.
func Dup(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if derr != nil {
		return -1, fmt.Errorf("dup socket: %w", derr)
	}
	return fd, nil
}

// NetConn returns a net.Conn on a duplicate of the socket fd, registered
// with Go's netpoller, for a goroutine that reads and writes it with
// deadlines; fd stays the caller's. For a TCP socket it is a *net.TCPConn.
func NetConn(fd int, name string) (net.Conn, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s socket: %w", name, err)
	}
	f := os.NewFile(uintptr(d), name)
	c, err := net.FileConn(f) // a second duplicate, which the net.Conn owns
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s socket as net.Conn: %w", name, err)
	}
	return c, nil
}

// RawIO is read(2) or write(2) (sysno) on the non-blocking socket fd as a
// raw system call, for an event loop: it
// never blocks, and the scheduler need not hand the loop's P to another
// thread meanwhile (with ordinary calls sysmon kept doing so under load,
// at the cost of thread wake-ups). EINTR is retried; on an error n is 0.
// len(p) > 0.
func RawIO(sysno uintptr, fd int, p []byte) (int, unix.Errno) {
	for {
		n, _, errno := unix.RawSyscall(sysno, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno == 0 {
			return int(n), 0
		}
		if errno != unix.EINTR {
			return 0, errno
		}
	}
}

// ErrWouldBlock is what Read returns when the socket has nothing yet, and
// WriteNow when it takes no more now.
var ErrWouldBlock = errors.New("socket: operation would block")

// Read is one non-blocking read(2) from fd: ErrWouldBlock when nothing
// has arrived, io.EOF when the peer closed its side.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno := RawIO(unix.SYS_READ, fd, p)
	switch {
	case errno == unix.EAGAIN:
		return 0, ErrWouldBlock
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// WriteNow writes p to fd with non-blocking write(2)s until it is all out
// or the socket takes no more (ErrWouldBlock, with how much went out).
func WriteNow(fd int, p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, errno := RawIO(unix.SYS_WRITE, fd, p[done:])
		switch {
		case errno == unix.EAGAIN:
			return done, ErrWouldBlock
		case errno != 0:
			return done, errno
		}
		done += n
	}
	return done, nil
}

// Linger is the middle of a lingering close (nginx's lingering_close):
// it shuts c's sending side — FIN, after TLS's close_notify, so what was
// written is delivered — then reads and drops what the peer still sends,
// for at most wait or max bytes. Closing with the peer's bytes unread
// would make the kernel reset the connection, and the peer could lose
// the answer (or GOAWAY) written last. The caller closes c after.
func Linger(c net.Conn, wait time.Duration, max int64) {
	cw, ok := c.(interface{ CloseWrite() error }) // a TCP or TLS connection, or one wrapping it
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(wait))
	io.Copy(io.Discard, io.LimitReader(c, max))
}
