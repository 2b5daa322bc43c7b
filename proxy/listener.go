package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// BindError reports that a listener could not be bound (exit code 2).
type BindError struct {
	Addr string
	Err  error
}

// Error names the address and the cause.
func (e *BindError) Error() string { return fmt.Sprintf("listen on %s: %v", e.Addr, e.Err) }

// Unwrap returns the listen error.
func (e *BindError) Unwrap() error { return e.Err }

// listenReusePort binds n listening sockets on addr with SO_REUSEPORT so
// the kernel spreads connections over n accept loops. n <= 0 means one per
// CPU. TCP_DEFER_ACCEPT wakes accept only when the first bytes arrived.
func listenReusePort(addr string, n int) ([]net.Listener, error) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	lc := net.ListenConfig{Control: controlListener}
	var out []net.Listener
	for i := 0; i < n; i++ {
		l, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, &BindError{Addr: addr, Err: err}
		}
		if i == 0 {
			addr = l.Addr().String() // ":0" binds the same port for all
		}
		out = append(out, l)
	}
	return out, nil
}

func controlListener(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		if serr == nil {
			// Best effort: not every kernel or socket supports it.
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// tlsListener wraps l so it speaks TLS 1.2+ with the config get returns
// for each handshake.
func tlsListener(l net.Listener, get func(*tls.ClientHelloInfo) (*tls.Config, error)) net.Listener {
	return tls.NewListener(l, &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: get})
}
