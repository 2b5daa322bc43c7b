package proxy

import (
	"bufio"
	"io"
	"net"
	"time"

	"tollgate/proxy/http1"
)

// Inactivity on a worker's relay.
//
// A worker relaying a response body re-arms the upstream's read deadline
// before every read and the client's write deadline before every write,
// to idle_timeout from then: a body that keeps moving is never cut, one
// that stops moving is cut after idle_timeout of silence — as on the
// loop, whose timing wheel counts from the last progress.

// idleReader reads from r, re-arming c's read deadline before each read.
type idleReader struct {
	r    io.Reader
	c    net.Conn
	idle time.Duration
}

// Read arms the deadline and reads.
func (ir *idleReader) Read(p []byte) (int, error) {
	ir.c.SetReadDeadline(time.Now().Add(ir.idle))
	return ir.r.Read(p)
}

// idleWriter writes body bytes to the client's buffered writer w,
// re-arming c's write deadline before each write.
type idleWriter struct {
	w    *bufio.Writer
	c    net.Conn
	idle time.Duration
}

func (iw *idleWriter) arm() { iw.c.SetWriteDeadline(time.Now().Add(iw.idle)) }

// body writes p, as one chunk when chunked.
func (iw *idleWriter) body(p []byte, chunked bool) error {
	iw.arm()
	if chunked {
		return http1.WriteChunk(iw.w, p)
	}
	_, err := iw.w.Write(p)
	return err
}

// endChunks writes the last chunk and the trailer fields (as
// http1.ChunkedReader.Trailer gives them).
func (iw *idleWriter) endChunks(trailer []byte) {
	iw.arm()
	http1.WriteLastChunk(iw.w, trailer)
}

// flush writes out what is buffered.
func (iw *idleWriter) flush() error {
	if iw.w.Buffered() == 0 {
		return nil
	}
	iw.arm()
	return iw.w.Flush()
}

// idleCopy points the connection's idle reader at the upstream's body and
// its idle writer at the client, for one relay.
func (cc *clientConn) idleCopy(up net.Conn, from io.Reader, idle time.Duration) (*idleReader, *idleWriter) {
	cc.inR = idleReader{r: from, c: up, idle: idle}
	cc.outW = idleWriter{w: cc.w, c: cc.c, idle: idle}
	return &cc.inR, &cc.outW
}
