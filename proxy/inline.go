package proxy

import (
	"bytes"
	"errors"
	"time"

	"tollgate/upstream"
)

// Serving on the event loop.
//
// A loop serves a request itself when everything it needs is at hand: the
// whole head is buffered, so is the whole body if there is one (a small
// Content-Length body), an idle pooled upstream connection is ready, and
// the whole response arrives in one read. It never waits except for the
// upstream's answer, and that wait is an entry in the loop's epoll set, not
// a parked goroutine. A filter that must wait on the network (a JWKS fetch,
// an introspection call) suspends the exchange: its wait runs on a
// goroutine that posts the answer back to the loop (evLoop.post), and the
// loop goes on with the chain where it stopped. Anything else (a partial
// head, a large or chunked body, a dial, a retry, a large or streamed
// response, a client slow to read) is handed to a worker goroutine at the
// point the request reached, and the worker finishes it with the same
// blocking code.

// loopAction is what the loop does next with a session: not how far its
// request got (that is the exchange's stage), but whether the loop goes
// on, waits, or lets the session go.
type loopAction int

const (
	actNext          loopAction = iota // a request was answered: look for the next one
	actPark                            // nothing to read and nothing left to write: park
	actAwaitUpstream                   // the request waits for its upstream's answer
	actSuspend                         // a filter waits off the loop (cc.waitAt); the loop resumes it
	actHandOff                         // a worker takes over at cc.stage
	actClose                           // close the connection
)

// maxInlineHead bounds the request head a loop sends upstream itself: a
// small head always fits an idle connection's empty socket buffer, so the
// write never waits.
const maxInlineHead = 8 << 10

// serveClient serves a parked session whose socket became readable.
func (l *evLoop) serveClient(s *session, hup bool) {
	cc := l.r.e.connPool.Get().(*clientConn)
	cc.attachLoop(s)
	cc.cio.hup = hup
	defer l.recoverSession(s, cc)
	l.drive(s, cc, cc.nextInline())
}

// serveUpstream goes on with a session whose upstream answered (or closed).
func (l *evLoop) serveUpstream(s *session) {
	cc := s.cc
	s.cc = nil
	defer l.recoverSession(s, cc)
	l.drive(s, cc, cc.upstreamReady())
}

// recoverSession keeps a panic while serving s (a filter's bug, say) from
// taking the process down: it is logged, what the exchange's filters took
// is given back, s and its upstream connection are closed, and cc is
// dropped rather than pooled.
func (l *evLoop) recoverSession(s *session, cc *clientConn) {
	v := recover()
	if v == nil {
		return
	}
	l.r.e.log.Error("connection handler panicked", "panic", v, "peer", s.peer.String())
	l.r.e.abortExchange(cc)
	if conn := cc.fs.conn; conn != nil {
		conn.Close()
	}
	s.cc = nil
	l.r.e.closeSession(s)
}

// drive acts on steps until the session waits or leaves the loop.
func (l *evLoop) drive(s *session, cc *clientConn, st loopAction) {
	e := l.r.e
	for {
		switch st {
		case actNext:
			st = cc.nextInline()
			continue
		case actPark:
			if !l.parkServed(s, e.snap.Load().Conf.Server.IdleTimeout) {
				st = cc.nextInline()
				continue
			}
			l.putConn(cc)
		case actAwaitUpstream:
			fs := &cc.fs
			s.cc = cc
			if !l.awaitUpstream(s, fs.conn, fs.rh) {
				s.cc = nil
				cc.stage = stageAwait
				l.handOff(s, cc)
			}
		case actSuspend:
			l.suspend(s, cc)
		case actHandOff:
			l.handOff(s, cc)
		case actClose:
			l.putConn(cc)
			e.closeSession(s)
		}
		return
	}
}

func (l *evLoop) putConn(cc *clientConn) {
	cc.detach()
	l.r.e.connPool.Put(cc)
}

// handOff gives s, with cc attached, to a worker goroutine, which resumes
// the request at cc.stage.
func (l *evLoop) handOff(s *session, cc *clientConn) {
	l.r.e.handedOff.Add(1)
	cc.cio.block()
	if conn := cc.fs.conn; conn != nil {
		conn.SetNonblocking(false)
		l.r.quietUpstream(conn, 0)
		if err := conn.Materialize(); err != nil { // out of descriptors, say
			l.r.e.dropSession(s, cc, err)
			return
		}
	}
	l.quiet(s)
	s.cc = cc
	l.r.e.dispatch(s)
}

// nextInline serves the next request if it is complete in the buffer.
func (cc *clientConn) nextInline() loopAction {
	if !cc.headBuffered() {
		_, err := cc.r.Peek(cc.r.Buffered() + 1) // one non-blocking read
		if cc.r.Buffered() == 0 {
			if err == errWouldBlock {
				return cc.flushInline(true, actPark)
			}
			return actClose
		}
		if !cc.headBuffered() {
			return cc.handoff(stageHead)
		}
	}
	snap := cc.e.snap.Load()
	cc.s.fresh = false
	cc.start = time.Now()
	cc.s.state.Store(stateActive)
	rt, f := cc.readRequest(snap)
	cc.rt, cc.fail = rt, f
	if f != failNone || !cc.bodyAtHand() {
		return cc.handoff(stageRoute)
	}
	cc.startExchange(snap, rt)
	return cc.decideInline(snap, rt, 0)
}

// bodyAtHand reports a request the loop can send in one write: no body or
// a Content-Length body already buffered whole, head and body within
// maxInlineHead.
func (cc *clientConn) bodyAtHand() bool {
	q := &cc.q
	size := int64(q.HeadLen())
	if q.HasBody() {
		if q.Chunked || q.ContentLen > int64(cc.r.Buffered()) {
			return false
		}
		size += q.ContentLen
	}
	return size <= maxInlineHead
}

// decideInline runs the route's filters from filter from on without
// waiting, then answers or forwards. A filter that must wait suspends the
// exchange (actSuspend).
func (cc *clientConn) decideInline(snap *Snapshot, rt *routeRT, from int) loopAction {
	reply, at, pending := rt.chain.Decide(&cc.x, from)
	switch {
	case pending:
		cc.waitAt, cc.stage = at, stageFilterWait
		return actSuspend
	case reply != nil:
		return cc.endInline(snap, rt, cc.writeReply(rt, reply, at), true)
	}
	return cc.forwardInline(snap, rt)
}

// filterAnswered goes on with an exchange whose waiting filter answered
// (cc.waitAt, cc.waitReply), on the loop.
func (cc *clientConn) filterAnswered() loopAction {
	snap, rt, reply := cc.snap, cc.rt, cc.waitReply
	cc.waitReply = nil
	if reply != nil {
		return cc.endInline(snap, rt, cc.writeReply(rt, reply, cc.waitAt), true)
	}
	return cc.decideInline(snap, rt, cc.waitAt+1)
}

// forwardInline starts the first try on an idle pooled connection.
func (cc *clientConn) forwardInline(snap *Snapshot, rt *routeRT) loopAction {
	cc.beginForward(rt)
	fs := &cc.fs
	t, tr, err := cc.picker.next(rt.up, fs.key)
	if err != nil {
		return cc.endInline(snap, rt, cc.replyNoTarget(snap, rt, err), false)
	}
	fs.try++
	fs.t, fs.tr = t, tr
	conn, ok := t.AcquireIdle(cc.s.loop.bit, !cc.replaySafe())
	if !ok {
		cc.stage = stageAcquire // a dial or a pool wait: off the loop
		return actSuspend
	}
	return cc.sendInline(rt, conn)
}

// sendInline sends the request on conn and waits for the answer on the
// loop.
func (cc *clientConn) sendInline(rt *routeRT, conn *upstream.Conn) loopAction {
	fs := &cc.fs
	fs.conn = conn
	fs.werr = cc.sendRequest(rt, conn, fs.deadline)
	fs.rh = cc.headDue(rt, time.Now())
	if errors.Is(fs.werr, upstream.ErrWouldBlock) {
		// The upstream is not reading: a worker sends the request again on
		// another connection (this one carries a partial head; the
		// upstream processed nothing).
		conn.Close()
		fs.conn, fs.werr = nil, nil
		return cc.handoff(stageAcquire)
	}
	if fs.werr != nil || conn.FD() < 0 {
		return cc.handoff(stageAwait)
	}
	conn.SetNonblocking(true)
	return actAwaitUpstream
}

// upstreamReady reads the upstream's answer and relays it if it is whole.
func (cc *clientConn) upstreamReady() loopAction {
	fs := &cc.fs
	conn := fs.conn
	if !finalHeadIn(conn.R) {
		_, err := conn.R.Peek(conn.R.Buffered() + 1)
		if !finalHeadIn(conn.R) {
			if err == upstream.ErrWouldBlock && conn.R.Buffered() == 0 {
				return actAwaitUpstream // woken early: wait on
			}
			return cc.handoff(stageAwait) // partial, interim, closed or failed: a worker sorts it out
		}
	}
	fs.f = cc.readResponseHead(conn)
	if fs.f != failNone {
		return cc.handoff(stageSettle)
	}
	fs.conn, fs.f = cc.settleTry(cc.rt, conn, fs.f)
	if fs.f != failNone || !cc.wholeResponseIn(conn) {
		return cc.handoff(stageJudge)
	}
	snap, rt := cc.snap, cc.rt
	fs.conn = nil
	conn.SetNonblocking(false)
	return cc.endInline(snap, rt, cc.relay(snap, rt, conn, fs.t), false)
}

// finalHeadIn reports that r holds a whole response head that is not an
// interim (1xx) one.
func finalHeadIn(r interface {
	Buffered() int
	Peek(int) ([]byte, error)
}) bool {
	b, _ := r.Peek(r.Buffered())
	return len(b) > 12 && b[9] != '1' && bytes.Contains(b, crlfcrlf)
}

// wholeResponseIn reports a response the loop can relay from the buffer:
// no body, or a Content-Length body already read whole.
func (cc *clientConn) wholeResponseIn(conn *upstream.Conn) bool {
	if cc.p.Status == 101 {
		return false
	}
	switch cc.outFraming() {
	case outNone:
		return true
	case outLength:
		return cc.p.ContentLen <= int64(conn.R.Buffered())
	}
	return false
}

// endInline ends a request answered on the loop.
func (cc *clientConn) endInline(snap *Snapshot, rt *routeRT, res exchangeResult, replied bool) loopAction {
	cc.e.servedInline.Add(1)
	keep := cc.endRoute(snap, rt, res, replied) && !cc.e.draining.Load()
	cc.s.state.Store(stateIdle)
	if !keep {
		return cc.flushInline(false, actClose)
	}
	if cc.r.Buffered() > 0 {
		if cc.cio.pending() { // the client is not reading: a worker serves the rest with backpressure
			return cc.flushInline(true, actNext)
		}
		return actNext // pipelined: its answer joins this one in the buffer
	}
	if cc.cio.full || cc.cio.hup {
		return cc.flushInline(true, actNext) // the socket may hold more, or its end: read on
	}
	return cc.flushInline(true, actPark)
}

// flushInline writes buffered answers without waiting; what the socket
// does not take goes to a worker.
func (cc *clientConn) flushInline(keep bool, then loopAction) loopAction {
	if err := cc.w.Flush(); err != nil {
		return actClose
	}
	if cc.cio.pending() {
		cc.keep = keep
		return cc.handoff(stageFlush)
	}
	return then
}

func (cc *clientConn) handoff(at stage) loopAction {
	cc.stage = at
	return actHandOff
}

// resume finishes, on a worker, a request a loop handed over, and says
// whether the connection goes on.
func (cc *clientConn) resume() bool {
	snap, rt := cc.snap, cc.rt
	if snap == nil {
		snap = cc.e.snap.Load()
	}
	cc.s.writeRearm = time.Time{} // the next request re-arms the write deadline
	cc.c.SetWriteDeadline(time.Now().Add(snap.Conf.Server.IdleTimeout))
	if cc.cio.flushOverflow() != nil {
		return false
	}
	var res exchangeResult
	switch cc.stage {
	case stageHead:
		return true
	case stageFlush:
		return cc.keep && !cc.e.draining.Load()
	case stageRoute:
		keep := cc.serveParsed(snap, rt, cc.fail)
		cc.s.state.Store(stateIdle)
		return keep
	case stageFilterWait:
		keep := cc.chainAnswered(snap, rt)
		cc.s.state.Store(stateIdle)
		return keep
	case stageSend:
		res = cc.forwardLoop(snap, rt, stageSend)
	case stageAcquire:
		res = cc.forwardLoop(snap, rt, stageAcquire)
	case stageAwait:
		res = cc.forwardLoop(snap, rt, stageAwait)
	case stageSettle:
		res = cc.forwardLoop(snap, rt, stageSettle)
	case stageJudge:
		res = cc.forwardLoop(snap, rt, stageJudge)
	}
	keep := cc.endRoute(snap, rt, res, false)
	cc.s.state.Store(stateIdle)
	return keep
}
