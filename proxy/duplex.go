package proxy

import (
	"time"

	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// Full-duplex bodies. A gRPC call, or any request of unknown length from
// an HTTP/2 stream, may get its answer while its body is still coming:
// a bidirectional stream's messages interleave both ways, and a server
// may answer before the client's last message. For such a request the
// worker sends the head, then hands the chunked body to a goroutine of
// its own (the upload) and reads the answer at once; the answer streams
// back while the body streams up. The upload reads the client with
// idle_timeout re-armed on each read (not the route timeout: a stream may
// last as long as it moves) and writes to the upstream connection the
// try holds. The exchange waits for the upload before its upstream
// connection is released or closed and before it ends (stopDuplex): an
// upload still running then is stopped by expiring the client read. The
// body is streamed, so the request is never replayed.

// duplexUpload is the upload of one request.
type duplexUpload struct {
	done chan struct{}
	err  error
	cr   http1.ChunkedReader // its own: the answer's relay decodes with cc.cr meanwhile
}

// duplex reports a request whose body streams up while its answer
// streams down: a chunked body served by a worker, of a gRPC call or an
// HTTP/2 stream.
func (cc *clientConn) duplex() bool {
	q := &cc.q
	return q.Chunked && !cc.cio.nonblock && (cc.s.proto == protoH2 || isGRPC(q.Fields.Get("Content-Type")))
}

// startDuplex sends the head and starts the upload of the body. The head
// leaves before the answer is awaited: an HTTP/2 upstream's stream starts
// with it.
func (cc *clientConn) startDuplex(conn *upstream.Conn) error {
	cc.body = bodyStreamed
	uw := cc.e.getUpWriter(conn)
	uw.Write(cc.scratch)
	if err := uw.Flush(); err != nil {
		cc.e.putUpWriter(uw)
		return err
	}
	up := &duplexUpload{done: make(chan struct{})}
	cc.up = up
	idle := cc.snap.Conf.Server.IdleTimeout
	go func() {
		defer close(up.done)
		defer cc.e.putUpWriter(uw)
		up.err = cc.copyChunks(uw, &up.cr, func() { cc.c.SetReadDeadline(time.Now().Add(idle)) })
		if up.err != nil {
			conn.SetReadDeadline(time.Unix(1, 0)) // a wait for the answer ends now (settleTry says why)
		}
	}()
	return nil
}

// finishDuplex waits for the upload once the answer is whole and reports
// whether the upstream connection may be reused (the body went up whole).
func (cc *clientConn) finishDuplex() bool {
	up := cc.up
	if up == nil {
		return true
	}
	cc.stopDuplex()
	return up.err == nil
}

// stopDuplex ends the upload, if one runs: a client read it waits on
// fails at once. It returns when the upload's goroutine is done, with the
// failure of a client body that failed on its own (failNone otherwise).
func (cc *clientConn) stopDuplex() failure {
	up := cc.up
	if up == nil {
		return failNone
	}
	stopped := false
	select {
	case <-up.done:
	default:
		stopped = true
		cc.c.SetReadDeadline(time.Unix(1, 0))
		<-up.done
	}
	cc.c.SetReadDeadline(time.Time{})
	cc.up = nil
	if ce, ok := up.err.(*clientError); ok && !stopped {
		return ce.f
	}
	return failNone
}
