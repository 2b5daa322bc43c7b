package proxy

import (
	"errors"
	"time"

	"tollgate/conf"
	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// bodyState tracks how much of the request body left the client buffer,
// which decides whether the request can be sent again.
type bodyState int

const (
	bodyUnsent   bodyState = iota // nothing read from the client yet
	bodyInHead                    // the whole body is in cc.scratch with the head
	bodyGathered                  // the whole body is in cc.gathered, read from the client
	bodyStreamed                  // body bytes were streamed: no replay
)

// forwardState is one request's progress through its tries. It lives in
// the clientConn so that a request started on an event loop can be
// finished by a worker goroutine at the stage it reached.
type forwardState struct {
	deadline time.Time
	attempts int
	try      int
	key      uint64
	last     failure // the latest try's failure
	failed   failure // the latest failed try's failure, for the access log (failTry)
	// held is a retryable-status response: relayed if no retry succeeds,
	// so a failed retry still answers with the upstream's own status.
	held  *upstream.Conn
	heldT *upstream.Target

	// the current try
	t    *upstream.Target
	tr   upstream.Try
	conn *upstream.Conn
	f    failure
	werr error     // from sending the request
	rh   time.Time // when the response head is due

	// the connection claimed on shareT for the client shareK (share.go)
	shareT *upstream.Target
	shareK upstream.ShareKey
}

// forward sends the request to the route's upstream, retrying where the
// route allows, and relays the response. Each try is reported to its
// target's breaker. A response whose status is in retries.on is held until
// the retry's target is picked, and relayed when no retry can happen.
func (cc *clientConn) forward(snap *Snapshot, rt *routeRT) exchangeResult {
	cc.beginForward(rt)
	return cc.forwardLoop(snap, rt, stagePick)
}

// beginForward prepares the forward state of a request for rt.
func (cc *clientConn) beginForward(rt *routeRT) {
	up := rt.up
	cc.fs = forwardState{deadline: cc.start.Add(cc.callTimeout(rt)), attempts: 1 + up.Conf.Retries.Attempts,
		last: failUnavailable}
	cc.picker = targetPicker{} // a field, not a local: Pick's exclusion slice would escape
	if up.Conf.Balance == conf.BalanceHash {
		cc.fs.key = hashKey(cc.x.ClientID, cc.x.ClientIP)
	}
	up.CountRequest()
	cc.web.begin(&cc.q, up.Conf.Protocol)
}

// forwardLoop runs tries from stage (stagePick to stageJudge) on until one
// is relayed or none is left.
func (cc *clientConn) forwardLoop(snap *Snapshot, rt *routeRT, stage stage) exchangeResult {
	fs := &cc.fs
	for {
		switch stage {
		case stagePick:
			if ok, err := cc.pickNext(rt); !ok {
				if err != nil {
					return cc.replyNoTarget(snap, rt, err)
				}
				return cc.giveUp(snap, rt)
			}
			fs.conn, fs.f = cc.tryTarget(rt, fs.t, fs.tr, fs.deadline)
		case stageAcquire:
			fs.conn, fs.f = cc.tryTarget(rt, fs.t, fs.tr, fs.deadline)
		case stageSend:
			fs.conn, fs.f = cc.sendOn(rt, fs.conn, fs.deadline)
		case stageAwait:
			fs.f = cc.awaitHead(fs.conn, fs.rh, fs.werr)
			fs.conn, fs.f = cc.settleTry(rt, fs.conn, fs.f)
		case stageSettle:
			fs.conn, fs.f = cc.settleTry(rt, fs.conn, fs.f)
		}
		stage = stagePick
		if res, done := cc.judgeTry(snap, rt); done {
			return res
		}
	}
}

// pickNext picks the next try's target, begins the try on its breaker
// (fs.t, fs.tr) and claims the client's share of it. false means no try
// follows: err is why the first try found no target, or errOverShare; nil
// after earlier tries, whose failure says more than "no target".
func (cc *clientConn) pickNext(rt *routeRT) (bool, error) {
	fs := &cc.fs
	if fs.try >= fs.attempts {
		return false, nil
	}
	t, tr, err := cc.picker.next(rt.up, fs.key)
	if err != nil {
		if fs.try == 0 {
			return false, err
		}
		return false, nil
	}
	fs.try++
	fs.t, fs.tr = t, tr
	if !cc.claimShare() {
		tr.Done(upstream.Outcome{}) // not the target's doing
		fs.try = fs.attempts        // the client waits; no other target is tried
		return false, errOverShare
	}
	cc.traceTry()
	return true, nil
}

// verdict is what follows a settled try.
type verdict int

const (
	verdictRelay  verdict = iota // relay the answer on fs.conn (from fs.t)
	verdictRetry                 // try again: pick the next target
	verdictGiveUp                // no try follows: answer (giveUp)
)

// judge decides what follows the settled try (fs.conn, fs.f): relay its
// answer, hold a retryable answer and try again, try again after a
// failure, or give up. A relayed answer stays in fs.conn.
func (cc *clientConn) judge(rt *routeRT) verdict {
	cc.traceTryEnd()
	fs := &cc.fs
	f := fs.f
	if (f == failNone || f == failRetryStatus) && fs.held != nil {
		fs.held.Close() // a newer upstream answer replaces the held one
		fs.held = nil
	}
	switch f {
	case failNone:
		return verdictRelay
	case failRetryStatus:
		if !time.Now().Before(fs.deadline) || !rt.up.AllowRetry() {
			return verdictRelay
		}
		fs.held, fs.heldT, fs.conn = fs.conn, fs.t, nil
		return verdictRetry
	}
	fs.conn, fs.last = nil, f
	if fs.try == fs.attempts || f == failBadRequest || f == failBodyTooLarge || f == failClientGone || !cc.mayRetry(rt, f, fs.deadline) {
		return verdictGiveUp
	}
	return verdictRetry
}

// judgeTry acts on the settled try on a worker: relay it, or say that
// another try follows, or give up.
func (cc *clientConn) judgeTry(snap *Snapshot, rt *routeRT) (exchangeResult, bool) {
	fs := &cc.fs
	switch cc.judge(rt) {
	case verdictRelay:
		conn := fs.conn
		fs.conn = nil
		return cc.relay(snap, rt, conn, fs.t), true
	case verdictGiveUp:
		return cc.giveUp(snap, rt), true
	}
	return exchangeResult{}, false
}

// takeHeld makes the held answer the one to relay (fs.conn from fs.t) and
// reports whether there was one.
func (cc *clientConn) takeHeld() bool {
	fs := &cc.fs
	if fs.held == nil {
		return false
	}
	fs.conn, fs.t, fs.held = fs.held, fs.heldT, nil
	return true
}

// giveUp answers after the last try on a worker: the held upstream answer
// if any, else the gateway's error for the last failure.
func (cc *clientConn) giveUp(snap *Snapshot, rt *routeRT) exchangeResult {
	fs := &cc.fs
	if cc.takeHeld() {
		conn := fs.conn
		fs.conn = nil
		return cc.relay(snap, rt, conn, fs.t)
	}
	return cc.failedAnswer(rt)
}

// failedAnswer answers the last try's failure: 499 in the log for a client
// that went away, else the gateway's error.
func (cc *clientConn) failedAnswer(rt *routeRT) exchangeResult {
	if cc.fs.last == failClientGone {
		cc.q.KeepAlive = false
		return exchangeResult{status: failureInfo[failClientGone].status}
	}
	return cc.replyFailure(rt, cc.fs.last, len(rt.chain))
}

// mayRetry applies retries.on to a failure: connect failures are always
// safe (no byte was sent); others need a replayable, idempotent request.
// A retry also needs time left before the route's deadline and room in
// the upstream's retry budget (asked last, since asking spends it).
func (cc *clientConn) mayRetry(rt *routeRT, f failure, deadline time.Time) bool {
	var ok bool
	switch f {
	case failConnect, failDNS, failConnectTimeout:
		ok = rt.retry.connect
	case failRefused: // unprocessed, like a connect failure, but the body went to the refused stream
		ok = rt.retry.connect && cc.replayable()
	case failTimeout:
		ok = rt.retry.timeout && cc.replayable() && cc.replaySafe()
	case failReset, failBadResponse:
		ok = rt.retry.reset && cc.replayable() && cc.replaySafe()
	}
	return ok && time.Now().Before(deadline) && rt.up.AllowRetry()
}

func (cc *clientConn) replayable() bool { return cc.body != bodyStreamed }

// replaySafe reports whether sending the request a second time after an
// upstream dropped it unanswered can do no harm: an idempotent method, or
// a request carrying an Idempotency-Key (whose upstream promises to apply
// it once). A dropped connection may have crashed an upstream that
// received, and acted on, the request.
func (cc *clientConn) replaySafe() bool {
	return idempotent(cc.q.Method()) || cc.q.Fields.Has("Idempotency-Key")
}

func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE":
		return true
	}
	return false
}

// tryTarget sends the request to t and reads the response head, then
// settles the try (see settleTry).
func (cc *clientConn) tryTarget(rt *routeRT, t *upstream.Target, tr upstream.Try, deadline time.Time) (*upstream.Conn, failure) {
	conn, f := cc.acquire(t, tr, deadline, false)
	if f != failNone {
		return nil, f
	}
	return cc.sendOn(rt, conn, deadline)
}

// acquire gets a connection to t, dialling or waiting for the pool if it
// must (fresh: always dialling, for the keep-alive race); a failure is
// reported to the try.
func (cc *clientConn) acquire(t *upstream.Target, tr upstream.Try, deadline time.Time, fresh bool) (*upstream.Conn, failure) {
	var conn *upstream.Conn
	var err error
	switch {
	case fresh:
		conn, err = t.AcquireFresh(deadline)
	case cc.replaySafe():
		conn, err = t.Acquire(deadline)
	default:
		conn, err = t.AcquireVerified(deadline) // no second chance on a closed connection
	}
	if err != nil {
		f := classifyUpstream(err)
		cc.failTry(t, tr, f, err)
		return nil, f
	}
	return conn, failNone
}

// sendOn sends the request on conn, reads the response head and settles
// the try.
func (cc *clientConn) sendOn(rt *routeRT, conn *upstream.Conn, deadline time.Time) (*upstream.Conn, failure) {
	if conn.Sock.Loops&^conn.Sock.Quiet != 0 && cc.e.reactor != nil {
		cc.e.reactor.quietUpstream(conn, 0) // this worker reads it; the loop need not wake
	}
	return cc.settleTry(rt, conn, cc.roundTrip(rt, conn, deadline))
}

// settleTry reports the outcome of the current try (cc.fs.t, cc.fs.tr) on
// conn to its breaker. A reused connection that the upstream closed before
// answering is retried once on a fresh connection (the keep-alive race:
// the upstream closed it as idle, having processed nothing) when the
// request is safe to replay; other requests are answered 502, since the
// upstream may also have failed while acting on it. A status listed in retries.on returns
// failRetryStatus with the connection still open, so forward can relay it
// if no retry happens.
func (cc *clientConn) settleTry(rt *routeRT, conn *upstream.Conn, f failure) (*upstream.Conn, failure) {
	fs := &cc.fs
	t, tr := fs.t, fs.tr
	if cc.keepAliveRace(conn, f) {
		conn.Close()
		if conn, f = cc.acquire(t, tr, fs.deadline, true); f != failNone {
			return nil, f
		}
		f = cc.roundTrip(rt, conn, fs.deadline)
	}
	if f != failNone {
		if uf := cc.stopDuplex(); uf != failNone {
			f = uf // the client's body failed first (too large, cut): the upstream only waited
		}
		conn.Close()
		cc.failTry(t, tr, f, nil)
		return nil, f
	}
	tr.Done(outcomeOf(f, cc.p.Status))
	if fs.try < fs.attempts && rt.retry.status(cc.p.Status) && cc.replayable() && cc.replaySafe() {
		return conn, failRetryStatus
	}
	return conn, failNone
}

// keepAliveRace reports a try that met a reused connection the upstream
// had closed before answering, for a request that may be sent again on a
// fresh connection (see settleTry).
func (cc *clientConn) keepAliveRace(conn *upstream.Conn, f failure) bool {
	return f == failReset && conn.Reused && cc.replayable() && cc.replaySafe() && cc.nothingRead
}

// roundTrip writes the request and reads the response head.
func (cc *clientConn) roundTrip(rt *routeRT, conn *upstream.Conn, deadline time.Time) failure {
	if cc.q.HasBody() {
		conn.SetWriteDeadline(deadline) // a bare head never blocks a fresh socket buffer
	}
	werr := cc.sendRequest(rt, conn, deadline)
	if ce, ok := werr.(*clientError); ok {
		return ce.f
	}
	return cc.awaitHead(conn, cc.headDue(rt, time.Now()), werr)
}

// headDue is when the response head of a request sent at sent is due.
func (cc *clientConn) headDue(rt *routeRT, sent time.Time) time.Time {
	rh := sent.Add(rt.up.Conf.Timeouts.ResponseHeader)
	if rh.After(cc.fs.deadline) {
		rh = cc.fs.deadline
	}
	return rh
}

// awaitHead reads the response head until rh. A write error werr turns a
// failed read into a reset.
func (cc *clientConn) awaitHead(conn *upstream.Conn, rh time.Time, werr error) failure {
	conn.SetReadDeadline(rh)
	f := cc.readResponseHead(conn)
	if f != failNone && werr != nil && !isTimeout(werr) && f != failTimeout && f != failRefused {
		return failReset
	}
	return f
}

// readResponseHead reads the final response head, skipping 1xx interim
// responses other than 101.
func (cc *clientConn) readResponseHead(conn *upstream.Conn) failure {
	cc.nothingRead = true
	for {
		if f := cc.readOneHead(conn); f != failNone {
			return f
		}
		if finalStatus(cc.p.Status) {
			return failNone
		}
	}
}

// readOneHead reads and parses one response head, final or interim.
func (cc *clientConn) readOneHead(conn *upstream.Conn) failure {
	p := &cc.p
	if err := p.ReadHead(conn.R, 64<<10); err != nil {
		if p.HeadLen() > 0 {
			cc.nothingRead = false
		}
		if isTimeout(err) {
			return failTimeout
		}
		if errors.Is(err, upstream.ErrStreamRefused) {
			return failRefused
		}
		if errors.Is(err, http1.ErrHeadTooLarge) || errors.Is(err, http1.ErrBadResponse) {
			return failBadResponse // ErrBadResponse: an HTTP/2 answer that cannot be an HTTP/1.1 head
		}
		return failReset
	}
	cc.nothingRead = false
	if err := p.Parse(); err != nil {
		return failBadResponse
	}
	return failNone
}

// finalStatus reports a status that ends the wait for the answer: 2xx to
// 5xx, or 101 (a tunnel); other 1xx answers are interim.
func finalStatus(status int) bool { return status >= 200 || status == 101 }
