package proxy

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tollgate/proxy/h2stream"
	"tollgate/proxy/sock"
	"tollgate/upstream"
)

// reactorTick is the reactors' clock: how often parked connections and
// upstream waits are checked for expiry, and the resolution of idle_timeout
// and of the response-header timeout of requests served on a loop.
const reactorTick = 100 * time.Millisecond

// Session modes, guarded by the session's loop lock.
const (
	modeBusy        int32 = iota // a worker or the loop goroutine is serving it
	modeParked                   // waiting for the client's next request
	modeAwaitUp                  // a request waits for the upstream's answer
	modeAwaitClient              // a response waits for the client's socket to drain
	modeAwaitBody                // an exchange waits for more of its request head or body
)

// reactor runs the event loops (one per CPU in cmd/tollgate). Each loop owns an
// epoll set of client connections (edge-triggered, registered once) and of
// the upstream connections its exchanges wait on (edge-triggered,
// registered once, disarmed while a worker uses them), plus an eventfd that
// suspended exchanges are posted back through. A loop drives each exchange
// (driver.go) through every wait on its two sockets without a goroutine per
// connection or per wait; waits on anything else run off the loop
// (suspension.go), and what is better done blocking goes to a worker. An
// idle connection holds no goroutine and no buffers: it is a session in a
// map and in a timing wheel.
type reactor struct {
	e     *Engine
	loops []*evLoop
	next  atomic.Uint32
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// evLoop is one event loop: an epoll set and the goroutine that waits on
// it, locked to its thread and blocked in epoll_wait(2) itself, as an
// nginx worker is: every socket it serves is kept out of Go's netpoller
// (see rawSession and upstream.Conn), so nothing else wakes for them.
type evLoop struct {
	r    *reactor
	bit  uint64 // this loop's bit in upstream.Conn.Sock.Loops
	epfd int
	efd  int // an eventfd in the set: written to end the wait (stop, post)

	now time.Time // when the current batch of events arrived; loop goroutine only

	mu      sync.Mutex
	byFD    map[int]*session // client fds while registered, upstream fds while awaited
	wheel   timingWheel
	stopped bool
	posted  []*session // suspended exchanges whose wait ended (post)
	drained []*session // the loop's spare for posted

	h2out h2stream.Batch // HTTP/2 connections its streams wrote to this turn; loop goroutine only
}

// maxLoops bounds the event loops: a loop is a bit of upstream.Conn.Sock.Loops.
const maxLoops = 64

// newReactor starts n event loops.
func newReactor(e *Engine, n int) (*reactor, error) {
	r := &reactor{e: e, done: make(chan struct{})}
	for i := range n {
		l, err := newEvLoop(r, i)
		if err != nil {
			for _, l := range r.loops {
				l.close()
			}
			return nil, err
		}
		r.loops = append(r.loops, l)
	}
	r.wg.Add(len(r.loops) + 1)
	for _, l := range r.loops {
		go l.run()
	}
	go r.expireLoop()
	return r, nil
}

func newEvLoop(r *reactor, i int) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := sock.Ctl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	l := &evLoop{r: r, bit: 1 << uint(i), epfd: epfd, efd: efd, byFD: map[int]*session{}}
	l.wheel.init(reactorTick, 1024, time.Now())
	return l, nil
}

// close closes the loop's descriptors; its goroutine must have ended.
func (l *evLoop) close() {
	unix.Close(l.epfd)
	unix.Close(l.efd)
}

// Edge-triggered interest in a client socket, registered once.
const clientEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

// adopt gives a just-accepted connection to a loop, which serves its first
// request when it arrives. The connection is closed if nothing arrives
// within timeout.
func (r *reactor) adopt(s *session, timeout time.Duration) bool {
	s.loop = r.loops[int(r.next.Add(1))%len(r.loops)]
	return s.loop.park(s, timeout)
}

// park hands s to its loop until it is readable or idle for idle. It
// returns false when the connection must be closed instead. The epoll
// registration is (re)armed, so bytes that arrived while a goroutine
// served the connection raise an event at once.
func (r *reactor) park(s *session, idle time.Duration) bool {
	if s.loop == nil {
		s.loop = r.loops[int(r.next.Add(1))%len(r.loops)]
	}
	return s.loop.park(s, idle)
}

func (l *evLoop) park(s *session, idle time.Duration) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return false
	}
	op := unix.EPOLL_CTL_ADD
	if s.registered {
		op = unix.EPOLL_CTL_MOD
	}
	l.byFD[s.fd] = s
	s.mode, s.inPending, s.registered = modeParked, false, true
	l.wheel.insert(s, time.Now().Add(idle))
	// Under the lock: stop closes the epoll fd under it, once stopped is set.
	ev := unix.EpollEvent{Events: clientEvents, Fd: int32(s.fd)}
	if err := sock.Ctl(l.epfd, op, s.fd, &ev); err != nil {
		l.unqueueLocked(s)
		if l.byFD[s.fd] == s {
			delete(l.byFD, s.fd)
		}
		s.registered = false
		l.mu.Unlock()
		return false
	}
	l.mu.Unlock()
	return true
}

// parkServed parks a session the loop has just served, without a system
// call: its registration is still armed. It returns false when bytes
// arrived while the session was busy: the caller reads again first.
func (l *evLoop) parkServed(s *session, idle time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.inPending {
		s.inPending = false
		return false
	}
	if s.outArmed { // back to read interest only: a parked socket need not say it is writable
		ev := unix.EpollEvent{Events: clientEvents, Fd: int32(s.fd)}
		sock.Ctl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev)
		s.outArmed = false
	}
	s.mode = modeParked
	l.wheel.insert(s, l.now.Add(idle)) // the wheel ticks every 100 ms: the batch's time will do
	return true
}

// quiet stops events for a session handed to a worker goroutine (its
// reads go through Go's netpoller meanwhile); park re-arms it.
func (l *evLoop) quiet(s *session) {
	if s.fd < 0 { // an HTTP/2 stream: no socket of its own
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped { // a stopped loop's epoll fd may be closed
		ev := unix.EpollEvent{Events: unix.EPOLLET, Fd: int32(s.fd)}
		sock.Ctl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev)
	}
}

// awaitUpstream waits for the answer to s's request on conn until
// deadline. false means the socket could not be watched. A socket is
// added to the loop's epoll set once, edge-triggered, and stays there
// while its connection lives: waiting on it again costs no system call.
func (l *evLoop) awaitUpstream(s *session, conn *upstream.Conn, deadline time.Time) bool {
	fd := conn.Sock.FD()
	if conn.Sock.Loops&^conn.Sock.Quiet&^l.bit != 0 {
		l.r.quietUpstream(conn, l.bit) // armed in another loop, which would wake for nothing
	}
	switch {
	case conn.Sock.Loops&l.bit == 0:
		ev := unix.EpollEvent{Events: upstreamEvents, Fd: int32(fd)}
		if err := sock.Ctl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return false
		}
		conn.Sock.Loops |= l.bit
	case conn.Sock.Quiet&l.bit != 0:
		ev := unix.EpollEvent{Events: upstreamEvents, Fd: int32(fd)}
		if err := sock.Ctl(l.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
			return false
		}
		conn.Sock.Quiet &^= l.bit
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	s.mode, s.upFD = modeAwaitUp, fd
	l.byFD[fd] = s
	l.wheel.insert(s, deadline)
	return true
}

// awaitClient waits, until deadline, for s's client socket to take more
// bytes: EPOLLOUT joins its registration until it parks again. false
// means the socket could not be watched.
func (l *evLoop) awaitClient(s *session, deadline time.Time) bool {
	if !s.outArmed {
		ev := unix.EpollEvent{Events: clientEvents | unix.EPOLLOUT, Fd: int32(s.fd)}
		if err := sock.Ctl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev); err != nil {
			return false
		}
		s.outArmed = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	s.mode = modeAwaitClient
	l.wheel.insert(s, deadline)
	return true
}

// awaitBody waits, until deadline, for more of s's request body; the
// client socket's registration already says when it is readable.
func (l *evLoop) awaitBody(s *session, deadline time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	s.mode = modeAwaitBody // gatherBody read until EAGAIN: new bytes raise an edge
	l.wheel.insert(s, deadline)
	return true
}

// Edge-triggered interest in an upstream socket, registered once.
const upstreamEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

// quietUpstream disarms conn in every loop that watches it but those in
// except, before a worker streams a body through it (or another loop waits
// on it): its reads go through Go's netpoller
// then, and the loops need not wake for each segment.
func (r *reactor) quietUpstream(conn *upstream.Conn, except uint64) {
	armed := conn.Sock.Loops &^ conn.Sock.Quiet &^ except
	for _, l := range r.loops {
		if armed&l.bit != 0 {
			l.mu.Lock()
			if !l.stopped { // a stopped loop's epoll fd may be closed
				ev := unix.EpollEvent{Events: unix.EPOLLET, Fd: int32(conn.Sock.FD())}
				sock.Ctl(l.epfd, unix.EPOLL_CTL_MOD, conn.Sock.FD(), &ev)
			}
			l.mu.Unlock()
			conn.Sock.Quiet |= l.bit
		}
	}
}

// forget removes s from its loop before its connection is closed.
func (r *reactor) forget(s *session) {
	l := s.loop
	if l == nil {
		return
	}
	l.mu.Lock()
	l.unqueueLocked(s)
	if l.byFD[s.fd] == s {
		delete(l.byFD, s.fd)
	}
	l.mu.Unlock()
	// No EPOLL_CTL_DEL: closing the socket takes it out of the epoll set,
	// and by now its fd may already be closed (a tunnel closes both ends)
	// and reused by a new connection whose registration a DEL would remove.
	s.registered = false
}

// unqueueLocked takes s out of the wheel and drops an upstream wait.
func (l *evLoop) unqueueLocked(s *session) {
	l.wheel.remove(s)
	if s.mode == modeAwaitUp && l.byFD[s.upFD] == s {
		delete(l.byFD, s.upFD)
	}
	s.mode = modeBusy
}

// run waits for events and serves them, on a thread of its own: a batch
// that finds nothing is followed by one blocking epoll_wait.
func (l *evLoop) run() {
	defer l.r.wg.Done()
	runtime.LockOSThread() // never unlocked: the thread ends with the loop
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := sock.Poll(l.epfd, events)
		if err == nil && n == 0 {
			n, err = sock.Wait(l.epfd, events)
		}
		if err != nil {
			l.r.e.log.Error("reactor: epoll_wait failed; loop stopped", "err", err)
			return
		}
		l.now = time.Now()
		// Answers first: an upstream's response completes a request (its
		// client sends the next one sooner); new requests come second.
		for i := 0; i < n; i++ {
			if l.upstreamEvent(int(events[i].Fd)) {
				events[i].Fd = -1
			}
		}
		for i := 0; i < n; i++ {
			switch fd := int(events[i].Fd); {
			case fd == l.efd:
				l.resumePosted()
			case fd >= 0:
				l.event(fd, events[i].Events)
			}
		}
		l.h2out.Flush() // the turn's HTTP/2 answers, one write a connection
		select {
		case <-l.r.done:
			return
		default:
		}
	}
}

// post queues s, whose suspended exchange's wait ended, for its loop and
// wakes the loop. It returns false when the loop has
// stopped: the caller finishes the exchange elsewhere.
func (l *evLoop) post(s *session) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.posted = append(l.posted, s)
	if len(l.posted) == 1 {
		sock.Wake(l.efd) // under the lock: stop closes the eventfd under it
	}
	return true
}

// resumePosted resumes the exchanges posted to the loop.
func (l *evLoop) resumePosted() {
	sock.Drain(l.efd) // the eventfd is level-triggered
	l.mu.Lock()
	todo := l.posted
	l.posted, l.drained = l.drained[:0], nil
	l.mu.Unlock()
	for i, s := range todo {
		todo[i] = nil
		if s.cc == nil { // an HTTP/2 stream, new (Engine.inlineStream)
			l.serveClient(s, false)
			continue
		}
		l.proceed(s, (*clientConn).afterWait)
	}
	l.mu.Lock()
	l.drained = todo[:0]
	l.mu.Unlock()
}

// event takes ownership of the session an event is for, if it is waiting
// for that event, and serves it.
//
// A hang-up (the peer closed its side, or the socket failed): with an
// edge-triggered set no later event will say so once the bytes before the
// FIN are read, so the loop reads on until it sees the end.
func (l *evLoop) event(fd int, ev uint32) {
	hup := ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	l.mu.Lock()
	s := l.byFD[fd]
	switch {
	case s == nil:
		l.mu.Unlock()
	case fd == s.fd && s.mode == modeParked:
		l.wheel.remove(s)
		s.mode = modeBusy
		l.mu.Unlock()
		l.serveClient(s, hup)
	case fd == s.fd && s.mode == modeAwaitBody:
		l.wheel.remove(s)
		s.mode = modeBusy
		l.mu.Unlock()
		l.proceed(s, (*clientConn).clientReadable)
	case fd == s.fd && s.mode == modeAwaitClient:
		l.wheel.remove(s)
		s.mode = modeBusy
		if ev&unix.EPOLLIN != 0 || hup {
			s.inPending = true // a next request, or the end: looked at before it parks
		}
		l.mu.Unlock()
		l.proceed(s, (*clientConn).clientWritable)
	case fd == s.fd:
		s.inPending = true // busy: looked at before it parks
		l.mu.Unlock()
	case s.mode == modeAwaitUp && fd == s.upFD:
		l.unqueueLocked(s)
		l.mu.Unlock()
		l.proceed(s, (*clientConn).upstreamReady)
	default:
		l.mu.Unlock()
	}
}

// upstreamEvent serves fd if it is an upstream socket a request waits on,
// and reports whether it was.
func (l *evLoop) upstreamEvent(fd int) bool {
	l.mu.Lock()
	s := l.byFD[fd]
	if s == nil || fd == s.fd || s.mode != modeAwaitUp || fd != s.upFD {
		l.mu.Unlock()
		return false
	}
	l.unqueueLocked(s)
	l.mu.Unlock()
	l.proceed(s, (*clientConn).upstreamReady)
	return true
}

// expireLoop closes parked connections whose idle timeout passed and hands
// requests whose upstream did not answer in time to a worker, which
// reports the timeout.
func (r *reactor) expireLoop() {
	defer r.wg.Done()
	t := time.NewTicker(reactorTick)
	defer t.Stop()
	expired := make([]*session, 0, 64)
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		for _, l := range r.loops {
			expired = l.expire(expired[:0])
			for i, s := range expired {
				r.release(s, true)
				expired[i] = nil
			}
		}
	}
}

// expire collects sessions whose time passed, in their modes of the time.
func (l *evLoop) expire(dst []*session) []*session {
	l.mu.Lock()
	defer l.mu.Unlock()
	dst = l.wheel.advance(time.Now(), dst)
	for _, s := range dst {
		l.takeLocked(s)
	}
	return dst
}

// takeLocked takes a session out of the loop's waiting structures. Its mode
// is kept so that release knows what it was waiting for.
func (l *evLoop) takeLocked(s *session) {
	mode := s.mode
	l.unqueueLocked(s)
	s.expiredMode = mode
}

// release ends the wait of a session taken out of a loop. Its time ran
// out (expired), or its loop stopped. A parked session is closed. A
// request waiting for its response head goes to a worker, which answers
// the timeout (or, on stop, goes on waiting). A head, a body or a
// response that stopped coming is cut on expiry; on stop a worker
// finishes it.
func (r *reactor) release(s *session, expired bool) {
	switch s.expiredMode {
	case modeParked:
		r.e.closeSession(s)
	case modeAwaitUp, modeAwaitClient, modeAwaitBody:
		cc := s.cc
		s.cc = nil
		if expired && cc.stage != stageAwait { // a stream, a body or a head that stopped coming
			r.cutStream(s, cc)
			return
		}
		s.loop.handOff(s, cc)
	}
}

// cutStream ends an exchange whose response stopped moving for
// idle_timeout: both connections are closed, the exchange is logged with
// what went out.
func (r *reactor) cutStream(s *session, cc *clientConn) {
	if s.stream != nil { // off its loop now: its writes must not wait for the loop's turn
		s.stream.SetNonblocking(false)
	}
	switch cc.stage {
	case stageRelay:
		cc.endRoute(cc.snap, cc.rt, cc.endStream(false), false)
	case stageBody: // the body did not arrive within the route's timeout
		cc.finish(cc.snap, cc.rt, cc.clientGone())
	case stageUpload: // likewise, with an upstream connection already taken
		cc.fs.conn.Close()
		cc.fs.conn = nil
		cc.fs.tr.Done(outcomeOf(failClientGone, 0))
		cc.endRoute(cc.snap, cc.rt, cc.clientGone(), false)
	}
	cc.detach()
	r.e.connPool.Put(cc)
	r.e.closeSession(s)
}

// stop ends the loops: parked connections are closed, requests waiting for
// their upstream are handed to workers to finish.
func (r *reactor) stop() {
	r.once.Do(func() {
		for _, l := range r.loops {
			l.mu.Lock()
			l.stopped = true
			l.mu.Unlock()
		}
		close(r.done)
		for _, l := range r.loops {
			sock.Wake(l.efd) // ends run's wait
		}
		r.wg.Wait()
		for _, l := range r.loops {
			l.mu.Lock()
			l.close() // stopped is set: nobody calls epoll_ctl on it any more
			l.mu.Unlock()
		}
		var left []*session
		for _, l := range r.loops {
			l.mu.Lock()
			posted := l.posted
			l.posted = nil
			l.mu.Unlock()
			for _, s := range posted { // their wait ended: a worker goes on
				cc := s.cc
				s.cc = nil
				if cc == nil { // a new HTTP/2 stream: a worker serves it
					s.stream.SetNonblocking(false)
					r.e.dispatch(s)
					continue
				}
				l.handOff(s, cc)
			}
			l.mu.Lock()
			for fd, s := range l.byFD {
				if parkedEntry(fd, s) || waitingEntry(fd, s) || writingEntry(fd, s) {
					l.takeLocked(s)
					left = append(left, s)
				}
			}
			l.mu.Unlock()
		}
		for _, s := range left {
			r.release(s, false)
		}
	})
}

// parkedEntry and waitingEntry tell what a loop's map entry stands for:
// a parked client, or a request waiting for its upstream.
func parkedEntry(fd int, s *session) bool  { return fd == s.fd && s.mode == modeParked }
func waitingEntry(fd int, s *session) bool { return fd == s.upFD && s.mode == modeAwaitUp }

// writingEntry: a response waiting for its client to read, or a request
// for the rest of its body.
func writingEntry(fd int, s *session) bool {
	return fd == s.fd && (s.mode == modeAwaitClient || s.mode == modeAwaitBody)
}

// countEntries returns how many map entries of all loops satisfy match.
func (r *reactor) countEntries(match func(fd int, s *session) bool) int {
	n := 0
	for _, l := range r.loops {
		l.mu.Lock()
		for fd, s := range l.byFD {
			if match(fd, s) {
				n++
			}
		}
		l.mu.Unlock()
	}
	return n
}

// parkedCount returns how many connections are parked.
func (r *reactor) parkedCount() int { return r.countEntries(parkedEntry) }

// writingCount returns how many responses wait on a loop for their client.
func (r *reactor) writingCount() int { return r.countEntries(writingEntry) }

// waitingCount returns how many requests wait on a loop for their upstream.
func (r *reactor) waitingCount() int { return r.countEntries(waitingEntry) }
