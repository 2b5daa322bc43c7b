package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tollgate/internal/lograte"
	"tollgate/proxy/http1"
	"tollgate/proxy/sock"
)

// Buffer sizes of a client connection.
const (
	readBufSize  = 4096
	writeBufSize = 32 << 10 // a 16 KiB response and its head leave in one write
	copyBufSize  = 32 << 10
	// spliceThreshold is the remaining body length above which bytes go
	// socket to socket (splice(2) inside net.TCPConn.ReadFrom) instead of
	// through a user-space buffer.
	spliceThreshold = 64 << 10
	// discardLimit bounds the unread body the engine reads and drops to keep
	// a connection alive after answering a request itself.
	discardLimit = 64 << 10
)

// Engine is the HTTP/1.1 engine: it owns the connection loop on the client
// side and forwards each request through the current snapshot. It is
// long-lived; snapshots are swapped under it. Idle keep-alive connections
// are parked in the reactor, holding neither a goroutine nor buffers.
type Engine struct {
	snap     atomic.Pointer[Snapshot]
	observer Observer
	metrics  *Metrics
	log      *slog.Logger
	draining atomic.Bool
	stopOnce sync.Once // Shutdown's stop of the loops and workers
	reactor  *reactor  // nil: idle connections wait in their goroutine
	// one log line a second at most for "connection dropped", failed
	// accepts and dials out of file descriptors
	dropLog, acceptLog, dialLog lograte.Limiter

	mu          sync.Mutex
	sessions    map[*session]struct{}
	wg          sync.WaitGroup
	handoff     chan *session // woken sessions to idle workers
	idleWorkers atomic.Int32
	stopWorkers chan struct{}

	// requests answered on an event loop, and handed from a loop to a
	// worker: tests assert which path a request took
	servedInline, handedOff atomic.Int64

	connPool  sync.Pool
	bufPool   sync.Pool
	upWriters sync.Pool
	bodyBufs  [2]sync.Pool // *[]byte of smallBody and pooledBody bytes: request bodies read whole
	buffered  bufferBudget // bytes held by bodies read whole (buffers.go)
	pipes     sock.Pipes
	reqIDs    requestIDs
	lingering atomic.Int32 // connections in lingerClose
	h2        *h2Front
}

// Observer is told how each upstream answered: the adaptive limiter's
// feed. Implementations must be cheap and safe for concurrent use.
type Observer interface {
	Observe(upstream string, latency time.Duration, failed bool)
}

// NewEngine returns an engine with no snapshot; Swap must be called before
// serving. It starts the reactor's loops (at least one; at most 64) that
// serve plain-TCP connections; Shutdown stops them.
func NewEngine(m *Metrics, log *slog.Logger, loops int) *Engine {
	e := &Engine{metrics: m, log: log, sessions: make(map[*session]struct{}),
		handoff: make(chan *session), stopWorkers: make(chan struct{})}
	e.connPool.New = func() any { return newClientConn(e) }
	e.bufPool.New = func() any { b := make([]byte, copyBufSize); return &b }
	e.upWriters.New = func() any { return bufio.NewWriterSize(nil, copyBufSize) }
	e.bodyBufs[0].New = func() any { b := make([]byte, smallBody); return &b }
	e.bodyBufs[1].New = func() any { b := make([]byte, pooledBody); return &b }
	e.reqIDs.init()
	e.h2 = newH2Front(m, log, &e.bufPool)
	r, err := newReactor(e, min(max(1, loops), maxLoops))
	if err != nil {
		log.Warn("epoll reactor unavailable; idle connections keep their goroutine", "err", err)
	} else {
		e.reactor = r
	}
	return e
}

// Swap installs a new snapshot and returns the previous one. Requests
// already in flight keep the snapshot they loaded.
func (e *Engine) Swap(s *Snapshot) *Snapshot { return e.snap.Swap(s) }

// Current returns the snapshot new requests use.
func (e *Engine) Current() *Snapshot { return e.snap.Load() }

// Serve accepts connections from l until it is closed. A failed accept
// (out of file descriptors, say) is retried after a pause that grows from
// 5 ms to 1 s while failures last (acceptBackoff). A plain TCP connection
// goes to an event loop as a bare socket (rawSession); others (TLS) are
// served by workers.
func (e *Engine) Serve(l net.Listener) error {
	b := e.newAcceptBackoff("client")
	for {
		c, err := l.Accept()
		if err != nil {
			if !b.failed(err) {
				return nil
			}
			continue
		}
		b.accepted()
		s, err := e.sessionFor(c)
		if err != nil {
			if ok, _ := e.dropLog.Allow(time.Now(), time.Second); ok {
				e.log.Error("connection dropped", "err", err, "peer", c.RemoteAddr().String())
			}
			continue
		}
		if !e.track(s) {
			s.closeConn()
			continue
		}
		if s.parkable() && e.reactor.adopt(s, e.snap.Load().Conf.Server.ReadHeaderTimeout) {
			continue // its loop serves it when the request arrives
		}
		e.dispatch(s)
	}
}

// newAcceptBackoff returns the backoff of one accept loop; the loops share
// one log throttle.
func (e *Engine) newAcceptBackoff(listener string) *acceptBackoff {
	return &acceptBackoff{listener: listener, log: e.log, throttle: &e.acceptLog, exhausted: e.metrics.fdAccept}
}

// sessionFor wraps an accepted connection: raw for an event loop when it
// is plain TCP and there are loops, else for workers.
func (e *Engine) sessionFor(c net.Conn) (*session, error) {
	if tc, ok := c.(*net.TCPConn); ok && e.reactor != nil {
		return rawSession(tc)
	}
	return newSession(c), nil
}

// workerIdle is how long a worker goroutine waits for a woken session
// before it exits.
const workerIdle = 10 * time.Second

// maxIdleWorkers bounds the workers waiting for a session; past it a
// worker whose session parked exits, returning its stack.
const maxIdleWorkers = 64

// worker serves s, then waits for the next session the reactor wakes, so a
// keep-alive request arriving on a parked connection costs a channel
// handoff rather than a new goroutine (and its allocation and stack growth).
func (e *Engine) worker(s *session) {
	defer e.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		e.serveSession(s)
		if e.idleWorkers.Add(1) > maxIdleWorkers {
			e.idleWorkers.Add(-1)
			return
		}
		idle.Reset(workerIdle)
		select {
		case s = <-e.handoff:
			e.idleWorkers.Add(-1)
		case <-idle.C:
			e.idleWorkers.Add(-1)
			return
		case <-e.stopWorkers:
			e.idleWorkers.Add(-1)
			return
		}
	}
}

// dispatch hands a readable session to a waiting worker, or starts one.
func (e *Engine) dispatch(s *session) {
	select {
	case e.handoff <- s:
	default:
		e.wg.Add(1)
		go e.worker(s)
	}
}

// run serves a session from its own goroutine until it is parked or closed.
func (e *Engine) run(s *session) {
	defer e.wg.Done()
	e.serveSession(s)
}

// serveSession serves s until it is parked or closed. A session handed
// over by an event loop comes with its clientConn and the point its
// request reached.
func (e *Engine) serveSession(s *session) {
	cc, resumed := s.cc, s.cc != nil
	s.cc = nil
	c, err := e.sessionConn(s)
	if err != nil {
		e.dropSession(s, cc, err)
		return
	}
	if resumed {
		cc.c, cc.cio.c = c, c
	} else {
		cc = e.connPool.Get().(*clientConn)
		cc.attach(s)
	}
	parked := false
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("connection handler panicked", "panic", r)
			if cc != nil {
				e.abortExchange(cc)
			}
		}
		if cc != nil {
			cc.detach()
			e.connPool.Put(cc)
		}
		if !parked {
			e.closeSession(s)
		}
	}()
	if h2 := resumed && cc.stage == stageH2 || !resumed && s.fresh && s.proto == protoH1 && cc.h2Wanted(e.snap.Load()); h2 {
		// The HTTP/2 connection keeps no clientConn (its buffers are
		// for HTTP/1.1): its streams take their own.
		pre := cc.takeBuffered()
		cc.detach()
		e.connPool.Put(cc)
		cc = nil
		e.serveH2(s, c, pre)
		return
	}
	if resumed {
		// An HTTP/2 stream carries one request: only its head, too large
		// for the loop, is still to be read.
		if goOn := cc.resume(); !goOn || s.stream != nil && cc.stage != stageHead {
			cc.w.Flush()
			return
		}
	}
	parked = cc.serve()
}

// dropSession closes a session that cannot be served (no net.Conn could be
// made for its worker, say); cc, if not nil, carries the request a loop
// was handing over, whose exchange is ended and upstream connection closed.
// It logs at most once a second: out of descriptors, it could happen for
// every request.
func (e *Engine) dropSession(s *session, cc *clientConn, err error) {
	if ok, _ := e.dropLog.Allow(time.Now(), time.Second); ok {
		e.log.Error("connection dropped", "err", err, "peer", s.peer.String())
	}
	if cc != nil {
		e.abortExchange(cc)
		if conn := cc.fs.conn; conn != nil {
			conn.Close()
			cc.fs.conn = nil
		}
		cc.detach()
		e.connPool.Put(cc)
	}
	e.closeSession(s)
}

// abortExchange ends the exchange of a request that will not finish (its
// serving panicked, say), so that what its filters took (a concurrency
// slot) is given back. An ender that panics is logged.
func (e *Engine) abortExchange(cc *clientConn) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("ending an exchange panicked", "panic", v)
		}
	}()
	cc.releaseShare()
	cc.x.End()
}

func (e *Engine) track(s *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.draining.Load() {
		return false
	}
	e.sessions[s] = struct{}{}
	e.metrics.activeConns.Inc()
	return true
}

// closeSession closes a connection for good.
func (e *Engine) closeSession(s *session) {
	if sc := s.stream; sc != nil { // an HTTP/2 stream a loop took: it ends
		s.stream = nil
		sc.Finish()
		return
	}
	e.mu.Lock()
	_, ok := e.sessions[s]
	delete(e.sessions, s)
	e.mu.Unlock()
	if !ok {
		return
	}
	e.metrics.activeConns.Dec()
	if s.registered && e.reactor != nil {
		e.reactor.forget(s)
	}
	if s.linger {
		e.lingerClose(s)
		return
	}
	s.closeConn()
}

// Shutdown stops keep-alive: every answer from now on closes its
// connection. Connections waiting for their next request get up to
// keepAliveGrace to send it (lingerIdle); then parked connections are
// closed, connections waiting in their goroutine woken, in-flight requests
// (and tunnels) waited for until ctx ends, and what is left closed.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() { // a second Shutdown only waits
		e.draining.Store(true)
		e.h2.goAway()
		e.lingerIdle(ctx, keepAliveGrace)
		if e.reactor != nil {
			e.reactor.stop()
		}
		close(e.stopWorkers)
	})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if e.wakeIdle() == 0 {
			e.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			e.closeAll()
			e.wg.Wait()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// wakeIdle wakes connections idling in their goroutine and returns how
// many connections remain open.
func (e *Engine) wakeIdle() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.sessions {
		if s.state.Load() == stateIdle && s.c != nil {
			s.c.SetReadDeadline(time.Unix(1, 0))
		}
	}
	return len(e.sessions)
}

func (e *Engine) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.sessions {
		// Not closed: the owner closes it, and a closed fd could be
		// reused by a new connection under a loop still using it.
		if s.ownFD {
			unix.Shutdown(s.fd, unix.SHUT_RDWR)
		}
		if s.c != nil {
			s.c.Close()
		}
	}
}

func (e *Engine) getBuf() *[]byte  { return e.bufPool.Get().(*[]byte) }
func (e *Engine) putBuf(b *[]byte) { e.bufPool.Put(b) }

// writerOnly hides ReadFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }

// clientConn is the heavy, pooled state that serves a session while it
// is active: the connection's buffers and, embedded, the exchange of the
// request being served. A parked session gives it back.
type clientConn struct {
	e *Engine
	s *session
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer

	cio     clientIO // what r and w read and write
	cr      http1.ChunkedReader
	scratch []byte
	lr      io.LimitedReader
	tag     readTagger
	wo      writerOnly
	inR     idleReader // a worker's relay: reads re-arm idle_timeout (idle.go)
	outW    idleWriter // ... and so do writes

	// gatherBuf is the pooled buffer a small request body is read into;
	// gathered is the body read so far (see bodybuffer.go).
	gatherBuf *[]byte
	gathered  []byte
	// reserved is what this connection's bodies read whole hold of the
	// engine's bufferBudget.
	reserved int64

	exchange
}

func newClientConn(e *Engine) *clientConn {
	cc := &clientConn{
		e:       e,
		r:       bufio.NewReaderSize(nil, readBufSize),
		w:       bufio.NewWriterSize(nil, writeBufSize),
		scratch: make([]byte, 0, 1024),
	}
	return cc
}

// attach serves s from a goroutine: reads and writes may wait.
func (cc *clientConn) attach(s *session) { cc.attachMode(s, false) }

// attachLoop serves s from its event loop: reads and writes never wait.
func (cc *clientConn) attachLoop(s *session) { cc.attachMode(s, true) }

func (cc *clientConn) attachMode(s *session, loop bool) {
	cc.s, cc.c = s, s.c
	cc.cio.attach(s, loop)
	cc.r.Reset(&cc.cio)
	cc.w.Reset(&cc.cio)
}

func (cc *clientConn) detach() {
	cc.s, cc.c = nil, nil
	cc.r.Reset(nil)
	cc.w.Reset(nil)
	cc.cio.detach()
	cc.releaseGathered()
	cc.releaseBodies()
	cc.exchange.clear()
}

// serve runs the keep-alive loop: wait for a request, serve it, repeat.
// It returns true when the session was parked in the reactor (and is no
// longer this goroutine's), false when the connection should close.
func (cc *clientConn) serve() bool {
	for {
		snap := cc.e.snap.Load()
		ok, parked := cc.awaitRequest(snap)
		if !ok || parked {
			return parked
		}
		cc.s.state.Store(stateActive)
		keep := cc.serveOne(snap)
		cc.s.state.Store(stateIdle)
		if !keep || cc.e.draining.Load() {
			cc.w.Flush()
			return false
		}
	}
}

// awaitRequest flushes pending responses and waits for the next request's
// first byte, then arms read_header_timeout. parked means the session now
// belongs to the reactor.
func (cc *clientConn) awaitRequest(snap *Snapshot) (ok, parked bool) {
	if cc.r.Buffered() == 0 && !cc.s.fresh {
		if cc.w.Flush() != nil || cc.e.draining.Load() {
			return false, false
		}
		if ok, parked = cc.waitNext(snap); !ok {
			return false, parked
		}
	}
	cc.s.fresh = false
	cc.start = time.Now()
	if !cc.headBuffered() {
		cc.c.SetReadDeadline(cc.start.Add(snap.Conf.Server.ReadHeaderTimeout))
	}
	if idle := snap.Conf.Server.IdleTimeout; !cc.start.Before(cc.s.writeRearm) {
		cc.c.SetWriteDeadline(cc.start.Add(idle))
		cc.s.writeRearm = cc.start.Add(idle / 2)
	}
	return true, false
}

// waitNext waits for the next request: in this goroutine for up to
// idle_timeout when the connection cannot be parked; otherwise the
// connection is parked in its event loop, which serves what comes next.
// A read error other than the wait ending closes it.
func (cc *clientConn) waitNext(snap *Snapshot) (ok, parked bool) {
	idle := snap.Conf.Server.IdleTimeout
	if !cc.s.parkable() || cc.e.reactor == nil {
		return cc.peekWithin(idle) == nil, false
	}
	cc.c.SetDeadline(time.Time{}) // the loop's raw reads and writes must not see an old deadline
	return false, cc.e.reactor.park(cc.s, idle)
}

// peekWithin waits up to d for a byte from the client.
func (cc *clientConn) peekWithin(d time.Duration) error {
	cc.c.SetReadDeadline(time.Now().Add(d))
	_, err := cc.r.Peek(1)
	return err
}

// headBuffered reports that a whole request head is already buffered (or
// one that will be refused at once), so reading it cannot block and needs
// no read_header_timeout.
func (cc *clientConn) headBuffered() bool {
	b, _ := cc.r.Peek(cc.r.Buffered())
	for len(b) > 0 { // readHead skips blank lines before the request line: so must we
		if b[0] == '\n' {
			b = b[1:]
		} else if len(b) > 1 && b[0] == '\r' && b[1] == '\n' {
			b = b[2:]
		} else {
			break
		}
	}
	return wholeHead(b)
}

// wholeHead reports that b holds a whole head, or one that is refused as
// soon as it is read (a bare LF): either way, reading it cannot wait.
func wholeHead(b []byte) bool { return bytes.Contains(b, crlfcrlf) || hasBareLF(b) }

var crlfcrlf = []byte("\r\n\r\n")

// hasBareLF reports a line ended by LF alone: the head is refused as soon
// as it is read (http1.ErrBareLF), so nothing more need be waited for.
func hasBareLF(b []byte) bool {
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}
