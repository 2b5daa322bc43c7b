package proxy

import (
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"tollgate/router"
	"tollgate/upstream"
)

// failRetryStatus marks a response whose status is listed in retries.on
// and that will be retried; it never reaches the client.
const failRetryStatus = failure(-1)

// bodyState tracks how much of the request body left the client buffer,
// which decides whether the request can be sent again.
type bodyState int

const (
	bodyUnsent   bodyState = iota // nothing read from the client yet
	bodyInHead                    // the whole body is in cc.scratch with the head
	bodyStreamed                  // body bytes were streamed: no replay
)

// forward sends the request to the route's upstream, retrying where the
// route allows, and relays the response. Each try is reported to its
// target's breaker. A response whose status is in retries.on is held until
// the retry's target is picked, and relayed when no retry can happen.
func (cc *clientConn) forward(snap *Snapshot, rt *routeRT) exchangeResult {
	deadline := cc.start.Add(rt.conf.Timeout)
	cc.picker = targetPicker{}
	picker := &cc.picker // a field, not a local: Pick's exclusion slice would escape
	up := rt.up
	attempts := 1 + up.Conf.Retries.Attempts
	key := hashKey(cc.x.ClientID, cc.x.ClientIP)
	cc.body, cc.sent100 = bodyUnsent, false
	up.CountRequest()
	last := failUnavailable
	var held *upstream.Conn // a retryable-status response, relayed if no retry happens
	var heldT *upstream.Target
	for try := 0; try < attempts; {
		t, tr, err := picker.next(up, key)
		if err != nil {
			if try == 0 {
				return cc.replyNoTarget(snap, rt, err)
			}
			break // keep the last try's failure: it says more than "no target"
		}
		if held != nil {
			held.Close()
			held = nil
		}
		try++
		conn, f := cc.tryTarget(rt, t, tr, deadline, try == attempts)
		if f == failNone {
			return cc.relay(snap, rt, conn, t)
		}
		if f == failRetryStatus {
			if !time.Now().Before(deadline) || !up.AllowRetry() {
				return cc.relay(snap, rt, conn, t)
			}
			held, heldT = conn, t
			continue
		}
		last = f
		if try == attempts || f == failBadRequest || f == failBodyTooLarge || f == failClientGone || !cc.mayRetry(rt, f, deadline) {
			break
		}
	}
	if held != nil {
		return cc.relay(snap, rt, held, heldT)
	}
	if last == failClientGone {
		cc.q.keepAlive = false
		return exchangeResult{status: 499}
	}
	return cc.replyFailure(snap, rt, last, len(rt.chain))
}

// failClientGone: the client went away mid-request; nothing is answered.
const failClientGone = failure(-2)

// mayRetry applies retries.on to a failure: connect failures are always
// safe (no byte was sent); others need a replayable, idempotent request.
// A retry also needs time left before the route's deadline and room in
// the upstream's retry budget (asked last, since asking spends it).
func (cc *clientConn) mayRetry(rt *routeRT, f failure, deadline time.Time) bool {
	var ok bool
	switch f {
	case failConnect, failConnectTimeout:
		ok = rt.retry.connect
	case failTimeout:
		ok = rt.retry.timeout && cc.replayable() && idempotent(cc.q.Method())
	case failReset, failBadResponse:
		ok = rt.retry.reset && cc.replayable() && idempotent(cc.q.Method())
	}
	return ok && time.Now().Before(deadline) && rt.up.AllowRetry()
}

func (cc *clientConn) replayable() bool { return cc.body != bodyStreamed }

func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE":
		return true
	}
	return false
}

// tryTarget sends the request to t and reads the response head, then
// reports the outcome to the try's breaker. A reused connection that the
// upstream closed before answering is retried once on a fresh connection
// (the keep-alive race): nothing was processed. A status listed in
// retries.on returns failRetryStatus with the connection still open, so
// forward can relay it if no retry happens.
func (cc *clientConn) tryTarget(rt *routeRT, t *upstream.Target, tr upstream.Try, deadline time.Time, last bool) (*upstream.Conn, failure) {
	conn, err := t.Acquire(deadline)
	if err != nil {
		f := classifyUpstream(err)
		tr.Done(outcomeOf(f, 0))
		return nil, f
	}
	f := cc.roundTrip(rt, conn, deadline)
	if f == failReset && conn.Reused && cc.replayable() && cc.nothingRead {
		conn.Close()
		if conn, err = t.AcquireFresh(deadline); err != nil {
			f = classifyUpstream(err)
			tr.Done(outcomeOf(f, 0))
			return nil, f
		}
		f = cc.roundTrip(rt, conn, deadline)
	}
	if f != failNone {
		conn.Close()
		tr.Done(outcomeOf(f, 0))
		return nil, f
	}
	tr.Done(outcomeOf(f, cc.p.status))
	if !last && rt.retry.status(cc.p.status) && cc.replayable() && idempotent(cc.q.Method()) {
		return conn, failRetryStatus
	}
	return conn, failNone
}

// roundTrip writes the request and reads the response head.
func (cc *clientConn) roundTrip(rt *routeRT, conn *upstream.Conn, deadline time.Time) failure {
	if cc.q.hasBody() {
		conn.SetWriteDeadline(deadline) // a bare head never blocks a fresh socket buffer
	}
	werr := cc.sendRequest(rt, conn, deadline)
	if ce, ok := werr.(*clientError); ok {
		return ce.f
	}
	rh := time.Now().Add(rt.up.Conf.Timeouts.ResponseHeader)
	if rh.After(deadline) {
		rh = deadline
	}
	conn.SetReadDeadline(rh)
	f := cc.readResponseHead(conn)
	if f != failNone && werr != nil && !isTimeout(werr) && f != failTimeout {
		return failReset
	}
	return f
}

// readResponseHead reads the final response head, skipping 1xx interim
// responses other than 101.
func (cc *clientConn) readResponseHead(conn *upstream.Conn) failure {
	p := &cc.p
	cc.nothingRead = true
	for {
		p.reset()
		var err error
		p.h.buf, err = readHead(conn.R, p.h.buf, 64<<10)
		if err != nil {
			if len(p.h.buf) > 0 {
				cc.nothingRead = false
			}
			if isTimeout(err) {
				return failTimeout
			}
			if errors.Is(err, errHeadTooLarge) {
				return failBadResponse
			}
			return failReset
		}
		cc.nothingRead = false
		if err := p.parse(); err != nil {
			return failBadResponse
		}
		if p.status >= 200 || p.status == 101 {
			return failNone
		}
	}
}

// sendRequest writes the head and body. A request whose whole body is
// already buffered goes out in one write and stays replayable.
func (cc *clientConn) sendRequest(rt *routeRT, conn *upstream.Conn, deadline time.Time) error {
	q := &cc.q
	if cc.body == bodyInHead {
		_, err := conn.Write(cc.scratch)
		return err
	}
	cc.scratch = cc.appendRequestHead(cc.scratch[:0], rt)
	if q.hasBody() && q.expect100 && !cc.sent100 && cc.r.Buffered() == 0 {
		cc.w.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		cc.sent100 = true
		if err := cc.w.Flush(); err != nil {
			return &clientError{failClientGone, err}
		}
	}
	if !q.hasBody() {
		_, err := conn.Write(cc.scratch)
		return err
	}
	cc.c.SetReadDeadline(deadline)
	defer cc.c.SetReadDeadline(time.Time{})
	if q.chunked {
		return cc.sendChunkedBody(conn)
	}
	return cc.sendSizedBody(conn)
}

// sendSizedBody sends a Content-Length body: what is buffered rides with
// the head; the rest is spliced socket to socket or copied.
func (cc *clientConn) sendSizedBody(conn *upstream.Conn) error {
	n := cc.q.contentLen
	b := int64(cc.r.Buffered())
	if b > n {
		b = n
	}
	buffered, _ := cc.r.Peek(int(b))
	cc.scratch = append(cc.scratch, buffered...)
	cc.r.Discard(int(b))
	if b == n {
		cc.body = bodyInHead
		_, err := conn.Write(cc.scratch)
		return err
	}
	cc.body = bodyStreamed
	if _, err := conn.Write(cc.scratch); err != nil {
		return err
	}
	return cc.copyBody(conn, n-b)
}

// copyBody moves n body bytes from the client to the upstream.
func (cc *clientConn) copyBody(conn *upstream.Conn, n int64) error {
	upTCP, _ := conn.Conn.(*net.TCPConn)
	if n > spliceThreshold && cc.s.tcp() != nil && upTCP != nil && cc.r.Buffered() == 0 {
		w, clientFailed, err := cc.e.spliceN(upTCP, cc.s.tcp(), n, cc.e.snap.Load().Conf.Server.IdleTimeout)
		cc.e.metrics.splicedRequest.Add(float64(w))
		if err == errSpliceUnsupported {
			w, err = upTCP.ReadFrom(&io.LimitedReader{R: cc.s.tcp(), N: n})
			clientFailed = w < n && err == nil
		}
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
// enforcing max_body_bytes.
func (cc *clientConn) sendChunkedBody(conn *upstream.Conn) error {
	cc.body = bodyStreamed
	uw := cc.e.getUpWriter(conn)
	defer cc.e.putUpWriter(uw)
	uw.Write(cc.scratch)
	cc.cr.reset(cc.r)
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	max := cc.e.snap.Load().Conf.Server.MaxBodyBytes
	var total int64
	for {
		n, err := cc.cr.Read(*buf)
		total += int64(n)
		if max > 0 && total > max {
			return &clientError{failBodyTooLarge, errBodyTooLarge}
		}
		if n > 0 {
			if werr := writeChunk(uw, (*buf)[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			uw.WriteString("0\r\n\r\n")
			return uw.Flush()
		}
		if err != nil {
			if errors.Is(err, errBadChunk) {
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

// appendRequestHead renders the head sent upstream: the rewritten target,
// the client's fields minus hop-by-hop ones, X-Forwarded-*, framing.
func (cc *clientConn) appendRequestHead(dst []byte, rt *routeRT) []byte {
	q := &cc.q
	dst = append(dst, q.Method()...)
	dst = append(dst, ' ')
	dst = router.Rewrite(dst, q.Target(), rt.conf.StripPrefix)
	dst = append(dst, " HTTP/1.1\r\n"...)
	dst, xff := cc.appendForwardedFields(dst, rt)
	if rt.conf.HostRewrite != "" {
		dst = appendField(dst, "Host", rt.conf.HostRewrite)
	} else if !q.h.Has("Host") {
		dst = appendField(dst, "Host", rt.upName)
	}
	dst = append(dst, "X-Forwarded-For: "...)
	if xff {
		dst = cc.appendXFF(dst)
		dst = append(dst, ", "...)
	}
	dst = cc.s.peer.Addr().AppendTo(dst)
	dst = append(dst, "\r\nX-Forwarded-Proto: "...)
	if cc.s.isTLS {
		dst = append(dst, "https\r\n"...)
	} else {
		dst = append(dst, "http\r\n"...)
	}
	if host := q.Host(); host != nil {
		dst = append(dst, "X-Forwarded-Host: "...)
		dst = append(dst, host...)
		dst = append(dst, "\r\n"...)
	}
	return cc.appendFraming(dst)
}

// appendForwardedFields copies the client's fields that go upstream and
// reports whether the client sent X-Forwarded-For.
func (cc *clientConn) appendForwardedFields(dst []byte, rt *routeRT) ([]byte, bool) {
	h := &cc.q.h
	connHdr := h.Get("Connection")
	xff := false
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		switch {
		case isHopByHop(name, connHdr), equalFold(name, "Content-Length"), equalFold(name, "Expect"),
			equalFold(name, "X-Forwarded-Proto"), equalFold(name, "X-Forwarded-Host"):
			continue
		case equalFold(name, "X-Forwarded-For"):
			xff = true
			continue
		case rt.conf.HostRewrite != "" && equalFold(name, "Host"):
			continue
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	return dst, xff
}

func (cc *clientConn) appendXFF(dst []byte) []byte {
	h := &cc.q.h
	first := true
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if equalFold(name, "X-Forwarded-For") {
			if !first {
				dst = append(dst, ", "...)
			}
			dst = append(dst, v...)
			first = false
		}
	}
	return dst
}

func (cc *clientConn) appendFraming(dst []byte) []byte {
	q := &cc.q
	switch {
	case q.chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case q.contentLen >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, q.contentLen, 10)
		dst = append(dst, "\r\n"...)
	}
	if q.upgrade {
		dst = append(dst, "Connection: Upgrade\r\nUpgrade: "...)
		dst = append(dst, q.h.Get("Upgrade")...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
