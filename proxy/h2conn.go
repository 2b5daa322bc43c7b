package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The client connection as x/net's HTTP/2 server reads it.
//
// The server reads a frame as two reads, its nine-byte header and then its
// payload, straight from the connection: a read(2) each, two per request
// for a client that sends one HEADERS frame a request. A cleartext
// connection is read here through a buffer instead, so one read(2) takes
// every frame that has arrived. The buffer is taken from a pool only when
// the socket has bytes to give (the wait for them runs without one) and
// goes back as soon as it is drained: an idle connection holds none.
//
// A TLS connection is left as it is: crypto/tls already reads whole
// records into a buffer of its own.

// h2ReadBufSize is the read buffer of an HTTP/2 cleartext connection.
const h2ReadBufSize = 4 << 10

// h2ReadBufs are the read buffers (*[]byte) HTTP/2 connections borrow.
type h2ReadBufs struct{ sync.Pool }

func newH2ReadBufs() *h2ReadBufs {
	p := &h2ReadBufs{}
	p.New = func() any { b := make([]byte, h2ReadBufSize); return &b }
	return p
}

// h2ClientConn returns c as the HTTP/2 server should read it, pre (the
// bytes already read: the preface, maybe frames) first.
func (e *Engine) h2ClientConn(c net.Conn, pre []byte) net.Conn {
	if tc, ok := c.(*tls.Conn); ok {
		if len(pre) == 0 {
			return c
		}
		return &prereadTLSConn{prereadConn: &prereadConn{Conn: c, pre: pre}, tc: tc}
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return &prereadConn{Conn: c, pre: pre}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return &prereadConn{Conn: c, pre: pre}
	}
	return &bufferedH2Conn{Conn: c, raw: raw, bufs: e.h2.readBufs, pre: pre, w: newBatchedWriter(c, &e.h2.writeBufs)}
}

// prereadConn is a connection whose first bytes were already read.
type prereadConn struct {
	net.Conn
	pre []byte
}

// Read returns the bytes read before, then reads the connection.
func (p *prereadConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// prereadTLSConn is a TLS prereadConn.
type prereadTLSConn struct {
	*prereadConn
	tc *tls.Conn
}

// ConnectionState returns the TLS connection's state.
func (p *prereadTLSConn) ConnectionState() tls.ConnectionState { return p.tc.ConnectionState() }

// bufferedH2Conn is a cleartext connection read through a borrowed buffer.
// Only the server's reading goroutine calls Read.
type bufferedH2Conn struct {
	net.Conn
	raw  syscall.RawConn
	bufs *h2ReadBufs
	pre  []byte  // read before the server took over
	buf  *[]byte // borrowed while it holds unread bytes
	r, n int     // (*buf)[r:n] is unread
	w    *batchedWriter
}

// Write queues p: see h2writer.go.
func (c *bufferedH2Conn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close closes the connection once what is queued is written (or a
// second has passed).
func (c *bufferedH2Conn) Close() error {
	c.w.drain()
	return c.Conn.Close()
}

// Read returns the bytes read before, then reads the connection through
// a buffer borrowed only while it holds unread bytes.
func (c *bufferedH2Conn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	if c.buf == nil {
		if len(p) >= h2ReadBufSize {
			return c.Conn.Read(p)
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*c.buf)[c.r:c.n])
	c.r += n
	if c.r == c.n {
		c.bufs.Put(c.buf)
		c.buf, c.r, c.n = nil, 0, 0
	}
	return n, nil
}

// fill waits until the socket is readable (honouring the read deadline)
// and reads what it holds into a borrowed buffer.
func (c *bufferedH2Conn) fill() error {
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		buf := c.bufs.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *buf)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			c.bufs.Put(buf)
			return false // wait for the socket
		}
		if n > 0 {
			c.buf, c.r, c.n = buf, 0, n
		} else {
			c.bufs.Put(buf)
		}
		return true
	})
	switch {
	case err != nil:
		return err // the deadline passed, or the connection was closed
	case rerr != nil:
		return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case n == 0:
		return io.EOF
	}
	return nil
}
