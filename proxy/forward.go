package proxy

import (
	"errors"
	"time"

	"tollgate/conf"
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
	var key uint64
	if up.Conf.Balance == conf.BalanceHash {
		key = hashKey(cc.x.ClientID, cc.x.ClientIP)
	}
	cc.body, cc.sent100 = bodyUnsent, false
	up.CountRequest()
	last := failUnavailable
	// held is a retryable-status response: relayed if no retry succeeds,
	// so a failed retry still answers with the upstream's own status.
	var held *upstream.Conn
	var heldT *upstream.Target
	for try := 0; try < attempts; {
		t, tr, err := picker.next(up, key)
		if err != nil {
			if try == 0 {
				return cc.replyNoTarget(snap, rt, err)
			}
			break // keep the last try's failure: it says more than "no target"
		}
		try++
		conn, f := cc.tryTarget(rt, t, tr, deadline, try == attempts)
		if f == failNone || f == failRetryStatus {
			if held != nil { // a newer upstream answer replaces the held one
				held.Close()
				held = nil
			}
		}
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
	return cc.replyFailure(rt, last, len(rt.chain))
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
