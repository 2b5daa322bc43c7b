package proxy

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// checkPortFree refuses to start on a port another socket already listens
// on, whichever process holds it. The gateway's own listeners share their
// port with SO_REUSEPORT, and so would a second tollgate's: without this
// check a second start on a busy port binds too and the kernel splits the
// traffic between the two processes. The check binds a probe socket
// without SO_REUSEPORT (SO_REUSEADDR only, so connections in TIME_WAIT do
// not count) and closes it at once, without listening: any socket
// listening on the address makes that bind fail with EADDRINUSE.
//
// Port 0 (any free port) needs no check. Sockets inherited from a parent
// process (a binary upgrade, Options.InheritedListeners) skip it: their
// port is busy by design.
func checkPortFree(addr string) error {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return &BindError{Addr: addr, Err: err}
	}
	if ta.Port == 0 {
		return nil
	}
	err = probeBind(ta)
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return &BindError{Addr: addr, Err: fmt.Errorf("port %d is already in use by another process "+
			"(tollgate never shares its port with another process): %w", ta.Port, err)}
	case err != nil:
		return &BindError{Addr: addr, Err: err}
	}
	return nil
}

// probeBind binds (and closes) a socket on ta the way net.Listen would:
// an unspecified address on a dual-stack IPv6 socket when the host has
// IPv6, else on IPv4.
func probeBind(ta *net.TCPAddr) error {
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return bindOnce(unix.AF_INET, sa, false)
	}
	sa := &unix.SockaddrInet6{Port: ta.Port}
	if ta.IP != nil {
		copy(sa.Addr[:], ta.IP.To16())
	}
	err := bindOnce(unix.AF_INET6, sa, ta.IP == nil || ta.IP.IsUnspecified())
	if ta.IP == nil && errors.Is(err, unix.EAFNOSUPPORT) {
		return bindOnce(unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port}, false)
	}
	return err
}

// bindOnce creates a TCP socket of family, binds it to sa with
// SO_REUSEADDR (and dual-stack when asked) and closes it.
func bindOnce(family int, sa unix.Sockaddr, dualStack bool) error {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("probe socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("probe socket: %w", err)
	}
	if dualStack {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0) // best effort, as net.Listen
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}
