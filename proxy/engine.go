package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/plugins"
)

// Buffer sizes of a client connection.
const (
	readBufSize  = 4096
	writeBufSize = 4096
	copyBufSize  = 32 << 10
	// spliceThreshold is the remaining body length above which bytes go
	// socket to socket (splice(2) inside net.TCPConn.ReadFrom) instead of
	// through a user-space buffer.
	spliceThreshold = 64 << 10
	// discardLimit bounds the unread body the engine reads and drops to keep
	// a connection alive after answering a request itself.
	discardLimit = 64 << 10
)

// Connection states tracked for graceful shutdown.
const (
	stateIdle int32 = iota
	stateActive
)

// Engine is the HTTP/1.1 engine: it owns the connection loop on the client
// side and forwards each request through the current snapshot. It is
// long-lived; snapshots are swapped under it.
type Engine struct {
	snap     atomic.Pointer[Snapshot]
	observer Observer
	metrics  *Metrics
	log      *slog.Logger
	draining atomic.Bool

	mu    sync.Mutex
	conns map[*clientConn]struct{}
	wg    sync.WaitGroup

	connPool  sync.Pool
	bufPool   sync.Pool
	upWriters sync.Pool
	reqIDs    requestIDs
}

// Observer is told how each upstream answered: the adaptive limiter's
// feed. Implementations must be cheap and safe for concurrent use.
type Observer interface {
	Observe(upstream string, latency time.Duration, failed bool)
}

// NewEngine returns an engine with no snapshot; Swap must be called before
// serving.
func NewEngine(m *Metrics, log *slog.Logger) *Engine {
	e := &Engine{metrics: m, log: log, conns: make(map[*clientConn]struct{})}
	e.connPool.New = func() any { return newClientConn(e) }
	e.bufPool.New = func() any { b := make([]byte, copyBufSize); return &b }
	e.upWriters.New = func() any { return bufio.NewWriterSize(nil, copyBufSize) }
	e.reqIDs.init()
	return e
}

// Swap installs a new snapshot and returns the previous one. Requests
// already in flight keep the snapshot they loaded.
func (e *Engine) Swap(s *Snapshot) *Snapshot { return e.snap.Swap(s) }

// Current returns the snapshot new requests use.
func (e *Engine) Current() *Snapshot { return e.snap.Load() }

// Serve accepts connections from l until it is closed.
func (e *Engine) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			e.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e.wg.Add(1)
		go e.handle(c)
	}
}

func (e *Engine) handle(c net.Conn) {
	defer e.wg.Done()
	cc := e.connPool.Get().(*clientConn)
	cc.attach(c)
	if !e.track(cc) {
		c.Close()
		cc.detach()
		e.connPool.Put(cc)
		return
	}
	e.metrics.activeConns.Inc()
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("connection handler panicked", "panic", r)
		}
		e.metrics.activeConns.Dec()
		e.untrack(cc)
		c.Close()
		cc.detach()
		e.connPool.Put(cc)
	}()
	cc.serve()
}

func (e *Engine) track(cc *clientConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.draining.Load() {
		return false
	}
	e.conns[cc] = struct{}{}
	return true
}

func (e *Engine) untrack(cc *clientConn) {
	e.mu.Lock()
	delete(e.conns, cc)
	e.mu.Unlock()
}

// Shutdown stops keep-alive, wakes idle connections so they close, waits
// for in-flight requests until ctx ends, then closes what is left.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.draining.Store(true)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if e.closeIdle() == 0 {
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

// closeIdle wakes idle connections and returns how many remain open.
func (e *Engine) closeIdle() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for cc := range e.conns {
		if cc.state.Load() == stateIdle {
			cc.c.SetReadDeadline(time.Unix(1, 0))
		}
	}
	return len(e.conns)
}

func (e *Engine) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for cc := range e.conns {
		cc.c.Close()
	}
}

func (e *Engine) getBuf() *[]byte  { return e.bufPool.Get().(*[]byte) }
func (e *Engine) putBuf(b *[]byte) { e.bufPool.Put(b) }

// clientConn is one client connection and the per-request state reused
// across its requests.
type clientConn struct {
	e     *Engine
	c     net.Conn
	tcp   *net.TCPConn // nil when TLS
	isTLS bool
	r     *bufio.Reader
	w     *bufio.Writer
	peer  netip.AddrPort
	state atomic.Int32

	q       request
	p       response
	x       plugins.Exchange
	reply   Header
	cr      chunkedReader
	scratch []byte
	start   time.Time

	body        bodyState
	sent100     bool
	nothingRead bool
	reqID       []byte
	lr          io.LimitedReader
	tag         readTagger
	wo          writerOnly
}

func newClientConn(e *Engine) *clientConn {
	return &clientConn{
		e:       e,
		r:       bufio.NewReaderSize(nil, readBufSize),
		w:       bufio.NewWriterSize(nil, writeBufSize),
		scratch: make([]byte, 0, 1024),
	}
}

func (cc *clientConn) attach(c net.Conn) {
	cc.c = c
	cc.r.Reset(c)
	cc.w.Reset(c)
	cc.tcp, _ = c.(*net.TCPConn)
	_, cc.isTLS = c.(*tls.Conn)
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		cc.peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	cc.state.Store(stateIdle)
}

func (cc *clientConn) detach() {
	cc.c, cc.tcp = nil, nil
	cc.r.Reset(nil)
	cc.w.Reset(nil)
	cc.x.Reset()
}

// serve runs the keep-alive loop: wait for a request, serve it, repeat.
func (cc *clientConn) serve() {
	for {
		snap := cc.e.snap.Load()
		if !cc.awaitRequest(snap) {
			return
		}
		cc.state.Store(stateActive)
		keep := cc.serveOne(snap)
		cc.state.Store(stateIdle)
		if !keep || cc.e.draining.Load() {
			cc.w.Flush()
			return
		}
	}
}

// awaitRequest flushes pending responses and waits up to idle_timeout for
// the next request's first byte, then arms read_header_timeout.
func (cc *clientConn) awaitRequest(snap *Snapshot) bool {
	if cc.r.Buffered() == 0 {
		if cc.w.Flush() != nil || cc.e.draining.Load() {
			return false
		}
		cc.c.SetReadDeadline(time.Now().Add(snap.Conf.Server.IdleTimeout))
		if _, err := cc.r.Peek(1); err != nil {
			return false
		}
	}
	cc.start = time.Now()
	cc.c.SetReadDeadline(cc.start.Add(snap.Conf.Server.ReadHeaderTimeout))
	return true
}

// writerOnly hides ReadFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }
