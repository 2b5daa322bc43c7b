package proxy

import (
	"net"

	"tollgate/proxy/h2stream"
	"tollgate/proxy/sock"
)

// clientIO is the client connection as the engine's buffered reader and
// writer see it. In loop mode reads and writes are non-blocking read(2)
// and write(2) calls on the session's socket, so the event loop never
// waits: a read that would block returns sock.ErrWouldBlock, and what a write
// cannot place in the socket now is kept in overflow, to be written by a
// goroutine that may wait. In goroutine mode both go through the net.Conn
// and honour its deadlines.
type clientIO struct {
	c        net.Conn
	fd       int
	stream   *h2stream.Conn // an HTTP/2 stream served on a loop: its reads and writes never wait
	nonblock bool
	// overflow[sent:] is what loop-mode writes could not place yet.
	overflow []byte
	sent     int
	// full: the last loop-mode read filled the buffer it was given, so the
	// socket may hold more, and no new edge-triggered event will say so.
	full bool
	// hup: the event that woke the loop said the peer closed its side.
	hup bool
}

// attach points the IO at s, in loop mode when s can be served by the loop.
func (cio *clientIO) attach(s *session, loop bool) {
	cio.c, cio.fd, cio.stream, cio.full, cio.hup = s.c, s.fd, s.stream, false, false
	cio.nonblock = loop && (s.parkable() || s.stream != nil)
}

func (cio *clientIO) detach() {
	cio.c, cio.fd, cio.stream, cio.nonblock = nil, -1, nil, false
	if cap(cio.overflow) > 64<<10 {
		cio.overflow = nil
	}
	cio.overflow, cio.sent = cio.overflow[:0], 0
}

// pending reports bytes a loop-mode write could not place yet (a
// stream's: bytes, or its answer's end, held for the client's window).
func (cio *clientIO) pending() bool {
	if cio.stream != nil {
		_, held := cio.stream.Held()
		return held
	}
	return len(cio.overflow) > cio.sent
}

// waiting returns how many bytes wait for the client's socket.
func (cio *clientIO) waiting() int {
	if cio.stream != nil {
		n, _ := cio.stream.Held()
		return n
	}
	return len(cio.overflow) - cio.sent
}

// block switches to goroutine mode.
func (cio *clientIO) block() {
	cio.nonblock = false
	if cio.stream != nil {
		cio.stream.SetNonblocking(false)
	}
}

// flushOverflow writes what loop-mode writes left behind, waiting as long
// as the write deadline allows. Goroutine mode only.
func (cio *clientIO) flushOverflow() error {
	if cio.stream != nil {
		return cio.stream.Flush()
	}
	if !cio.pending() {
		return nil
	}
	_, err := cio.c.Write(cio.overflow[cio.sent:])
	cio.overflow, cio.sent = cio.overflow[:0], 0
	return err
}

// flushNow writes what loop-mode writes left behind without waiting; what
// the socket does not take stays for later. Loop mode only.
func (cio *clientIO) flushNow() error {
	n, err := sock.WriteNow(cio.fd, cio.overflow[cio.sent:])
	cio.sent += n
	if cio.sent == len(cio.overflow) {
		cio.overflow, cio.sent = cio.overflow[:0], 0
	}
	if err == sock.ErrWouldBlock {
		return nil
	}
	return err
}

// Read implements cio.Reader.
func (cio *clientIO) Read(p []byte) (int, error) {
	if !cio.nonblock {
		return cio.c.Read(p)
	}
	var n int
	var err error
	if cio.stream != nil {
		n, err = cio.stream.Read(p)
	} else {
		n, err = sock.Read(cio.fd, p)
	}
	cio.full = err == nil && n == len(p)
	return n, err
}

// Write implements cio.Writer. In loop mode it never waits: bytes the
// socket does not take now are appended to overflow and reported written.
func (cio *clientIO) Write(p []byte) (int, error) {
	if !cio.nonblock {
		if err := cio.flushOverflow(); err != nil {
			return 0, err
		}
		return cio.c.Write(p)
	}
	if cio.stream != nil { // it holds what the client's window does not take
		return cio.stream.Write(p)
	}
	if cio.pending() {
		if cio.sent > len(cio.overflow)/2 { // most was sent: move the rest down before growing
			cio.overflow = cio.overflow[:copy(cio.overflow, cio.overflow[cio.sent:])]
			cio.sent = 0
		}
		cio.overflow = append(cio.overflow, p...)
		return len(p), nil
	}
	done, err := sock.WriteNow(cio.fd, p)
	if err != nil && err != sock.ErrWouldBlock {
		return done, err
	}
	cio.overflow = append(cio.overflow, p[done:]...)
	return len(p), nil
}
