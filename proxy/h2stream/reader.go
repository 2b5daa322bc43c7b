package h2stream

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The client connection as the driver reads it.
//
// A cleartext connection is read through a buffer taken from a pool only
// when the socket has bytes to give (the wait for them runs without one);
// the driver feeds it to h2srv, which keeps a frame cut short, and gives
// it back at once: an idle connection holds none. A TLS connection is
// read into a pooled buffer too, but crypto/tls blocks inside Read, so
// an idle TLS connection holds one (crypto/tls holds record buffers of its
// own anyway).

// readBufSize is the read buffer of an HTTP/2 connection.
const readBufSize = 4 << 10

// source reads the client's bytes into borrowed buffers.
type source struct {
	nc   net.Conn
	raw  syscall.RawConn // nil: read nc (TLS)
	bufs *sync.Pool      // of *[]byte, readBufSize long
	pre  []byte          // read before the driver took over
}

func newSource(nc net.Conn, raw syscall.RawConn, pre []byte, bufs *sync.Pool) *source {
	return &source{nc: nc, raw: raw, bufs: bufs, pre: pre}
}

// rawConn returns the socket under nc, for reads that wait for bytes
// before taking a buffer and writes that must not wait; nil for TLS,
// whose records are the tls.Conn's to read and write.
func rawConn(nc net.Conn) syscall.RawConn {
	if _, isTLS := nc.(*tls.Conn); isTLS {
		return nil
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	if raw, err := sc.SyscallConn(); err == nil {
		return raw
	}
	return nil
}

// next waits for bytes from the client (honouring the read deadline) and
// returns them in buf, a buffer to give back with done; p is the bytes.
func (s *source) next() (p []byte, buf *[]byte, err error) {
	if len(s.pre) > 0 {
		p, s.pre = s.pre, nil
		return p, nil, nil
	}
	if s.raw == nil {
		buf = s.bufs.Get().(*[]byte)
		n, err := s.nc.Read(*buf)
		if n > 0 {
			return (*buf)[:n], buf, nil
		}
		s.bufs.Put(buf)
		return nil, nil, err
	}
	var n int
	var rerr error
	err = s.raw.Read(func(fd uintptr) bool {
		b := s.bufs.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *b)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			s.bufs.Put(b)
			return false // wait for the socket
		}
		if n > 0 {
			buf = b
		} else {
			s.bufs.Put(b)
		}
		return true
	})
	switch {
	case err != nil:
		return nil, nil, err // the deadline passed, or the connection was closed
	case rerr != nil:
		return nil, nil, &net.OpError{Op: "read", Net: "tcp", Source: s.nc.LocalAddr(), Addr: s.nc.RemoteAddr(), Err: rerr}
	case n == 0:
		return nil, nil, io.EOF
	}
	return (*buf)[:n], buf, nil
}

// done gives back a buffer next returned.
func (s *source) done(buf *[]byte) {
	if buf != nil {
		s.bufs.Put(buf)
	}
}
