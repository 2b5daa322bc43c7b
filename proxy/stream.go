package proxy

import (
	"bufio"
	"io"
	"time"

	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// Relaying a response body on the event loop.
//
// Once the response head is written, the loop moves the body as it
// comes: whatever the upstream reader holds goes to the client writer
// (Content-Length bodies as they are, chunked bodies decoded by a
// ChunkScanner, bodies that end with the upstream's close as they arrive;
// re-framed in chunks for an HTTP/1.1 client when the length is unknown,
// each chunk sent as soon as it is read, a chunked body's trailer fields
// after the last one), the
// writer is flushed without waiting, and only then is the upstream read
// again. A client that does not take what was written (the socket is
// full) stops the reading: the loop waits for the client's socket to
// drain (EPOLLOUT), so a connection holds at most about two buffers —
// unless the rest of a Content-Length body fits server.buffers.response_body
// (and the engine's buffer budget): then the loop reads it whole from the
// upstream while the client catches up, and the upstream connection goes
// back to its pool at once (a slow reader holds memory, not a
// connection). The upstream's silence is waited for in the loop's epoll
// set. Either wait lasts at most server.idle_timeout without progress; a
// stream that keeps moving is never cut. A worker that takes over (the loop stopped) goes
// on with the same code, blocking.

// stream is the progress of a response body through the loop.
type stream struct {
	framing outFraming // how the client gets the body
	left    int64      // Content-Length bytes still to relay
	chunked bool       // the upstream frames the body in chunks (sc decodes them)
	toEOF   bool       // the upstream ends the body by closing
	sc      http1.ChunkScanner
	n       int64 // body bytes relayed
	keep    bool  // the client connection goes on after the body
	absorb  bool  // the rest is read whole while the client catches up
	target  string
}

// streamable reports a response the loop relays itself: any but a tunnel
// (101) and a Content-Length body whose rest is large enough to splice
// and too large to read whole.
func (cc *clientConn) streamable(conn *upstream.Conn) bool {
	p := &cc.p
	if p.Status == 101 {
		return false
	}
	rest := p.ContentLen - int64(conn.R.Buffered())
	return cc.outFraming() != outLength || rest <= spliceThreshold || rest <= cc.snap.Conf.Server.Buffers.ResponseBody
}

// relayInline writes the response head and starts relaying the body from
// the try's connection (cc.fs.conn) on the loop.
func (cc *clientConn) relayInline() loopAction {
	fs, p := &cc.fs, &cc.p
	cc.respond(cc.rt)
	framing, keep := cc.responseFraming()
	cc.writeResponseHead(framing, keep)
	cc.out = stream{framing: framing, left: p.ContentLen, keep: keep, target: fs.t.Addr,
		chunked: p.Chunked, toEOF: framing != outNone && !p.Chunked && p.ContentLen < 0,
		sc: cc.out.sc} // the scanner keeps its trailer buffer
	cc.out.sc.Reset(fs.conn.R.Size())
	cc.stage = stageRelay
	return cc.pump()
}

// pump relays what can be relayed without waiting, then says what to wait
// for: the upstream (more body) or the client (a full socket).
func (cc *clientConn) pump() loopAction {
	r := cc.fs.conn.R
	for {
		done, err := cc.relayBuffered(r)
		if err != nil || done {
			return cc.endInline(cc.snap, cc.rt, cc.endStream(err == nil), false)
		}
		if err := cc.w.Flush(); err != nil {
			return cc.endInline(cc.snap, cc.rt, cc.endStream(false), false)
		}
		if cc.cio.pending() && !cc.absorbing() {
			return actAwaitClient
		}
		before := r.Buffered()
		if _, err := r.Peek(before + 1); err != nil && r.Buffered() == before {
			if err == upstream.ErrWouldBlock {
				return actAwaitUpstream
			}
			return cc.endInline(cc.snap, cc.rt, cc.streamStopped(err), false)
		}
	}
}

// absorbing reports that the loop reads the rest of the body while the
// client is behind: a Content-Length body whose rest, with what waits for
// the client, fits server.buffers.response_body and the buffer budget.
func (cc *clientConn) absorbing() bool {
	out := &cc.out
	if out.absorb {
		return true
	}
	if out.chunked || out.toEOF || out.framing == outNone {
		return false // a stream: its pace is the client's
	}
	rest := out.left + int64(cc.cio.waiting())
	out.absorb = rest <= cc.snap.Conf.Server.Buffers.ResponseBody && cc.reserveBody(rest)
	return out.absorb
}

// pumpBlocking is pump on a worker: reads and writes wait, each for at
// most idle_timeout.
func (cc *clientConn) pumpBlocking() exchangeResult {
	conn := cc.fs.conn
	idle := cc.snap.Conf.Server.IdleTimeout
	for {
		done, err := cc.relayBuffered(conn.R)
		if err != nil || done {
			return cc.endStream(err == nil)
		}
		now := time.Now()
		cc.c.SetWriteDeadline(now.Add(idle))
		if err := cc.w.Flush(); err != nil {
			return cc.endStream(false)
		}
		conn.SetReadDeadline(now.Add(idle))
		before := conn.R.Buffered()
		if _, err := conn.R.Peek(before + 1); err != nil && conn.R.Buffered() == before {
			return cc.streamStopped(err)
		}
	}
}

// relayBuffered moves the body bytes r holds to the client writer, framed
// for the client, and reports whether the body is complete (a body that
// ends with the upstream's close is complete only then); err is a
// malformed chunked body.
func (cc *clientConn) relayBuffered(r *bufio.Reader) (done bool, err error) {
	out := &cc.out
	switch {
	case out.framing == outNone:
		return true, nil
	case out.chunked:
		for !out.sc.Done() {
			b, _ := r.Peek(r.Buffered())
			n, data, err := out.sc.Next(b)
			if err != nil {
				return false, err
			}
			if n == 0 {
				return false, nil
			}
			cc.writeBody(data)
			r.Discard(n)
		}
		cc.endOfBody()
		return true, nil
	case out.toEOF:
		b, _ := r.Peek(r.Buffered())
		cc.writeBody(b)
		r.Discard(len(b))
		return false, nil
	}
	if k := int(min(out.left, int64(r.Buffered()))); k > 0 {
		b, _ := r.Peek(k)
		cc.writeBody(b)
		r.Discard(k)
		out.left -= int64(k)
	}
	return out.left == 0, nil
}

// writeBody writes body bytes to the client writer as the client's
// framing wants them: a chunk, or as they are.
func (cc *clientConn) writeBody(data []byte) {
	if len(data) == 0 {
		return
	}
	cc.out.n += int64(len(data))
	if cc.out.framing == outChunked {
		http1.WriteChunk(cc.w, data)
		return
	}
	cc.w.Write(data)
}

// endOfBody writes the last chunk when the client gets chunks, with the
// upstream's trailer fields when its body was chunked (the scanner kept
// them, forbidden fields left out).
func (cc *clientConn) endOfBody() {
	if cc.out.framing == outChunked {
		http1.WriteLastChunk(cc.w, cc.out.sc.Trailer())
	}
}

// streamStopped ends the relay when the upstream has no more to give
// (err: EOF or a failure): the end of a body that ends with the upstream's
// close, or a body cut short.
func (cc *clientConn) streamStopped(err error) exchangeResult {
	if cc.out.toEOF && err == io.EOF {
		cc.endOfBody()
		cc.w.Flush()
		return cc.endStream(true)
	}
	return cc.endStream(false)
}

// endStream ends the relay: the upstream connection goes back to its pool
// when the whole body was read (ok) and the upstream keeps it open (not
// after a body it ended by closing); the client's stays open when the body
// was whole and keep-alive applies.
func (cc *clientConn) endStream(ok bool) exchangeResult {
	conn := cc.fs.conn
	cc.fs.conn = nil
	conn.Sock.SetNonblocking(false)
	if ok && !cc.p.CloseAfter && !cc.out.toEOF {
		conn.Release()
	} else {
		conn.Close()
	}
	cc.q.KeepAlive = cc.out.keep && ok
	return exchangeResult{status: cc.p.Status, bytes: cc.out.n, target: cc.out.target}
}

// clientWritable goes on when the client's socket took bytes again.
func (cc *clientConn) clientWritable() loopAction {
	if err := cc.cio.flushNow(); err != nil {
		if cc.stage == stageRelay {
			return cc.endInline(cc.snap, cc.rt, cc.endStream(false), false)
		}
		return actClose
	}
	if cc.cio.pending() {
		return actAwaitClient
	}
	if cc.stage == stageRelay {
		return cc.pump()
	}
	if !cc.keep { // stageFlush: the answer is out
		return actClose
	}
	return actNext
}
