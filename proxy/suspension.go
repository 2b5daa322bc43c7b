package proxy

import (
	"tollgate/plugins"
	"tollgate/upstream"
)

// Suspending an exchange.
//
// A step that must wait on something other than its two sockets — a
// filter's network call (JWKS fetch, introspection), a dial or a wait for
// a pooled connection — suspends the exchange: the loop lets the session
// be (busy: client bytes that arrive are looked at afterwards), the wait
// runs on a goroutine, and the goroutine posts the session back to its
// loop (evLoop.post: a queue and an eventfd in the loop's epoll set). The
// loop then goes on from the exchange's stage. If the loop stopped
// meanwhile, a worker goes on instead.

// suspend runs the wait of the exchange's stage off the loop.
func (l *evLoop) suspend(s *session, cc *clientConn) {
	e := l.r.e
	s.cc = cc
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		l.wait(s, cc)
		if !l.post(s) { // the loop stopped meanwhile: a worker goes on
			s.cc = nil
			l.handOff(s, cc)
		}
	}()
}

// wait does what the exchange's stage waits for, off the loop, and moves
// the exchange to the stage that follows. A panic is logged and answered
// 500.
func (l *evLoop) wait(s *session, cc *clientConn) {
	defer func() {
		if v := recover(); v != nil {
			l.r.e.log.Error("panic while an exchange waited", "panic", v, "peer", s.peer.String())
			if cc.stage == stageFilterWait {
				cc.waitReply = panicReply
				return
			}
			cc.fs.tr.Done(upstream.Outcome{}) // the target is not to blame
			cc.fs.conn, cc.fs.f, cc.stage = nil, failInternal, stageJudge
		}
	}()
	switch cc.stage {
	case stageFilterWait:
		cc.waitReply = cc.waitFilter(cc.rt, cc.waitAt)
	case stageAcquire, stageAcquireFresh:
		fs := &cc.fs
		if fs.conn, fs.f = cc.acquire(fs.t, fs.tr, fs.deadline, cc.stage == stageAcquireFresh); fs.f != failNone {
			cc.stage = stageJudge
			return
		}
		cc.stage = stageSend
	}
}

// afterWait goes on from the stage the wait left the exchange in.
func (cc *clientConn) afterWait() loopAction {
	switch cc.stage {
	case stageFilterWait:
		return cc.filterAnswered()
	case stageSend:
		conn := cc.fs.conn
		conn.LeaveNetpoller() // the loop reads and writes its socket itself
		return cc.sendInline(cc.rt, conn)
	}
	return cc.judgeInline() // stageJudge: the acquire failed
}

// panicReply answers a request whose waiting filter panicked.
var panicReply = &plugins.Reply{Status: failureInfo[failInternal].status,
	Code: failureInfo[failInternal].code, Message: failureInfo[failInternal].message}
