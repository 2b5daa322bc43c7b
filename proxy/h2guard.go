package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
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
//
// The same reading puts SETTINGS frames that repeat an identifier in the
// form x/net accepts (settingsInOrder): x/net ends the connection on
// them, where RFC 9113 has the values applied in order (h2spec 6.5.3);
// and it decodes every header block to have a request naming a
// connection-specific field reset (h2headerblock.go).

const (
	// Resets a client may send at once: as many streams as the highest
	// server.http2.max_concurrent_streams lets it have in flight.
	h2ResetBurst   = 1000
	h2ResetRate    = 100 // and then every second
	frameHeaderLen = 9
	frameRSTStream = 0x3
	frameSettings  = 0x4
	flagAck        = 0x1
)

// errRapidReset ends a connection whose client resets streams too fast.
var errRapidReset = errors.New("http2: client reset streams faster than allowed (rapid reset)")

// h2Guard is a client's HTTP/2 connection as the server reads it,
// watching the frames go by.
type h2Guard struct {
	net.Conn
	preface  int                  // bytes of the connection preface still to pass
	hdr      [frameHeaderLen]byte // the frame header being read
	hdrN     int
	payload  int // bytes of the current frame's payload still to pass
	tokens   float64
	last     time.Time
	tripped  bool
	settings bool             // the next read is a SETTINGS payload, to be read whole
	onTrip   func()           // called once, when the guard ends the connection
	now      func() time.Time // time.Now; a test's clock

	blocks      *h2HeaderBlock
	onMalformed func() // called for each block naming a connection-specific field
	// inject is what the server reads next, before the client's bytes: a
	// PRIORITY frame (in injectBuf) resetting a malformed request's
	// stream. rest is what was read from the client past that request's
	// last frame, to be read (and scanned) after it.
	inject    []byte
	injectBuf [frameHeaderLen + priorityLen]byte
	rest      []byte

	header headerDeadline // bounds the time a header block takes to arrive
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
// onTrip runs when the guard ends the connection, onMalformed when it
// has a request with a connection-specific field reset.
func guardH2(c net.Conn, onTrip, onMalformed func()) net.Conn {
	return newH2Guard(c, onTrip, onMalformed).wrapped()
}

func newH2Guard(c net.Conn, onTrip, onMalformed func()) *h2Guard {
	return &h2Guard{Conn: c, preface: len(h2Preface), tokens: h2ResetBurst, last: time.Now(), onTrip: onTrip, now: time.Now,
		blocks: newH2HeaderBlock(), onMalformed: onMalformed}
}

// wrapped returns g as the server should see it: with the TLS state when
// the connection has one.
func (g *h2Guard) wrapped() net.Conn {
	if cs, ok := g.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return h2GuardTLS{h2Guard: g, cs: cs}
	}
	return g
}

// guardClient guards an HTTP/2 client connection of the engine's: the
// connections it ends and the requests it has reset are counted and
// logged (at most a line a second); a header block must arrive whole
// within headerTimeout (server.read_header_timeout).
func (e *Engine) guardClient(c net.Conn, headerTimeout time.Duration) net.Conn {
	g := newH2Guard(c, func() {
		e.metrics.countH2Error("rapid_reset")
		if ok, n := e.h2.resetLog.Allow(time.Now(), time.Second); ok {
			e.log.Warn("HTTP/2 connection closed: the client resets streams faster than allowed (rapid reset)",
				"peer", c.RemoteAddr().String(), "burst", h2ResetBurst, "per_second", h2ResetRate, "suppressed", n)
		}
	}, func() {
		e.metrics.countH2Error("connection_specific_field")
	})
	g.header.timeout = headerTimeout
	g.header.onTimeout = func() {
		e.metrics.countH2Error("read_header_timeout")
		if ok, n := e.h2.headerLog.Allow(time.Now(), time.Second); ok {
			e.log.Warn("HTTP/2 connection closed: a request's header block did not arrive within read_header_timeout",
				"peer", c.RemoteAddr().String(), "read_header_timeout", headerTimeout.String(), "suppressed", n)
		}
	}
	return g.wrapped()
}

// Read reads from the connection and scans what it read.
func (g *h2Guard) Read(p []byte) (int, error) {
	if g.tripped {
		return 0, errRapidReset
	}
	if len(g.inject) > 0 {
		n := copy(p, g.inject)
		g.inject = g.inject[n:]
		return n, nil
	}
	if g.settings {
		// A SETTINGS payload the last read stopped before: read it whole.
		g.settings = false
		if len(p) >= g.payload {
			n, err := g.readFull(p[:g.payload])
			if n == g.payload {
				settingsInOrder(p[:n])
			}
			g.payload -= n
			return n, err
		}
	}
	n, err := g.readRaw(p)
	if err != nil {
		g.header.failed(err)
	}
	n, trip, serr := g.scan(p, n)
	if trip {
		g.tripped = true
		g.onTrip()
		return 0, errRapidReset
	}
	if err == nil {
		err = serr
	}
	g.header.update(g.Conn, g.now)
	return n, err
}

// readRaw reads what the client sent: first what a scan put back.
func (g *h2Guard) readRaw(p []byte) (int, error) {
	if len(g.rest) > 0 {
		n := copy(p, g.rest)
		g.rest = g.rest[n:]
		if len(g.rest) == 0 {
			g.rest = nil
		}
		return n, nil
	}
	return g.Conn.Read(p)
}

// readFull fills p with readRaw.
func (g *h2Guard) readFull(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := g.readRaw(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// scan follows the frames in p[:n] and reports whether the client has
// reset more streams than the bucket allows. A SETTINGS frame whose
// payload p can hold is first read whole (its rest from the connection,
// after p[:n]) and its repeated identifiers rewritten (settingsInOrder);
// one whose header ends p[:n] has its payload read whole by the next Read.
// Header block fragments go to the block decoder; after the last frame of
// a block naming a connection-specific field, scan stops: the frame that
// resets its stream is read next, then what p held past it.
// scan returns how many bytes p now holds.
func (g *h2Guard) scan(p []byte, n int) (int, bool, error) {
	for pos := 0; pos < n; {
		switch {
		case g.preface > 0:
			k := min(g.preface, n-pos)
			g.preface -= k
			pos += k
		case g.payload > 0:
			k := min(g.payload, n-pos)
			g.blocks.payload(p[pos : pos+k])
			g.payload -= k
			pos += k
			if g.payload == 0 && g.frameEnd(p[pos:n]) {
				return pos, false, nil
			}
		default:
			k := copy(g.hdr[g.hdrN:], p[pos:n])
			g.hdrN += k
			pos += k
			if g.hdrN < frameHeaderLen {
				continue
			}
			g.hdrN = 0
			g.payload = int(g.hdr[0])<<16 | int(g.hdr[1])<<8 | int(g.hdr[2])
			g.blocks.frame(g.hdr[3], g.hdr[4], binary.BigEndian.Uint32(g.hdr[5:])&0x7fffffff, g.payload)
			if g.hdr[3] == frameHeaders {
				g.header.open = true
			}
			switch g.hdr[3] {
			case frameRSTStream:
				if !g.take(g.now()) {
					return n, true, nil
				}
			case frameSettings:
				end := pos + g.payload
				if g.hdr[4]&flagAck != 0 || g.payload == 0 {
					break
				}
				if end > len(p) {
					// Readers that take the header alone (x/net's framer
					// reads nine bytes, then the payload) get the
					// payload whole on their next read.
					g.settings = pos == n
					break
				}
				if end > n {
					m, err := g.readFull(p[n:end])
					n += m
					if err != nil {
						return n, false, err
					}
				}
				settingsInOrder(p[pos:end])
			}
			if g.payload == 0 && g.frameEnd(p[pos:n]) {
				return pos, false, nil
			}
		}
	}
	return n, false, nil
}

// frameEnd ends a frame. After the last frame of a malformed request's
// header block it returns true: the frame that has the request's stream
// reset is what the server reads next, then after (the bytes read past
// the block), kept for the reads that follow.
func (g *h2Guard) frameEnd(after []byte) bool {
	if t := g.hdr[3]; (t == frameHeaders || t == frameContinuation) && g.hdr[4]&flagEndHeaders != 0 {
		g.header.open = false
	}
	stream, bad := g.blocks.frameEnd()
	if !bad {
		return false
	}
	putPriorityLoop(g.injectBuf[:], stream)
	g.inject = g.injectBuf[:]
	if len(after) > 0 {
		g.rest = append(bytes.Clone(after), g.rest...)
	}
	g.onMalformed()
	return true
}

// settingsInOrder rewrites a SETTINGS payload that names an identifier
// more than once so that x/net, which ends the connection on such a frame
// ("settings_big_or_dups"), applies it as RFC 9113 section 6.5.3 says, in
// order: every entry but the last of an identifier gets an identifier of
// its own that no setting has (0xf000 + its index), which a receiver
// ignores, so the last value is the one that holds. A payload of more
// than 100 entries, which x/net refuses anyway, is left as it is.
func settingsInOrder(b []byte) {
	const entry = 6
	if len(b)%entry != 0 || len(b) > 100*entry {
		return
	}
	for i := 0; i < len(b); i += entry {
		for j := i + entry; j < len(b); j += entry {
			if b[i] == b[j] && b[i+1] == b[j+1] {
				binary.BigEndian.PutUint16(b[i:], 0xf000|uint16(i/entry))
				break
			}
		}
	}
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
