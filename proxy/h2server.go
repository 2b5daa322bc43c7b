//lint:file-ignore SA1019 net/http's own HTTP/2 (its recommended replacement) cannot serve one connection that was already accepted and sniffed; http2.Server.ServeConn can, and it is the same code.

package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"tollgate/internal/lograte"
	"tollgate/proxy/h2stream"
)

// HTTP/2 clients.
//
// A connection speaks HTTP/2 when TLS negotiated "h2" by ALPN, or, in
// cleartext, when its first bytes are the HTTP/2 connection preface
// (prior knowledge, as gRPC clients use it): the same listeners serve
// both protocols. golang.org/x/net/http2's server runs the connection —
// framing, HPACK, flow control, SETTINGS, PING, GOAWAY, and its limits on
// concurrent streams, header list size, CONTINUATION frames, resets and
// queued control frames (the rapid-reset and CONTINUATION-flood attacks
// cost a bounded amount per connection). Each stream it hands over is
// served by the one exchange every HTTP/1.1 request goes through: the
// stream, seen as an HTTP/1.1 connection carrying one request
// (proxy/h2stream), is a session of its own, served on the stream's
// goroutine. So routing, auth, quotas (each stream is one request;
// concurrency counts streams in flight), plugins, breakers, retries,
// metrics and the access log are the same code.
//
// The HTTP/2 connection is the session the listener accepted: it counts
// as an open connection, is active while the server runs it, and on
// shutdown gets a GOAWAY, its streams finishing within shutdown_timeout.

// h2Preface is the client connection preface of RFC 9113 section 3.4.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Front is the engine's HTTP/2 server: one x/net server per stream
// limit the config asked for (server.http2.max_concurrent_streams; a
// connection keeps the limit it started with), all registered with one
// http.Server whose graceful shutdown sends every connection a GOAWAY.
type h2Front struct {
	m         *Metrics
	base      *http.Server
	resetLog  lograte.Limiter // connections the rapid-reset guard ended
	headerLog lograte.Limiter // connections whose header block did not arrive in time
	readBufs  *h2ReadBufs     // cleartext connections' read buffers (h2conn.go)
	streams   *h2stream.Streams
	// writeBufs are the buffers (*[]byte) of batched writes to
	// cleartext connections (h2writer.go)
	writeBufs sync.Pool

	mu   sync.Mutex
	srvs map[int]*http2.Server
}

// newH2Front returns the HTTP/2 server of an engine; bufs lends streams
// the buffers their request bodies are read through.
func newH2Front(m *Metrics, logger *slog.Logger, bufs *sync.Pool) *h2Front {
	f := &h2Front{m: m, base: &http.Server{ErrorLog: log.New(&h2ErrorLog{log: logger}, "", 0)},
		srvs: map[int]*http2.Server{}, readBufs: newH2ReadBufs(), streams: h2stream.NewStreams(bufs)}
	f.writeBufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	return f
}

// server returns the HTTP/2 server for a stream limit, made once.
func (f *h2Front) server(maxStreams int) *http2.Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	if srv := f.srvs[maxStreams]; srv != nil {
		return srv
	}
	srv := &http2.Server{
		MaxConcurrentStreams: uint32(maxStreams),
		// The frame size every peer must accept (RFC 9113 section
		// 4.2), advertised so: a larger frame is a FRAME_SIZE_ERROR
		// (h2spec http2/4.2) instead of up to 1 MiB per frame read.
		MaxReadFrameSize: 16 << 10,
		CountError:       f.m.countH2Error,
	}
	http2.ConfigureServer(f.base, srv) // registers srv's connections for the GOAWAY on shutdown
	f.srvs[maxStreams] = srv
	return srv
}

// h2ErrorLog is x/net's server log written to the gateway's: the
// connection errors it ends a connection for (a CONTINUATION flood, a
// malformed or oversized frame) are warnings, at most one a second.
type h2ErrorLog struct {
	log   *slog.Logger
	limit lograte.Limiter
}

// Write logs one line of x/net's server log as a warning, unless one was
// logged less than a second ago.
func (w *h2ErrorLog) Write(p []byte) (int, error) {
	if ok, n := w.limit.Allow(time.Now(), time.Second); ok {
		w.log.Warn("HTTP/2 client connection", "event", strings.TrimSpace(string(p)), "suppressed", n)
	}
	return len(p), nil
}

// goAway tells every HTTP/2 connection to finish its streams and close.
func (f *h2Front) goAway() {
	go f.base.Shutdown(context.Background())
}

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
		return tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS
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
	base := &http.Server{
		ErrorLog:       e.h2.base.ErrorLog,
		IdleTimeout:    snap.Conf.Server.IdleTimeout,
		MaxHeaderBytes: snap.Conf.Server.MaxHeaderBytes,
	}
	e.metrics.h2Conns.Inc()
	defer e.metrics.h2Conns.Dec()
	guarded := e.guardClient(e.h2ClientConn(c, pre), snap.Conf.Server.ReadHeaderTimeout)
	e.h2.server(snap.Conf.Server.HTTP2.MaxConcurrentStreams).ServeConn(guarded, &http2.ServeConnOpts{
		BaseConfig: base,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.serveStream(c, w, r)
		}),
	})
}

// serveStream serves one stream as a request of its own. An answer cut
// short (the upstream failed mid-body) resets the stream instead of
// ending it as if whole.
func (e *Engine) serveStream(c net.Conn, w http.ResponseWriter, r *http.Request) {
	sc := e.h2.streams.Open(w, r, c.LocalAddr(), c.RemoteAddr())
	s := newSession(sc)
	s.proto = protoH2
	e.serveSession(s) // s is not tracked: closing it is this goroutine's
	sc.Close()
	complete := sc.Complete()
	sc.Release()
	if !complete {
		panic(http.ErrAbortHandler)
	}
}

// takeBuffered returns a copy of what cc's reader holds.
func (cc *clientConn) takeBuffered() []byte {
	b, _ := cc.r.Peek(cc.r.Buffered())
	return bytes.Clone(b)
}
