package h2stream

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/proxy/h2srv"
)

// Server serves HTTP/2 client connections (ServeConn), each stream handed
// to Config.Serve as a Conn. It keeps what connections share: the pools of
// buffers and Conns, the goroutines that run streams, and the registry of
// live connections that GoAway tells to finish.
type Server struct {
	conns     sync.Pool  // *Conn
	bodyBufs  *sync.Pool // *[]byte: request bodies are read through them
	readBufs  sync.Pool  // *[]byte, readBufSize
	writeBufs sync.Pool  // *[]byte: pending output

	work chan *Conn // a stream for an idle runner

	shards atomic.Uint32 // numbers connections for Conn.Shard

	mu       sync.Mutex
	live     map[*conn]struct{}
	goneAway bool
}

// Config is what one connection is served with (the config snapshot it
// started under).
type Config struct {
	// H2 is the connection's HTTP/2 settings and bounds; MaxOutput also
	// bounds the bytes waiting to be written to the client.
	H2 h2srv.Config
	// IdleTimeout closes a connection with no stream open for that long
	// (GOAWAY, then close); it also bounds a write that makes no progress.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the client preface and each header block,
	// from its first bytes to its END_HEADERS.
	ReadHeaderTimeout time.Duration
	// Serve serves one stream: it reads the request from c and writes
	// the answer, and returns when the exchange is done. It runs on a
	// goroutine of its own (a runner kept for later streams).
	Serve func(c *Conn)
	// Inline, when set, is offered each stream whose request is whole
	// with its head or has a declared length (the connection's mutex
	// held: it must not block or call into the Conn). taken: it took the
	// stream, then made non-blocking (held.go), to serve elsewhere — an
	// event loop — and to end with Finish; its writes wait for b's Flush
	// (batch.go) when b is not nil. Not taken leaves the stream to Serve
	// on a runner.
	Inline func(c *Conn) (b *Batch, taken bool)
	// ConnError is told of a connection ended for the client's protocol
	// error (a GOAWAY with its code was sent).
	ConnError func(peer net.Addr, err *h2srv.ConnError)
	// HeaderTimeout is told of a connection closed because the preface or
	// a header block did not arrive within ReadHeaderTimeout.
	HeaderTimeout func(peer net.Addr)
}

// runnerIdle is how long a runner waits for another stream before it
// exits.
const runnerIdle = 30 * time.Second

// NewServer returns a Server whose streams read request bodies through
// the buffers (*[]byte) bodyBufs lends.
func NewServer(bodyBufs *sync.Pool) *Server {
	srv := &Server{bodyBufs: bodyBufs, work: make(chan *Conn), live: make(map[*conn]struct{})}
	srv.conns.New = func() any { return newConn() }
	srv.readBufs.New = func() any { b := make([]byte, readBufSize); return &b }
	srv.writeBufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	return srv
}

// ServeConn serves the HTTP/2 connection nc until it ends; pre holds the
// bytes already read from it (the preface, maybe frames). nc's deadlines
// are the driver's from now on.
func (srv *Server) ServeConn(nc net.Conn, pre []byte, cfg Config) {
	cn := newDriver(srv, nc, cfg)
	if !srv.register(cn) {
		cn.mu.Lock()
		cn.h2.GoAway()
		cn.mu.Unlock()
	}
	defer srv.unregister(cn)
	cn.serve(pre)
}

// GoAway tells every connection, and those that start from now on, to
// finish the streams it has and close: a GOAWAY naming the last stream
// the client opened; the connection closes when its streams are done.
func (srv *Server) GoAway() {
	srv.mu.Lock()
	srv.goneAway = true
	live := make([]*conn, 0, len(srv.live))
	for cn := range srv.live {
		live = append(live, cn)
	}
	srv.mu.Unlock()
	for _, cn := range live {
		cn.goAway()
	}
}

// register adds a live connection; false when the server has gone away.
func (srv *Server) register(cn *conn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.live[cn] = struct{}{}
	return !srv.goneAway
}

func (srv *Server) unregister(cn *conn) {
	srv.mu.Lock()
	delete(srv.live, cn)
	srv.mu.Unlock()
}

// run has a runner serve c: an idle one when there is one, else a new
// one. It never blocks (the connection's mutex is held).
func (srv *Server) run(c *Conn, serve func(*Conn)) {
	c.serve = serve
	select {
	case srv.work <- c:
	default:
		go srv.runner(c)
	}
}

// runner serves streams, one at a time, until none came for runnerIdle.
// Its stack, grown by the first exchange, stays grown for the next ones.
func (srv *Server) runner(c *Conn) {
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		srv.serveStream(c)
		idle.Reset(runnerIdle)
		select {
		case c = <-srv.work:
		case <-idle.C:
			return
		}
	}
}

// Shard returns a number its connection got when it started, the same
// for all its streams: who serves streams elsewhere (Config.Inline) may
// keep a connection's streams together by it.
func (c *Conn) Shard() uint32 { return c.cn.shard }

// Finish ends a stream Config.Inline took, once its exchange is done:
// c is closed (see Close) and goes back to its server's pool.
func (c *Conn) Finish() {
	srv := c.cn.srv
	c.Close()
	c.release()
	srv.conns.Put(c)
}

// serveStream serves one stream and gives its Conn back.
func (srv *Server) serveStream(c *Conn) {
	c.serve(c)
	c.Finish()
}
