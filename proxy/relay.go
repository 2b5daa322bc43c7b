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
	case p.ContentLen >= 0:
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
	}
	http1.WriteConnection(w, keep, cc.q.Minor)
	w.WriteString("\r\n")
}

// copyResponseBody streams the body. upOK reports that the upstream's
// body was read completely (so its connection may be reused); err is a
// failure writing to the client.
func (cc *clientConn) copyResponseBody(conn *upstream.Conn, framing outFraming, idle time.Duration) (n int64, upOK bool, err error) {
	p := &cc.p
	switch {
	case framing == outNone:
		return 0, true, nil
	case p.ContentLen >= 0:
		return cc.copySized(conn, p.ContentLen)
	case p.Chunked:
		return cc.copyChunkedResponse(conn, framing)
	}
	return cc.copyUntilClose(conn, framing)
}

// copySized relays a Content-Length body; large remainders are spliced.
func (cc *clientConn) copySized(conn *upstream.Conn, n int64) (int64, bool, error) {
	upTCP, _ := conn.Conn.(*net.TCPConn)
	b := int64(conn.R.Buffered())
	if n > spliceThreshold && cc.s.tcp() != nil && upTCP != nil && n-b > spliceThreshold {
		head, _ := conn.R.Peek(int(b))
		cc.w.Write(head)
		conn.R.Discard(int(b))
		if err := cc.w.Flush(); err != nil {
			return b, false, err
		}
		w, upFailed, err := cc.e.pipes.Splice(cc.s.tcp(), upTCP, n-b, cc.snap.Conf.Server.IdleTimeout, time.Time{})
		cc.e.metrics.splicedResp.Add(float64(w))
		if upFailed {
			return b + w, false, nil // the upstream failed: close the client, say nothing
		}
		return b + w, b+w == n, err
	}
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	src := cc.limitedSource(conn.R, n)
	cc.wo = writerOnly{cc.w}
	w, err := io.CopyBuffer(&cc.wo, src, *buf)
	if src.err != nil || w < n {
		return w, false, err
	}
	return w, true, err
}

func (cc *clientConn) copyChunkedResponse(conn *upstream.Conn, framing outFraming) (int64, bool, error) {
	cc.cr.Reset(conn.R)
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	if framing == outChunked {
		n, err := http1.CopyChunked(cc.w, &cc.cr, *buf)
		if err != nil && cc.cr.Err() != nil && cc.cr.Err() != io.EOF {
			return n, false, nil
		}
		return n, err == nil, err
	}
	src := &readTagger{r: &cc.cr}
	n, err := io.CopyBuffer(writerOnly{cc.w}, src, *buf)
	return n, src.err == nil, err
}

func (cc *clientConn) copyUntilClose(conn *upstream.Conn, framing outFraming) (int64, bool, error) {
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	var total int64
	for {
		n, rerr := conn.R.Read(*buf)
		if n > 0 {
			total += int64(n)
			var werr error
			if framing == outChunked {
				werr = http1.WriteChunk(cc.w, (*buf)[:n])
			} else {
				_, werr = cc.w.Write((*buf)[:n])
			}
			if werr != nil {
				return total, false, werr
			}
		}
		if rerr == io.EOF {
			if framing == outChunked {
				cc.w.WriteString("0\r\n\r\n")
			}
			return total, false, nil
		}
		if rerr != nil {
			return total, false, nil
		}
	}
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
	if b := conn.R.Buffered(); b > 0 {
		pending, _ := conn.R.Peek(b)
		w.Write(pending)
	}
	if err := w.Flush(); err != nil {
		return res
	}
	if b := cc.r.Buffered(); b > 0 {
		pending, _ := cc.r.Peek(b)
		conn.Write(pending)
		cc.r.Discard(b)
	}
	cc.c.SetDeadline(time.Time{})
	conn.SetDeadline(time.Time{})
	res.bytes = cc.pipeBoth(conn.Conn)
	return res
}

// pipeBoth copies client↔upstream until one direction ends, then closes
// both so the other copy ends too.
func (cc *clientConn) pipeBoth(up net.Conn) int64 {
	var wg sync.WaitGroup
	var down int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if v := recover(); v != nil {
				cc.e.log.Error("tunnel copy panicked", "panic", v)
			}
		}()
		n, _ := io.Copy(up, cc.c)
		cc.e.metrics.splicedTunnel.Add(float64(n))
		up.Close()
		cc.c.Close()
	}()
	down, _ = io.Copy(cc.c, up)
	cc.e.metrics.splicedTunnel.Add(float64(down))
	up.Close()
	cc.c.Close()
	wg.Wait()
	return down
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
