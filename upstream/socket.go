package upstream

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DupSocket returns a close-on-exec duplicate of c's socket, which the
// caller owns. An event loop keeps such a descriptor for the life of a
// connection, whether or not a net.Conn is open on it too (see Conn; the
// engine does the same with client sockets).
func DupSocket(c syscall.Conn) (int, error) {
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
// raw system call, for an event loop (this package's and the engine's): it
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
