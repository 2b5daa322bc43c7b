package h2

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/proxy/http1"
)

// start parses the request head b.head gathered and starts its stream on
// the reserved connection with what of the body came along (rest): a
// request complete by then leaves as HEADERS and DATA with END_STREAM
// (or HEADERS with END_STREAM) in one write. n is how much of rest was
// taken.
func (b *Bridge) start(rest []byte) (n int, err error) {
	if err := b.head.Parse(&b.q); err != nil {
		return 0, fmt.Errorf("HTTP/2 bridge: request head: %w", err)
	}
	b.mu.Lock()
	c := b.slot
	b.slot = nil
	b.mu.Unlock()
	if c == nil {
		return 0, fmt.Errorf("HTTP/2 bridge: request written without Prepare")
	}
	s := b.cur
	if s == nil || !s.reusable() {
		s = newStream()
	}
	s.reset(c, b.q.IsHead())
	data, end, n, err := b.firstBody(rest)
	if err != nil {
		b.pool.release(c)
		return 0, err
	}
	b.mu.Lock()
	b.cur, b.live = s, true
	b.mu.Unlock()
	sent, err := c.open(s, &b.q, data, end)
	if err != nil {
		b.pool.release(c)
		s.fail(err)
		return 0, err
	}
	select {
	case <-b.closed: // closed while the stream started: Close saw no stream to cancel
		s.cancel()
		return 0, net.ErrClosed
	default:
	}
	if sent < len(data) || (end && !s.localEndedLocked(c)) {
		// Flow control held part of the body back: it waits here.
		if _, err := c.send(s, data[sent:], end, &b.wd, b.closed); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// firstBody sets the framing of the request's body and takes what of it
// came with the head: data to send, end when the request is complete,
// n bytes of rest used.
func (b *Bridge) firstBody(rest []byte) (data []byte, end bool, n int, err error) {
	b.wstate, b.left = writeDone, 0
	switch {
	case b.q.Chunked:
		b.wstate = writeBody
		b.chunks.Reset(4 << 10)
		data, n, err = b.decodeChunks(rest)
		return data, b.wstate == writeDone, n, err
	case b.q.ContentLen > 0:
		if int64(len(rest)) > b.q.ContentLen {
			return nil, false, 0, fmt.Errorf("HTTP/2 bridge: %d bytes past the request's Content-Length", int64(len(rest))-b.q.ContentLen)
		}
		b.wstate, b.left = writeBody, b.q.ContentLen-int64(len(rest))
		if b.left == 0 {
			b.wstate = writeDone
		}
		return rest, b.left == 0, len(rest), nil
	case len(rest) > 0:
		return nil, false, 0, fmt.Errorf("HTTP/2 bridge: %d bytes after a request without a body", len(rest))
	}
	return nil, true, 0, nil
}

// writeBody sends body bytes: a Content-Length body as it is, a chunked
// one decoded. It waits while flow control holds the body back, until the
// write deadline.
func (b *Bridge) writeBody(p []byte) (int, error) {
	b.mu.Lock()
	s, live := b.cur, b.live
	b.mu.Unlock()
	if !live {
		return 0, errNoStream
	}
	var data []byte
	n := len(p)
	if b.q.Chunked {
		var err error
		if data, n, err = b.decodeChunks(p); err != nil {
			return 0, err
		}
	} else {
		if int64(len(p)) > b.left {
			return 0, fmt.Errorf("HTTP/2 bridge: %d bytes past the request's Content-Length", int64(len(p))-b.left)
		}
		b.left -= int64(len(p))
		data = p
		if b.left == 0 {
			b.wstate = writeDone
		}
	}
	if _, err := s.c.send(s, data, b.wstate == writeDone, &b.wd, b.closed); err != nil {
		return 0, err
	}
	return n, nil
}

// decodeChunks decodes the chunks of p (with what an earlier write left
// of a line) into b.scratch; the last chunk ends the request (its
// trailers are dropped: HTTP/2 request trailers are not sent).
func (b *Bridge) decodeChunks(p []byte) (data []byte, n int, err error) {
	b.scratch = b.scratch[:0]
	n, err = b.chunks.Write(p, func(d []byte) error {
		b.scratch = append(b.scratch, d...)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("HTTP/2 bridge: request body: %w", err)
	}
	if b.chunks.Done() {
		b.wstate = writeDone
		if n < len(p) {
			return nil, 0, fmt.Errorf("HTTP/2 bridge: %d bytes after the last chunk", len(p)-n)
		}
	}
	if cap(b.scratch) > keepStreamBuffer {
		defer func() { b.scratch = nil }()
	}
	return b.scratch, n, nil
}

// open starts s on c: a stream id, the request's HEADERS, and the first
// body bytes as far as the windows allow, queued under one lock so they
// leave together. sent is how much of data went.
func (c *clientConn) open(s *stream, q *http1.Request, data []byte, end bool) (sent int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.removed = true // until it is among c's streams
	switch {
	case c.err != nil:
		return 0, &refusedError{addr: c.pool.opts.Addr, why: "the connection closed before the stream started"}
	case c.goingAway.Load():
		return 0, &refusedError{addr: c.pool.opts.Addr, why: "the connection is going away (GOAWAY)"}
	case c.nextID > maxStreamID:
		c.goingAway.Store(true)
		return 0, &refusedError{addr: c.pool.opts.Addr, why: "the connection ran out of stream ids"}
	}
	s.id = c.nextID
	c.nextID += 2
	s.sendWin, s.localEnded, s.removed, s.blocked = c.peerWin, false, false, false
	c.streams[s.id] = s
	c.encodeRequest(q)
	onlyHead := end && len(data) == 0
	c.writeHeaders(s.id, c.encBuf.Bytes(), onlyHead)
	if onlyHead {
		s.localEnded = true
	} else {
		sent = c.sendLocked(s, data, end)
	}
	c.out.kick()
	return sent, nil
}

// writeHeaders queues a header block as HEADERS and CONTINUATION frames
// within the server's frame size (mu held).
func (c *clientConn) writeHeaders(id uint32, block []byte, end bool) {
	first := true
	for first || len(block) > 0 {
		frag := block[:min(len(block), c.peerFrame)]
		block = block[len(frag):]
		if first {
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			first = false
			continue
		}
		c.fr.WriteContinuation(id, len(block) == 0, frag)
	}
}

// encodeRequest HPACK-encodes the request of q into c.encBuf (mu held):
// its target as written as :path, Host as :authority, the fields minus
// hop-by-hop and framing ones; "TE: trailers" goes on, and gRPC requests
// get it (gRPC servers may insist on it, and an HTTP/1.1 hop has dropped
// it).
func (c *clientConn) encodeRequest(q *http1.Request) {
	c.encBuf.Reset()
	c.writeField(":method", q.Method())
	c.enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: c.pool.scheme})
	if host := q.Host(); len(host) > 0 {
		c.writeField(":authority", host)
	}
	c.writeField(":path", q.Target())
	h := &q.Fields
	connHdr := h.Get("Connection")
	te := false
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		switch {
		case http1.EqualFold(name, "TE"):
			te = te || http1.EqualFold(http1.TrimOWS(v), "trailers")
			continue
		case http1.IsHopByHop(name, connHdr), http1.EqualFold(name, "Host"), http1.EqualFold(name, "Content-Length"),
			http1.EqualFold(name, "HTTP2-Settings"):
			continue
		}
		c.writeField(c.names.name(name), v)
	}
	if te || bytes.HasPrefix(h.Get("Content-Type"), []byte("application/grpc")) {
		c.enc.WriteField(hpack.HeaderField{Name: "te", Value: "trailers"})
	}
	if !q.Chunked && (q.ContentLen > 0 || q.ContentLen == 0 && methodWithBody(q.Method())) {
		c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: transient(strconv.AppendInt(c.digits[:0], q.ContentLen, 10)), Sensitive: true})
	}
}

// writeField encodes one field (mu held): a value that changes from
// request to request, one too long to keep, or a credential is never
// indexed.
func (c *clientConn) writeField(name string, v []byte) {
	if volatileField(name) || secretField(name) {
		c.enc.WriteField(hpack.HeaderField{Name: name, Value: transient(v), Sensitive: true})
		return
	}
	s, keep := c.values.value(v)
	c.enc.WriteField(hpack.HeaderField{Name: name, Value: s, Sensitive: !keep})
}

// volatileField names fields whose values differ on every request:
// indexing them would only churn HPACK's table.
func volatileField(name string) bool {
	switch name {
	case "grpc-timeout", "x-request-id", "traceparent", "tracestate", "date", "x-b3-traceid", "x-b3-spanid":
		return true
	}
	return false
}

// secretField names fields whose values are credentials: never indexed
// (RFC 7541 section 7.1.3), so that one client's token never sits in the
// HPACK table of a connection other clients' requests share, where the
// size of what they send could tell it (a compression oracle).
func secretField(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	return false
}

// methodWithBody reports a method whose empty body is still announced
// with content-length: 0, as Go's client does.
func methodWithBody(m []byte) bool {
	switch string(m) {
	case "POST", "PUT", "PATCH":
		return true
	}
	return false
}

// sendLocked queues DATA frames of data within the windows and the
// server's frame size, the last with END_STREAM when end is set and all
// of data went (mu held). It returns how much went.
func (c *clientConn) sendLocked(s *stream, data []byte, end bool) int {
	sent := 0
	for !s.removed && c.err == nil {
		left := len(data) - sent
		k := int(min(int64(left), s.sendWin, c.sendWin, int64(c.peerFrame)))
		if left > 0 && (k <= 0 || c.out.full()) {
			return sent
		}
		last := end && k == left
		c.fr.WriteData(s.id, last, data[sent:sent+k])
		s.sendWin -= int64(k)
		c.sendWin -= int64(k)
		sent += k
		if last {
			s.localEnded = true
			return sent
		}
		if sent == len(data) {
			return sent
		}
	}
	return sent
}

// send sends data on s, waiting while the windows (or the writer's
// bound) hold it back, until d's deadline or until closed is. Once the
// stream has ended normally (the server answered before the body was
// all sent) the rest is dropped; once it failed, its error returns.
func (c *clientConn) send(s *stream, data []byte, end bool, d *deadline, closed <-chan struct{}) (int, error) {
	sent := 0
	for {
		c.mu.Lock()
		if s.removed {
			c.mu.Unlock()
			if err := s.failure(); err != nil {
				return sent, err
			}
			return len(data), nil
		}
		sent += c.sendLocked(s, data[sent:], end)
		done := sent == len(data) && (!end || s.localEnded)
		if !done {
			s.blocked, c.blocked = true, true
		}
		c.out.kick()
		c.mu.Unlock()
		if done {
			return sent, nil
		}
		if err := d.wait(s.writable, closed); err != nil {
			return sent, err
		}
	}
}

// localEndedLocked reports whether s's END_STREAM went (takes c.mu).
func (s *stream) localEndedLocked(c *clientConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.localEnded || s.removed
}

// failure returns the stream's error, nil while it has none.
func (s *stream) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// reusable reports that s is done with its last exchange and may carry
// the next.
func (s *stream) reusable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished
}

// errBodyAfterEnd is a write after the request's end.
var errBodyAfterEnd = errors.New("HTTP/2 bridge: bytes after the end of the request")
