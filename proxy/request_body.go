package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"

	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// sendRequest writes the head and body. A request whose whole body is
// already buffered goes out in one write and stays replayable.
func (cc *clientConn) sendRequest(rt *routeRT, conn *upstream.Conn, deadline time.Time) error {
	q := &cc.q
	if cc.body == bodyInHead { // a retry: the request is whole in cc.scratch
		return cc.writeHead(conn)
	}
	if cc.body == bodyGathered && cc.web.decodesBody() {
		if err := cc.decodeGathered(); err != nil {
			return err
		}
	}
	cc.scratch = cc.appendRequestHead(cc.scratch[:0], rt)
	if cc.body == bodyGathered { // read whole on the loop: one write, replayable
		cc.scratch = append(cc.scratch, cc.gathered...)
		cc.body = bodyInHead
		return cc.writeHead(conn)
	}
	if q.HasBody() {
		if err := cc.sendContinue(); err != nil {
			return &clientError{failClientGone, err}
		}
	}
	if cc.cio.nonblock { // on the event loop: a sized body is buffered whole (bodyAtHand)
		if q.Chunked {
			return nil // the head leaves with the first chunks (upload.go)
		}
		if q.HasBody() {
			cc.appendBufferedBody(q.ContentLen)
		}
		return cc.writeHead(conn)
	}
	if !q.HasBody() {
		_, err := conn.Write(cc.scratch)
		return err
	}
	if cc.duplex() {
		return cc.startDuplex(conn)
	}
	cc.c.SetReadDeadline(deadline)
	defer cc.c.SetReadDeadline(time.Time{})
	if q.Chunked {
		return cc.sendChunkedBody(conn)
	}
	return cc.sendSizedBody(conn)
}

// sendContinue answers Expect: 100-continue, once, when the client has
// sent none of its body yet (it waits for the answer before sending).
func (cc *clientConn) sendContinue() error {
	if !cc.q.Expect100 || cc.sent100 || cc.r.Buffered() > 0 {
		return nil
	}
	cc.sent100 = true
	cc.w.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return cc.w.Flush()
}

// writeHead writes cc.scratch (a head, with the whole body if any): on
// the loop without waiting, else as the connection allows.
func (cc *clientConn) writeHead(conn *upstream.Conn) error {
	if cc.cio.nonblock {
		_, err := conn.WriteNow(cc.scratch)
		return err
	}
	_, err := conn.Write(cc.scratch)
	return err
}

// sendSizedBody sends a Content-Length body: what is buffered rides with
// the head; the rest is spliced socket to socket or copied.
func (cc *clientConn) sendSizedBody(conn *upstream.Conn) error {
	if cc.web.decodesBody() {
		return cc.sendTextBody(conn)
	}
	n := cc.q.ContentLen
	b := cc.appendBufferedBody(n)
	if b == n {
		_, err := conn.Write(cc.scratch)
		return err
	}
	cc.body = bodyStreamed
	if _, err := conn.Write(cc.scratch); err != nil {
		return err
	}
	return cc.copyBody(conn, n-b)
}

// appendBufferedBody moves what the client buffer holds of a body of n
// bytes behind the head in cc.scratch, and returns how much that was. A
// whole body there makes the request replayable (bodyInHead).
func (cc *clientConn) appendBufferedBody(n int64) int64 {
	b := min(int64(cc.r.Buffered()), n)
	buffered, _ := cc.r.Peek(int(b))
	cc.scratch = append(cc.scratch, buffered...)
	cc.r.Discard(int(b))
	if b == n {
		cc.body = bodyInHead
	}
	return b
}

// copyBody moves n body bytes from the client to the upstream.
func (cc *clientConn) copyBody(conn *upstream.Conn, n int64) error {
	upTCP, _ := conn.Conn.(*net.TCPConn)
	if n > spliceThreshold && cc.s.tcp() != nil && upTCP != nil && cc.r.Buffered() == 0 {
		w, clientFailed, err := cc.e.pipes.Splice(upTCP, cc.s.tcp(), n, cc.snap.Conf.Server.IdleTimeout, cc.fs.deadline)
		cc.e.metrics.splicedRequest.Add(float64(w))
		if clientFailed {
			return &clientError{failClientGone, io.ErrUnexpectedEOF}
		}
		return err
	}
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	src := cc.limitedSource(cc.r, n)
	cc.wo = writerOnly{conn}
	w, err := io.CopyBuffer(&cc.wo, src, *buf)
	if src.err != nil || (err == nil && w < n) {
		return &clientError{failClientGone, io.ErrUnexpectedEOF}
	}
	return err
}

// sendChunkedBody decodes the client's chunked body and re-frames it,
// enforcing max_body_bytes. Each chunk is forwarded as it arrives: the
// upstream writer is flushed whenever the next read would wait for the
// client, so chunks that came together leave in one write and a chunk
// followed by a pause leaves at once.
func (cc *clientConn) sendChunkedBody(conn *upstream.Conn) error {
	cc.body = bodyStreamed
	uw := cc.e.getUpWriter(conn)
	defer cc.e.putUpWriter(uw)
	uw.Write(cc.scratch)
	return cc.copyChunks(uw, &cc.cr, nil)
}

// copyChunks forwards the chunked body, decoded by cr, after the head
// already in uw; beforeRead, when set, runs before each read of the client.
func (cc *clientConn) copyChunks(uw *bufio.Writer, cr *http1.ChunkedReader, beforeRead func()) error {
	cr.Reset(cc.r)
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	max := cc.snap.Conf.Server.MaxBodyBytes
	var total int64
	for {
		if !cr.CanRead() {
			if err := uw.Flush(); err != nil {
				return err
			}
		}
		if beforeRead != nil {
			beforeRead()
		}
		n, err := cr.Read(*buf)
		total += int64(n)
		// A chunk whose announced size passes the limit is refused before
		// any of it is forwarded.
		if max > 0 && (total > max || err == nil && total+cr.Left() > max) {
			return &clientError{failBodyTooLarge, errBodyTooLarge}
		}
		if n > 0 {
			data, derr := cc.web.upBody((*buf)[:n])
			if derr != nil {
				return derr
			}
			if werr := http1.WriteChunk(uw, data); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			if derr := cc.web.upEnd(); derr != nil {
				return derr
			}
			uw.WriteString("0\r\n\r\n")
			return uw.Flush()
		}
		if err != nil {
			if errors.Is(err, http1.ErrBadChunk) {
				return &clientError{failBadRequest, err}
			}
			return &clientError{failClientGone, err}
		}
	}
}

// readTagger remembers the error of the reader it wraps, so a copy can
// tell a client read failure from an upstream write failure.
type readTagger struct {
	r   io.Reader
	err error
}

// limitedSource returns the connection's reusable tagged reader over the
// next n bytes of r.
func (cc *clientConn) limitedSource(r io.Reader, n int64) *readTagger {
	cc.lr = io.LimitedReader{R: r, N: n}
	cc.tag = readTagger{r: &cc.lr}
	return &cc.tag
}

// Read reads from the wrapped reader and remembers a failure.
func (t *readTagger) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}
