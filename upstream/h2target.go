package upstream

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"tollgate/conf"
	"tollgate/upstream/h2"
)

// Targets over HTTP/2 (upstreams.NAME.protocol: h2c or h2).
//
// Such a target's pool lends Bridges (package upstream/h2) instead of
// sockets: each is a Conn whose net.Conn turns the exchange's HTTP/1.1
// into one stream on the target's few multiplexed HTTP/2 connections.
// max_conns_per_target bounds the streams in flight (each lent Bridge
// holds one) and max_idle_per_target the idle Bridges; the HTTP/2
// connections themselves are as few as the server's stream limit allows,
// each closed after idle_timeout without streams. Acquire reserves the
// stream, dialling a connection when every open one is full: a failure
// there is the try's connect failure (a *DialError), as for a TCP target.
// A Bridge has no socket (Sock has no descriptor): the event loops lend
// none (AcquireIdle) and an exchange that takes one runs on a worker.

// newH2Pool returns the HTTP/2 connection pool of a new h2c or h2 target,
// nil for an HTTP/1.1 one.
func (t *Target) newH2Pool() *h2.Pool {
	if t.key.proto != conf.ProtocolH2C && t.key.proto != conf.ProtocolH2 {
		return nil
	}
	var tc *tls.Config
	if t.key.proto == conf.ProtocolH2 && t.tls != nil {
		tc = t.tls.Clone() // shares the session cache
		tc.NextProtos = []string{"h2"}
	}
	return h2.NewPool(h2.Options{
		Addr:        t.Addr,
		TLS:         tc != nil,
		Dial:        func(deadline time.Time) (net.Conn, error) { return t.dialH2(tc, deadline) },
		IdleTimeout: t.key.pool.idleTimeout,
	})
}

// dialH2 opens one TCP connection for HTTP/2 to the target, with TLS and
// "h2" negotiated by ALPN when tc is set, within the connect timeout and
// deadline.
func (t *Target) dialH2(tc *tls.Config, deadline time.Time) (net.Conn, error) {
	nc, err := t.dialTCP(deadline)
	if err != nil {
		return nil, err
	}
	if tc == nil {
		return nc, nil
	}
	nc, err = t.handshake(nc, tc, deadline)
	if err != nil { // a server without h2 usually fails the handshake ("no application protocol")
		return nil, fmt.Errorf("HTTP/2 over TLS (ALPN h2): %w", err)
	}
	if p := nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		nc.Close()
		return nil, fmt.Errorf("TLS with %s: the server did not agree to HTTP/2 (ALPN %q, want \"h2\")", t.Addr, p)
	}
	return nc, nil
}

// dialBridge makes a Bridge on a slot already reserved in the pool and
// readies it for an exchange; on failure the slot is freed.
func (t *Target) dialBridge(deadline time.Time) (*Conn, error) {
	b := t.h2.NewBridge()
	reused, err := b.Prepare(deadline, time.Duration(t.connectTimeout.Load()))
	if err != nil {
		t.pool.freeSlot()
		return nil, &DialError{Addr: t.Addr, Err: err}
	}
	c := newConn(t, b)
	c.bridge = b
	c.lend(reused)
	return c, nil
}

// lendBridge readies an idle Bridge from the pool for an exchange.
func (t *Target) lendBridge(c *Conn, deadline time.Time) (*Conn, error) {
	reused, err := c.bridge.Prepare(deadline, time.Duration(t.connectTimeout.Load()))
	if err != nil {
		t.pool.discard(c)
		return nil, &DialError{Addr: t.Addr, Err: err}
	}
	c.lend(reused)
	return c, nil
}

// ErrStreamRefused matches (errors.Is) a failure read from an HTTP/2
// target's Conn when the server refused the stream before processing it
// (REFUSED_STREAM, or a GOAWAY that left it out): the request may be sent
// again, like after a connect failure.
var ErrStreamRefused = h2.ErrRefused
