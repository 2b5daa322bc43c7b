package proxy

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// How the response body is framed towards the client.
type outFraming int

const (
	outNone    outFraming = iota // no body (HEAD, 204, 304)
	outLength                    // Content-Length
	outChunked                   // re-framed as chunks (HTTP/1.1 client)
	outClose                     // delimited by closing (HTTP/1.0 client)
)

// relay runs the response hooks, writes the response head to the client
// and streams the body; the upstream connection goes back to its pool
// when the whole response was read and the upstream keeps it open.
func (cc *clientConn) relay(snap *Snapshot, rt *routeRT, conn *upstream.Conn, t *upstream.Target) exchangeResult {
	p, q := &cc.p, &cc.q
	cc.respond(rt)
	cc.web.answerHead(p)
	res := exchangeResult{status: p.Status, target: t.Addr}
	if p.Status == 101 {
		return cc.tunnel(conn, res)
	}
	framing, keep := cc.responseFraming()
	cc.writeResponseHead(framing, keep)
	idle := snap.Conf.Server.IdleTimeout
	if !cc.bodyBuffered(conn, framing) {
		now := time.Now()
		conn.SetReadDeadline(now.Add(idle))
		cc.c.SetWriteDeadline(now.Add(idle))
		cc.s.writeRearm = time.Time{} // the next request re-arms the write deadline
	}
	n, upOK, err := cc.copyResponseBody(conn, framing, idle)
	res.bytes = n
	if !cc.finishDuplex() {
		upOK = false // the body did not go up whole: the connection cannot be reused
	}
	if upOK && !p.CloseAfter {
		conn.Release()
	} else {
		conn.Close()
	}
	if err != nil || !upOK {
		keep = false
	}
	q.KeepAlive = keep
	return res
}

// respond tells the upstream's answer to the adaptive limiter and runs
// the route's response hooks on its head.
func (cc *clientConn) respond(rt *routeRT) {
	p, x := &cc.p, &cc.x
	cc.e.observeUpstream(rt, time.Since(cc.start), p.Status >= 500)
	x.Response, x.Status = &p.Fields, p.Status
	rt.chain.RunResponse(x, len(rt.chain))
}

// responseFraming says how the body goes to the client and whether the
// client connection goes on after it.
func (cc *clientConn) responseFraming() (outFraming, bool) {
	framing := cc.outFraming()
	return framing, cc.q.KeepAlive && !cc.e.draining.Load() && framing != outClose
}

// bodyBuffered reports a response body that is already in the upstream
// reader's buffer: relaying it reads nothing from the network, and the
// client write only fills the buffered writer.
func (cc *clientConn) bodyBuffered(conn *upstream.Conn, framing outFraming) bool {
	return framing == outNone || (framing == outLength && cc.p.ContentLen <= int64(min(conn.R.Buffered(), writeBufSize)))
}

func (cc *clientConn) outFraming() outFraming {
	p, q := &cc.p, &cc.q
	switch {
	case p.Bodyless(q.IsHead()):
		return outNone
	case p.ContentLen >= 0 && !cc.web.reframes(p.ContentLen):
		return outLength
	case q.Minor == 1:
		return outChunked
	}
	return outClose
}

// writeResponseHead writes the upstream's head, minus hop-by-hop fields,
// plus headers queued by filters and the engine's own framing.
func (cc *clientConn) writeResponseHead(framing outFraming, keep bool) {
	p, w := &cc.p, cc.w
	http1.WriteStatusLine(w, p.Status, p.Reason())
	queued := cc.x.ResponseHeaders()
	for _, kv := range queued {
		if kv[0] != "Vary" { // Vary lists add up; others set by the gateway replace the upstream's
			p.Fields.Del(kv[0])
		}
	}
	http1.WriteFields(w, &p.Fields, p.Fields.Get("Connection"))
	for _, kv := range queued {
		http1.WriteField(w, kv[0], kv[1])
	}
	switch {
	case framing == outLength || (framing == outNone && p.ContentLen >= 0 && p.Status != 204):
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), p.ContentLen, 10))
		w.WriteString("\r\n")
	case framing == outChunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
		if p.Chunked { // its trailer fields follow the body: announce them
			http1.WriteTrailerNames(w, &p.Fields)
		}
	}
	http1.WriteConnection(w, keep, cc.q.Minor)
	w.WriteString("\r\n")
}

// copyResponseBody streams the body. upOK reports that the upstream's
// body was read completely (so its connection may be reused); err is a
// failure writing to the client. A large Content-Length rest is spliced;
// anything else is copied, what has arrived going to the client before
// the next read waits, each read and write re-arming idle_timeout.
func (cc *clientConn) copyResponseBody(conn *upstream.Conn, framing outFraming, idle time.Duration) (n int64, upOK bool, err error) {
	p := &cc.p
	switch {
	case framing == outNone:
		return 0, true, nil
	case p.ContentLen >= 0:
		if n, upOK, err, done := cc.spliceSized(conn, p.ContentLen); done {
			return n, upOK, err
		}
		cc.lr = io.LimitedReader{R: conn.R, N: p.ContentLen}
		return cc.copyAnswer(conn, &cc.lr, framing, idle)
	case p.Chunked:
		cc.cr.Reset(conn.R)
		return cc.copyAnswer(conn, &cc.cr, framing, idle)
	}
	return cc.copyAnswer(conn, conn.R, framing, idle)
}

// spliceSized splices a Content-Length body whose rest is large enough
// (done), after writing what the upstream reader holds.
func (cc *clientConn) spliceSized(conn *upstream.Conn, n int64) (written int64, upOK bool, err error, done bool) {
	upTCP, _ := conn.Conn.(*net.TCPConn)
	b := int64(conn.R.Buffered())
	if n <= spliceThreshold || cc.s.tcp() == nil || upTCP == nil || n-b <= spliceThreshold {
		return 0, false, nil, false
	}
	head, _ := conn.R.Peek(int(b))
	cc.w.Write(head)
	conn.R.Discard(int(b))
	if err := cc.w.Flush(); err != nil {
		return b, false, err, true
	}
	w, upFailed, err := cc.e.pipes.Splice(cc.s.tcp(), upTCP, n-b, cc.snap.Conf.Server.IdleTimeout, time.Time{})
	cc.e.metrics.splicedResp.Add(float64(w))
	if upFailed {
		return b + w, false, nil, true // the upstream failed: close the client, say nothing
	}
	return b + w, b+w == n, err, true
}

// copyAnswer relays the body src decodes from the upstream (a
// Content-Length body, a chunked one decoded, or one that ends with the
// upstream's close), framed for the client. Before a read that would wait
// for the upstream, what was written goes out. upOK: src ended where the
// body ends (a body ended by the close never lets its connection be
// reused); a read failure is the upstream's (the client is closed, told
// nothing); err is the client's.
func (cc *clientConn) copyAnswer(conn *upstream.Conn, src io.Reader, framing outFraming, idle time.Duration) (int64, bool, error) {
	in, out := cc.idleCopy(conn.Conn, src, idle)
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	var total int64
	for {
		if !cc.upstreamHasMore(conn) {
			if err := out.flush(); err != nil {
				return total, false, err
			}
		}
		n, rerr := in.Read(*buf)
		if n > 0 {
			total += int64(n)
			if werr := out.body(cc.web.downBody((*buf)[:n]), framing == outChunked); werr != nil {
				return total, false, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return total, cc.bodyEnded(framing, out), nil
		case rerr != nil:
			return total, false, nil
		}
	}
}

// upstreamHasMore reports that the next read of the body returns
// without waiting for the upstream.
func (cc *clientConn) upstreamHasMore(conn *upstream.Conn) bool {
	if cc.p.Chunked {
		return cc.cr.CanRead()
	}
	return conn.R.Buffered() > 0 && (cc.p.ContentLen < 0 || cc.lr.N > 0)
}

// bodyEnded ends the body for the client (the last chunk, with a
// chunked body's trailer fields) and reports whether the upstream's
// connection is whole: a Content-Length body read to its length, a
// chunked body to its last chunk; not a body ended by closing.
func (cc *clientConn) bodyEnded(framing outFraming, out *idleWriter) bool {
	var trailer []byte
	if cc.p.Chunked { // cc.cr decoded this body (not a request's)
		trailer = cc.cr.Trailer()
	}
	if cc.web.answer { // the trailers go as the body's last frame
		trailer = cc.web.endAnswer(out, framing, trailer)
	}
	if framing == outChunked {
		out.endChunks(trailer)
	}
	switch {
	case cc.p.Chunked:
		return true
	case cc.p.ContentLen >= 0:
		return cc.lr.N == 0
	}
	return false
}

// tunnel relays a 101 Switching Protocols answer and then copies bytes
// both ways until either side closes. The connection is not reused.
func (cc *clientConn) tunnel(conn *upstream.Conn, res exchangeResult) exchangeResult {
	p, w := &cc.p, cc.w
	defer conn.Close()
	cc.q.KeepAlive = false
	if !cc.q.Upgrade {
		return cc.replyFailure(nil, failBadResponse, 0)
	}
	http1.WriteStatusLine(w, 101, p.Reason())
	http1.WriteFields(w, &p.Fields, p.Fields.Get("Connection"))
	w.WriteString("Connection: Upgrade\r\nUpgrade: ")
	w.Write(p.Fields.Get("Upgrade"))
	w.WriteString("\r\n\r\n")
	var early, earlyUp int // bytes read with the heads, sent before the copies start
	if early = conn.R.Buffered(); early > 0 {
		pending, _ := conn.R.Peek(early)
		w.Write(pending)
	}
	if err := w.Flush(); err != nil {
		return res
	}
	if earlyUp = cc.r.Buffered(); earlyUp > 0 {
		pending, _ := cc.r.Peek(earlyUp)
		conn.Write(pending)
		cc.r.Discard(earlyUp)
	}
	cc.c.SetDeadline(time.Time{})
	conn.SetDeadline(time.Time{})
	down, up := cc.pipeBoth(conn.Conn)
	res.bytes, res.bytesUp = down+int64(early), up+int64(earlyUp)
	return res
}

// pipeBoth copies client↔upstream until one direction ends, then closes
// both so the other copy ends too. It returns the bytes copied each way.
func (cc *clientConn) pipeBoth(up net.Conn) (down, upBytes int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if v := recover(); v != nil {
				cc.e.log.Error("tunnel copy panicked", "panic", v)
			}
		}()
		n, _ := io.Copy(up, cc.c)
		upBytes = n
		cc.e.metrics.splicedTunnel.Add(float64(n))
		up.Close()
		cc.c.Close()
	}()
	down, _ = io.Copy(cc.c, up)
	cc.e.metrics.splicedTunnel.Add(float64(down))
	up.Close()
	cc.c.Close()
	wg.Wait()
	return down, upBytes
}

func (e *Engine) getUpWriter(w io.Writer) *bufio.Writer {
	uw := e.upWriters.Get().(*bufio.Writer)
	uw.Reset(w)
	return uw
}

func (e *Engine) putUpWriter(uw *bufio.Writer) {
	uw.Reset(nil)
	e.upWriters.Put(uw)
}
