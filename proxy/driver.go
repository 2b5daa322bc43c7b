package proxy

import (
	"bufio"
	"errors"
	"time"

	"tollgate/proxy/sock"
	"tollgate/upstream"
)

// Driving exchanges on the event loop.
//
// A loop drives an exchange from the moment its client socket is readable:
// it reads the head (waiting in its epoll set for the rest of a partial
// one), reads a small body whole (bodybuffer.go), runs the route's filters,
// takes an idle pooled upstream connection, sends the request (streaming a
// chunked body, upload.go), waits for the answer in the same epoll set,
// settles and judges the try (retrying on another target if the route
// allows), and relays the answer as it comes (stream.go). A wait on
// anything but its two sockets — a filter's network call, a dial, a pool
// wait, the keep-alive race's fresh connection — suspends the exchange
// (suspension.go). What is better done blocking goes to a worker at the
// exchange's stage (resume): TLS connections, heads larger than the read
// buffer, interim responses, bodies large enough to splice, tunnels.

// loopAction is what the loop does next with a session: not how far its
// request got (that is the exchange's stage), but whether the loop goes
// on, waits, or lets the session go.
type loopAction int

const (
	actNext          loopAction = iota // a request was answered: look for the next one
	actPark                            // nothing to read and nothing left to write: park
	actAwaitUpstream                   // the exchange waits for its upstream (head or body)
	actAwaitClient                     // the exchange waits for the client's socket to take more
	actAwaitBody                       // the exchange waits for more of its request body
	actAwaitHead                       // the loop waits for the rest of a partial request head
	actSuspend                         // a wait runs off the loop (suspension.go); the loop resumes it
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

// proceed takes back the exchange of s, which waited on the loop (for
// its client, its upstream, or a wait off the loop), and drives it from
// step.
func (l *evLoop) proceed(s *session, step func(*clientConn) loopAction) {
	cc := s.cc
	s.cc = nil
	defer l.recoverSession(s, cc)
	l.drive(s, cc, step(cc))
}

// clientReadable goes on with an exchange whose client sent more of its
// head or body.
func (cc *clientConn) clientReadable() loopAction {
	switch cc.stage {
	case stageHead:
		return cc.nextInline()
	case stageUpload:
		return cc.pumpUpload()
	}
	return cc.bodyArrived()
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
	if s.stream != nil && (st == actNext || st == actPark) {
		st = actClose // an HTTP/2 stream carries one request
	}
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
		case actAwaitUpstream, actAwaitClient, actAwaitBody, actAwaitHead:
			s.cc = cc // before the wait is visible: its expiry reads s.cc
			if !l.await(s, cc, st) {
				s.cc = nil
				l.handOff(s, cc) // a worker waits instead, from cc.stage
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

// await puts the exchange's wait (act) in the loop's epoll set and
// timing wheel: for the upstream until the head's deadline (or
// idle_timeout of a body's silence), for the client's socket to drain
// until idle_timeout, for the rest of a head until read_header_timeout,
// for the rest of a body until the route's timeout. false: the wait could
// not be set up.
func (l *evLoop) await(s *session, cc *clientConn, act loopAction) bool {
	if s.stream != nil && act != actAwaitUpstream {
		return false // an HTTP/2 stream's body and window are waited for on a worker
	}
	server := &cc.e.snap.Load().Conf.Server
	switch act {
	case actAwaitUpstream:
		return l.awaitUpstream(s, cc.fs.conn, cc.upstreamDue(l.now))
	case actAwaitClient:
		return l.awaitClient(s, l.now.Add(server.IdleTimeout))
	case actAwaitHead:
		return l.awaitBody(s, cc.headSince.Add(server.ReadHeaderTimeout))
	}
	return l.awaitBody(s, cc.start.Add(cc.rt.conf.Timeout))
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
		conn.Sock.SetNonblocking(false)
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
	for !cc.headBuffered() {
		before := cc.r.Buffered()
		if before == cc.r.Size() {
			return cc.handoff(stageHead) // a head larger than the read buffer: a worker reads on
		}
		_, err := cc.r.Peek(before + 1) // one non-blocking read
		switch {
		case cc.r.Buffered() > before:
			continue
		case err != sock.ErrWouldBlock:
			return actClose
		case before == 0:
			return cc.flushInline(true, actPark)
		}
		// A partial head: answers already made go out, and the loop waits
		// for the rest until read_header_timeout.
		if cc.headSince.IsZero() {
			cc.headSince = time.Now()
		}
		cc.stage = stageHead
		return cc.flushInline(true, actAwaitHead)
	}
	if cc.s.fresh && cc.s.proto == protoH1 && cc.h2Buffered() {
		cc.stage = stageH2
		return actHandOff
	}
	snap := cc.e.snap.Load()
	cc.s.fresh = false
	cc.start, cc.headSince = time.Now(), time.Time{}
	cc.s.state.Store(stateActive)
	rt, f := cc.readRequest(snap)
	cc.rt, cc.fail = rt, f
	switch {
	case f != failNone:
		return cc.handoff(stageRoute)
	case cc.s.stream != nil && !cc.streamBodyAtHand():
		return cc.handoff(stageRoute) // a worker decides before it reads the body, as for any stream
	case !cc.bodyAtHand() && cc.gatherable():
		cc.stage = stageBody
		return cc.bodyArrived()
	case !cc.bodyAtHand() && !cc.q.Chunked:
		return cc.handoff(stageRoute) // a large body: a worker splices it
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

// streamBodyAtHand reports, for an HTTP/2 stream, a request without a
// body or whose body the stream received whole.
func (cc *clientConn) streamBodyAtHand() bool {
	if !cc.q.HasBody() {
		return true
	}
	n, whole := cc.s.stream.BodyAtHand()
	return whole && int64(n+cc.r.Buffered()) >= cc.q.ContentLen
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

// forwardInline starts the first try.
func (cc *clientConn) forwardInline(snap *Snapshot, rt *routeRT) loopAction {
	cc.beginForward(rt)
	return cc.tryInline(snap, rt)
}

// tryInline picks the next try's target and sends the request on an idle
// pooled connection, or suspends the exchange while one is dialled or
// waited for.
func (cc *clientConn) tryInline(snap *Snapshot, rt *routeRT) loopAction {
	if ok, err := cc.pickNext(rt); !ok {
		if err != nil {
			return cc.endInline(snap, rt, cc.replyNoTarget(snap, rt, err), false)
		}
		return cc.giveUpInline()
	}
	conn, ok := cc.fs.t.AcquireIdle(cc.s.loop.bit, !cc.replaySafe())
	if !ok {
		cc.stage = stageAcquire // a dial or a pool wait: off the loop
		return actSuspend
	}
	return cc.sendInline(rt, conn)
}

// settleInline settles a try that got no answer: the keep-alive race
// sends the request again on a fresh connection (dialled off the loop);
// anything else is reported to the target's breaker and judged.
func (cc *clientConn) settleInline() loopAction {
	fs := &cc.fs
	race := cc.keepAliveRace(fs.conn, fs.f) // before Close: a closed Conn is not ours to read
	fs.conn.Close()
	fs.conn = nil
	if race {
		cc.stage = stageAcquireFresh
		return actSuspend
	}
	cc.failTry(fs.t, fs.tr, fs.f, nil)
	return cc.judgeInline()
}

// judgeInline acts on the settled try on the loop: relay its answer, try
// again, or give up.
func (cc *clientConn) judgeInline() loopAction {
	switch cc.judge(cc.rt) {
	case verdictRelay:
		return cc.relayOrHandOff()
	case verdictGiveUp:
		return cc.giveUpInline()
	}
	return cc.tryInline(cc.snap, cc.rt)
}

// giveUpInline answers after the last try: the held answer, or the
// gateway's error.
func (cc *clientConn) giveUpInline() loopAction {
	if cc.takeHeld() {
		return cc.relayOrHandOff()
	}
	return cc.endInline(cc.snap, cc.rt, cc.failedAnswer(cc.rt), false)
}

// relayOrHandOff relays the answer on fs.conn on the loop, or on a worker
// when it is a tunnel or a body to splice.
func (cc *clientConn) relayOrHandOff() loopAction {
	if !cc.streamable(cc.fs.conn) {
		return cc.handoff(stageRelayConn)
	}
	return cc.relayInline()
}

// sendInline sends the request on conn and waits for the answer on the
// loop.
func (cc *clientConn) sendInline(rt *routeRT, conn *upstream.Conn) loopAction {
	fs := &cc.fs
	fs.conn = conn
	if conn.Sock.FD() < 0 { // TLS to the upstream: no socket for the loop; a worker sends, awaits and relays
		return cc.handoff(stageSend)
	}
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
	if cc.q.Chunked && fs.werr == nil { // the head waits in cc.scratch for the first chunks
		if conn.Sock.FD() < 0 {
			cc.startUpload()
			return cc.handoff(stageUpload)
		}
		conn.Sock.SetNonblocking(true)
		return cc.uploadInline()
	}
	if fs.werr != nil || conn.Sock.FD() < 0 {
		return cc.handoff(stageAwait)
	}
	return cc.awaitHeadInline()
}

// upstreamDue is when the upstream's wait ends: the response head's
// deadline, or idle_timeout from now while the body streams.
func (cc *clientConn) upstreamDue(now time.Time) time.Time {
	if cc.stage == stageRelay {
		return now.Add(cc.snap.Conf.Server.IdleTimeout)
	}
	return cc.fs.rh
}

// upstreamReady goes on with an exchange whose upstream became readable:
// it reads the response head and starts the relay, or relays more body.
func (cc *clientConn) upstreamReady() loopAction {
	if cc.stage == stageRelay {
		return cc.pump()
	}
	fs := &cc.fs
	conn := fs.conn
	for {
		if headIn(conn.R) { // a whole head is buffered: reading it cannot wait
			if fs.f = cc.readOneHead(conn); fs.f != failNone {
				return cc.settleInline()
			}
			if finalStatus(cc.p.Status) {
				break
			}
			continue // an interim answer (100, 103): dropped, as a worker does
		}
		before := conn.R.Buffered()
		if before == conn.R.Size() {
			return cc.handoff(stageAwait) // a head larger than the buffer: a worker reads on
		}
		_, err := conn.R.Peek(before + 1)
		switch {
		case conn.R.Buffered() > before:
			continue
		case err == upstream.ErrWouldBlock:
			return actAwaitUpstream // nothing more yet: wait on, until the head's deadline
		}
		// Closed or reset: before answering (the keep-alive race, if nothing
		// was read), or in the middle of a head.
		cc.nothingRead = cc.nothingRead && before == 0
		fs.f = failReset
		return cc.settleInline()
	}
	fs.conn, fs.f = cc.settleTry(cc.rt, conn, failNone)
	return cc.judgeInline()
}

// headIn reports that r holds a whole response head (see wholeHead).
func headIn(r *bufio.Reader) bool {
	b, _ := r.Peek(r.Buffered())
	return wholeHead(b)
}

// endInline ends a request answered on the loop.
func (cc *clientConn) endInline(snap *Snapshot, rt *routeRT, res exchangeResult, replied bool) loopAction {
	cc.e.servedInline.Add(1)
	keep := cc.endRoute(snap, rt, res, replied) && !cc.e.draining.Load() && cc.s.stream == nil
	cc.s.state.Store(stateIdle)
	if !keep {
		return cc.flushInline(false, actClose)
	}
	if cc.r.Buffered() > 0 {
		if cc.cio.pending() { // the client is not reading: its answers wait
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
// does not take waits for the client to read (stageFlush).
func (cc *clientConn) flushInline(keep bool, then loopAction) loopAction {
	if err := cc.w.Flush(); err != nil {
		return actClose
	}
	if cc.cio.pending() {
		cc.keep, cc.stage = keep, stageFlush
		return actAwaitClient
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
	case stageAcquire, stageSend, stageAwait, stageSettle, stageJudge:
		res = cc.forwardLoop(snap, rt, cc.stage)
	case stageRelay:
		res = cc.pumpBlocking()
	case stageRelayConn:
		conn := cc.fs.conn
		cc.fs.conn = nil
		res = cc.relay(snap, rt, conn, cc.fs.t)
	case stageUpload:
		fs := &cc.fs
		if fs.f, fs.werr = cc.uploadBlocking(); fs.f != failNone {
			res = cc.forwardLoop(snap, rt, stageSettle) // the client failed mid-body
			break
		}
		fs.rh = cc.headDue(rt, time.Now())
		res = cc.forwardLoop(snap, rt, stageAwait)
	case stageBody:
		if cc.gatherBlocking() != nil {
			res = cc.clientGone()
			break
		}
		keep := cc.serveRoute(snap, rt)
		cc.s.state.Store(stateIdle)
		return keep
	}
	keep := cc.endRoute(snap, rt, res, false)
	cc.s.state.Store(stateIdle)
	return keep
}
