package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"tollgate/internal/lograte"
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

// tlsListener wraps l so it speaks TLS 1.2+ (serverTLSConfig) with the
// config get returns for each handshake (servertls.go builds it from
// serverTLSConfig too, with the certificate and client-certificate
// settings of the current config).
func tlsListener(l net.Listener, get func(*tls.ClientHelloInfo) (*tls.Config, error)) net.Listener {
	base := serverTLSConfig(nil)
	base.GetConfigForClient = get
	return tls.NewListener(l, base)
}

// serverTLSConfig is the client listener's TLS: 1.2 and 1.3 only. On TLS
// 1.2 only forward-secret AEAD suites are offered (ECDHE with AES-GCM or
// ChaCha20-Poly1305), for RSA and ECDSA certificates, in Go's preference
// order: Go's defaults also offer CBC suites there, which scanners flag
// (LUCKY13) and no current client needs. TLS 1.3 suites are not
// configurable in Go and are all AEAD.
func serverTLSConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: get,
	}
}

// Accept backoff bounds, as net/http's server: the first pause after a
// failed accept, doubled on each failure in a row up to the last.
const (
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

// acceptBackoff paces one accept loop while accept(2) fails. Out of file
// descriptors (EMFILE, ENFILE), the listening socket stays readable and
// accept fails at once: without a pause the loop would spin on a CPU. It
// pauses from 5 ms, doubling up to 1 s, until an accept succeeds; each
// failure is counted (out of descriptors: tollgate_fd_exhausted_total
// {op="accept"}) and logged through a throttle shared by every loop. One
// per accept loop; not safe for concurrent use.
type acceptBackoff struct {
	listener  string // "client" or "admin", for the log
	log       *slog.Logger
	throttle  *lograte.Limiter
	exhausted prometheus.Counter
	pause     time.Duration
}

// failed handles an accept error: false when the listener was closed (the
// loop ends), else it counts, logs (throttled), pauses and returns true.
func (b *acceptBackoff) failed(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	b.pause = min(max(2*b.pause, minAcceptPause), maxAcceptPause)
	msg := "accept failed; retrying"
	if outOfFiles(err) {
		b.exhausted.Inc()
		msg = "out of file descriptors: accepting paused; connections wait in the listen queue"
	}
	if ok, _ := b.throttle.Allow(time.Now(), time.Second); ok {
		b.log.Warn(msg, "listener", b.listener, "err", err, "pause", b.pause.String())
	}
	time.Sleep(b.pause)
	return true
}

// accepted ends a run of failures.
func (b *acceptBackoff) accepted() { b.pause = 0 }

// backoffListener is a listener whose Accept pauses with an acceptBackoff
// instead of returning a failure other than the listener's close, for
// servers (the admin's net/http) that run their own accept loop.
type backoffListener struct {
	net.Listener
	b *acceptBackoff
}

// Accept returns the next connection, retrying failed accepts.
func (l *backoffListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.b.accepted()
			return c, nil
		}
		if !l.b.failed(err) {
			return nil, err
		}
	}
}
