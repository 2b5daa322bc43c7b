package proxy

import (
	"time"

	"tollgate/proxy/http1"
	"tollgate/proxy/sock"
	"tollgate/upstream"
)

// Streaming a chunked request body to the upstream on the loop.
//
// After the head, whatever the client's buffer holds of a chunked body is
// decoded (http1.ChunkScanner), re-framed and written to the upstream at
// once, so a chunk followed by a pause reaches the upstream while the
// client still holds the rest; when the client has sent nothing more, the
// loop waits for it in its epoll set (modeAwaitBody) until the route's
// deadline. max_body_bytes is checked against each chunk's announced size
// before any of it is forwarded. An upstream whose socket takes no more
// is rare (loopback and LAN sockets buffer megabytes): a worker then goes
// on with the same steps, blocking. Once the last chunk is out, the loop
// waits for the response head as for any request.

// startUpload prepares to stream the chunked body of a request whose
// head waits in cc.scratch (what waits for the upstream).
func (cc *clientConn) startUpload() {
	cc.body = bodyStreamed
	cc.in.Reset(cc.r.Size())
	cc.inTotal, cc.inEnded = 0, false
	cc.stage = stageUpload
}

// uploadInline streams the chunked body on the loop.
func (cc *clientConn) uploadInline() loopAction {
	cc.startUpload()
	return cc.pumpUpload()
}

// pumpUpload forwards what can be forwarded without waiting, then says
// what to wait for.
func (cc *clientConn) pumpUpload() loopAction {
	for {
		f, err := cc.uploadStep()
		switch {
		case f != failNone:
			return cc.uploadFailed(f)
		case err == sock.ErrWouldBlock:
			return cc.handoff(stageUpload) // the upstream takes no more: a worker writes blocking
		case err != nil || cc.uploaded():
			cc.fs.werr, cc.fs.rh = err, cc.headDue(cc.rt, time.Now()) // response_header counts from here
			return cc.awaitHeadInline()
		}
		before := cc.r.Buffered()
		if _, err := cc.r.Peek(before + 1); err != nil && cc.r.Buffered() == before {
			if err == sock.ErrWouldBlock {
				return actAwaitBody
			}
			return cc.uploadFailed(failClientGone)
		}
	}
}

// uploadBlocking is pumpUpload on a worker: the client's reads wait until
// the route's deadline, the upstream's writes as its deadline allows. It
// returns a client-side failure, or the upstream write error.
func (cc *clientConn) uploadBlocking() (failure, error) {
	fs := &cc.fs
	cc.c.SetReadDeadline(fs.deadline)
	defer cc.c.SetReadDeadline(time.Time{})
	fs.conn.SetWriteDeadline(fs.deadline)
	for {
		f, err := cc.uploadStep()
		if f != failNone || err != nil || cc.uploaded() {
			return f, err
		}
		before := cc.r.Buffered()
		if _, err := cc.r.Peek(before + 1); err != nil && cc.r.Buffered() == before {
			return failClientGone, nil
		}
	}
}

// uploadStep decodes the chunks the client's buffer holds, appends them
// re-framed to what waits for the upstream, and writes that (on the loop
// without waiting: sock.ErrWouldBlock when the upstream takes no more).
// Everything buffered is decoded before anything is written, so a body
// that is malformed or too large in what has arrived sends nothing — not
// even the head, which waits in cc.scratch for the first chunks.
func (cc *clientConn) uploadStep() (failure, error) {
	b, _ := cc.r.Peek(cc.r.Buffered())
	used := 0
	max := cc.snap.Conf.Server.MaxBodyBytes
	for !cc.in.Done() {
		n, data, err := cc.in.Next(b[used:])
		if err != nil {
			return failBadRequest, nil
		}
		if n == 0 {
			break
		}
		used += n
		cc.inTotal += int64(len(data))
		if max > 0 && cc.inTotal+cc.in.Left() > max {
			return failBodyTooLarge, nil
		}
		cc.scratch = http1.AppendChunk(cc.scratch, data)
	}
	cc.r.Discard(used)
	if cc.in.Done() && !cc.inEnded {
		cc.scratch = append(cc.scratch, "0\r\n\r\n"...)
		cc.inEnded = true
	}
	if len(cc.scratch) == 0 {
		return failNone, nil
	}
	n, err := cc.writeUp(cc.fs.conn, cc.scratch)
	cc.scratch = cc.scratch[:copy(cc.scratch, cc.scratch[n:])]
	return failNone, err
}

// uploaded reports that the whole body went out.
func (cc *clientConn) uploaded() bool { return cc.inEnded && len(cc.scratch) == 0 }

// writeUp writes p to the upstream: on the loop without waiting.
func (cc *clientConn) writeUp(conn *upstream.Conn, p []byte) (int, error) {
	if cc.cio.nonblock {
		return conn.WriteNow(p)
	}
	return conn.Write(p)
}

// uploadFailed ends a try whose client failed mid-body (a bad chunk, too
// large, gone): the upstream connection is dropped and the client is
// answered (400, 413) or, if gone, let go.
func (cc *clientConn) uploadFailed(f failure) loopAction {
	cc.fs.f = f
	return cc.settleInline()
}

// awaitHeadInline waits on the loop, until fs.rh, for the response head
// of a request that is out (or whose sending failed: fs.werr).
func (cc *clientConn) awaitHeadInline() loopAction {
	fs := &cc.fs
	fs.conn.Sock.SetNonblocking(true)
	cc.stage, cc.nothingRead = stageAwait, true
	return actAwaitUpstream
}
