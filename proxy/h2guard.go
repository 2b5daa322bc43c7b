package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// The rapid-reset guard.
//
// x/net/http2's server bounds the streams in flight on a connection, but
// a client that opens a stream and resets it at once (HEADERS then
// RST_STREAM, CVE-2023-44487) never has many in flight: each reset frees
// a slot for the next stream, and every stream still costs the gateway a
// request's start (HPACK, a goroutine, the exchange's first steps, often
// an upstream request). Measured before this guard (e2e
// TestHTTP2AttacksLeaveOthersServed, 20,000 pairs a second on one
// connection): a whole core for as long as the attack lasted, sometimes
// with no GOAWAY at all. The guard reads the frame headers the client
// sends as the server reads them (nine bytes a frame; payloads pass
// through untouched), counts RST_STREAM frames in a token bucket (a burst
// of h2ResetBurst, then h2ResetRate a second) and, once it is empty, fails
// the connection's reads: the server closes the connection, and the
// gateway counts tollgate_http2_errors_total{type="rapid_reset"} and logs
// one line (at most one a second). A client cancelling its calls as gRPC
// clients do stays far below either number.

const (
	// Resets a client may send at once: as many streams as the highest
	// server.http2.max_concurrent_streams lets it have in flight.
	h2ResetBurst   = 1000
	h2ResetRate    = 100 // and then every second
	frameHeaderLen = 9
	frameRSTStream = 0x3
)

// errRapidReset ends a connection whose client resets streams too fast.
var errRapidReset = errors.New("http2: client reset streams faster than allowed (rapid reset)")

// h2Guard is a client's HTTP/2 connection as the server reads it,
// watching the frames go by.
type h2Guard struct {
	net.Conn
	preface int                  // bytes of the connection preface still to pass
	hdr     [frameHeaderLen]byte // the frame header being read
	hdrN    int
	payload int // bytes of the current frame's payload still to pass
	tokens  float64
	last    time.Time
	tripped bool
	onTrip  func()           // called once, when the guard ends the connection
	now     func() time.Time // time.Now; a test's clock
}

// h2GuardTLS is an h2Guard over TLS: the server reads the TLS state
// through ConnectionState.
type h2GuardTLS struct {
	*h2Guard
	cs interface{ ConnectionState() tls.ConnectionState }
}

// ConnectionState returns the TLS connection's state.
func (g h2GuardTLS) ConnectionState() tls.ConnectionState { return g.cs.ConnectionState() }

// guardH2 wraps c, whose reads begin with the client connection preface;
// onTrip runs when the guard ends the connection.
func guardH2(c net.Conn, onTrip func()) net.Conn {
	g := &h2Guard{Conn: c, preface: len(h2Preface), tokens: h2ResetBurst, last: time.Now(), onTrip: onTrip, now: time.Now}
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return h2GuardTLS{h2Guard: g, cs: cs}
	}
	return g
}

// Read reads from the connection and scans what it read.
func (g *h2Guard) Read(p []byte) (int, error) {
	if g.tripped {
		return 0, errRapidReset
	}
	n, err := g.Conn.Read(p)
	if g.scan(p[:n]) {
		g.tripped = true
		g.onTrip()
		return 0, errRapidReset
	}
	return n, err
}

// scan follows the frames in b and reports whether the client has reset
// more streams than the bucket allows.
func (g *h2Guard) scan(b []byte) bool {
	for len(b) > 0 {
		switch {
		case g.preface > 0:
			k := min(g.preface, len(b))
			g.preface -= k
			b = b[k:]
		case g.payload > 0:
			k := min(g.payload, len(b))
			g.payload -= k
			b = b[k:]
		default:
			k := copy(g.hdr[g.hdrN:], b)
			g.hdrN += k
			b = b[k:]
			if g.hdrN < frameHeaderLen {
				continue
			}
			g.hdrN = 0
			g.payload = int(g.hdr[0])<<16 | int(g.hdr[1])<<8 | int(g.hdr[2])
			if g.hdr[3] == frameRSTStream && !g.take(g.now()) {
				return true
			}
		}
	}
	return false
}

// take spends a token for one reset; false when there is none left.
func (g *h2Guard) take(now time.Time) bool {
	g.tokens = min(h2ResetBurst, g.tokens+now.Sub(g.last).Seconds()*h2ResetRate)
	g.last = now
	if g.tokens < 1 {
		return false
	}
	g.tokens--
	return true
}
