package proxy

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"tollgate/internal/lograte"
	"tollgate/proxy/h2srv"
	"tollgate/proxy/h2stream"
)

// HTTP/2 clients.
//
// A connection speaks HTTP/2 when TLS negotiated "h2" by ALPN, or, in
// cleartext, when its first bytes are the HTTP/2 connection preface
// (prior knowledge, as gRPC clients use it): the same listeners serve
// both protocols. The connection is driven by package h2stream (one
// goroutine reading the client and feeding h2srv, the sans-I/O HTTP/2
// server: framing, HPACK, flow control, SETTINGS, PING, GOAWAY, and its
// bounds on concurrent streams, header list size, CONTINUATION frames,
// resets and control frames — the rapid-reset and CONTINUATION-flood
// attacks cost a bounded amount per connection). Each stream is served
// by the one exchange every HTTP/1.1 request goes through: the stream,
// seen as an HTTP/1.1 connection carrying one request (h2stream.Conn),
// is a session of its own. A stream whose request ended with its head or
// has a declared length is posted to an event loop, which serves it as it
// serves an HTTP/1.1 request, never waiting on the stream (it reads and
// writes without blocking; a body not yet whole, or an answer the
// client's window holds back, hands it to a worker); a stream whose body
// streams (gRPC) is served on a runner goroutine. So routing,
// auth, quotas (each stream is one request; concurrency counts streams
// in flight), plugins, breakers, retries, metrics and the access log are
// the same code.
//
// The HTTP/2 connection is the session the listener accepted: it counts
// as an open connection, is active while the driver runs it, and on
// shutdown gets a GOAWAY, its streams finishing within shutdown_timeout.

// h2Preface is the client connection preface of RFC 9113 section 3.4.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Front is the engine's HTTP/2 server: h2stream's driver over h2srv,
// which keeps the registry of live connections that shutdown tells to go
// away.
type h2Front struct {
	m         *Metrics
	log       *slog.Logger
	srv       *h2stream.Server
	errLog    lograte.Limiter // connections ended for a protocol error
	resetLog  lograte.Limiter // connections ended for rapid resets
	headerLog lograte.Limiter // connections whose header block did not arrive in time
}

// newH2Front returns the HTTP/2 server of an engine; bufs lends streams
// the buffers their request bodies are read through.
func newH2Front(m *Metrics, logger *slog.Logger, bufs *sync.Pool) *h2Front {
	return &h2Front{m: m, log: logger, srv: h2stream.NewServer(bufs)}
}

// h2StreamWindow is each stream's receive window: the request body bytes
// a stream may have received and not yet read (its Conn buffers them).
// 256 KiB keeps a gRPC upload moving at loopback speed; the connection's
// window (4 MiB, h2srv's default) bounds what all its streams hold.
const h2StreamWindow = 256 << 10

// config is what a connection starting under snap is served with.
func (f *h2Front) config(e *Engine, snap *Snapshot) h2stream.Config {
	sc := &snap.Conf.Server
	return h2stream.Config{
		H2: h2srv.Config{
			MaxConcurrentStreams: uint32(sc.HTTP2.MaxConcurrentStreams),
			MaxHeaderListSize:    uint32(max(sc.MaxHeaderBytes, 0)),
			InitialWindowSize:    h2StreamWindow,
			StreamError:          f.m.countH2Error,
		},
		IdleTimeout:       sc.IdleTimeout,
		ReadHeaderTimeout: sc.ReadHeaderTimeout,
		Serve:             e.serveStream,
		Inline:            e.inlineFunc(),
		ConnError:         f.connError,
		HeaderTimeout: func(peer net.Addr) {
			f.m.countH2Error("read_header_timeout")
			if ok, n := f.headerLog.Allow(time.Now(), time.Second); ok {
				f.log.Warn("HTTP/2 connection closed: a request's header block did not arrive within read_header_timeout",
					"peer", peer.String(), "read_header_timeout", sc.ReadHeaderTimeout.String(), "suppressed", n)
			}
		},
	}
}

// connError counts and logs (at most a line a second) a connection ended
// for the client's protocol error.
func (f *h2Front) connError(peer net.Addr, err *h2srv.ConnError) {
	kind := err.Kind()
	f.m.countH2Error(kind)
	if kind == "rapid_reset" {
		if ok, n := f.resetLog.Allow(time.Now(), time.Second); ok {
			f.log.Warn("HTTP/2 connection closed: the client resets streams faster than allowed (rapid reset)",
				"peer", peer.String(), "suppressed", n)
		}
		return
	}
	if ok, n := f.errLog.Allow(time.Now(), time.Second); ok {
		f.log.Warn("HTTP/2 client connection", "event", err.Error(), "type", kind, "peer", peer.String(), "suppressed", n)
	}
}

// goAway tells every HTTP/2 connection to finish its streams and close.
func (f *h2Front) goAway() { f.srv.GoAway() }

// prefaceStart reports whether b begins as the HTTP/2 preface does (b is
// the preface, a part of it, or the preface and more).
func prefaceStart(b []byte) bool {
	n := min(len(b), len(h2Preface))
	return n > 0 && string(b[:n]) == h2Preface[:n]
}

// h2Buffered reports that the buffered start of a new connection is the
// HTTP/2 preface (on a loop: what arrived is all there is to look at).
func (cc *clientConn) h2Buffered() bool {
	b, _ := cc.r.Peek(cc.r.Buffered())
	return len(b) >= len("PRI * HTTP/2.0\r\n") && prefaceStart(b) && cc.e.snap.Load().Conf.Server.HTTP2.Enabled
}

// h2Wanted reports, for a new connection a worker serves, whether it
// speaks HTTP/2: "h2" negotiated by TLS (the handshake is done here,
// within read_header_timeout), or the preface in cleartext (read only as
// far as the first byte that differs from it).
func (cc *clientConn) h2Wanted(snap *Snapshot) bool {
	if !snap.Conf.Server.HTTP2.Enabled {
		return false
	}
	cc.c.SetReadDeadline(time.Now().Add(snap.Conf.Server.ReadHeaderTimeout))
	if tc, ok := cc.c.(*tls.Conn); ok {
		if tc.Handshake() != nil {
			return false // the read that follows fails the same way and closes
		}
		return tc.ConnectionState().NegotiatedProtocol == "h2"
	}
	for {
		b, _ := cc.r.Peek(cc.r.Buffered())
		if !prefaceStart(b) && len(b) > 0 || len(b) >= len(h2Preface) {
			return len(b) >= len(h2Preface) && prefaceStart(b)
		}
		if _, err := cc.r.Peek(len(b) + 1); err != nil {
			return false
		}
	}
}

// serveH2 runs an HTTP/2 connection until it ends; pre holds the bytes
// already read from c (the preface, maybe frames).
func (e *Engine) serveH2(s *session, c net.Conn, pre []byte) {
	snap := e.snap.Load()
	s.state.Store(stateActive)
	c.SetReadDeadline(time.Time{})
	c.SetWriteDeadline(time.Time{})
	e.metrics.h2Conns.Inc()
	defer e.metrics.h2Conns.Dec()
	e.h2.srv.ServeConn(c, pre, e.h2.config(e, snap))
}

// serveStream serves one stream as a request of its own, on a runner of
// the HTTP/2 server; the runner closes the stream's Conn after (an answer
// cut short resets the stream instead of ending it as if whole).
func (e *Engine) serveStream(sc *h2stream.Conn) {
	s := newSession(sc)
	s.proto = protoH2
	e.serveSession(s) // s is not tracked: closing it is this goroutine's
}

// inlineFunc returns the hook that serves streams on the event loops, or
// nil when the engine has none.
func (e *Engine) inlineFunc() func(*h2stream.Conn) (*h2stream.Batch, bool) {
	if e.reactor == nil {
		return nil
	}
	return e.inlineStream
}

// inlineStream gives a new stream to an event loop, which serves it as a
// session of its own through the same exchange as an HTTP/1.1 request,
// never waiting on it: a body or a client window it would wait for sends
// it to a worker (await), as for any session. A connection's streams all
// go to one loop (as an nginx worker serves a connection's streams): one
// wake of the loop for the streams a read of the client opened, and their
// answers leave together at the end of its turn (the loop's Batch). Not
// taken: the loops stopped.
func (e *Engine) inlineStream(sc *h2stream.Conn) (*h2stream.Batch, bool) {
	r := e.reactor
	s := newSession(sc)
	s.proto, s.stream = protoH2, sc
	s.loop = r.loops[int(sc.Shard())%len(r.loops)]
	return &s.loop.h2out, s.loop.post(s)
}

// takeBuffered returns a copy of what cc's reader holds.
func (cc *clientConn) takeBuffered() []byte {
	b, _ := cc.r.Peek(cc.r.Buffered())
	return bytes.Clone(b)
}
