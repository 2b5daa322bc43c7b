package h2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"

	"tollgate/proxy/http1"
)

// start parses the request head b.head gathered and starts its stream
// on the reserved connection.
func (b *Bridge) start() error {
	if err := b.head.Parse(&b.q); err != nil {
		return fmt.Errorf("HTTP/2 bridge: request head: %w", err)
	}
	b.mu.Lock()
	c := b.slot
	b.slot = nil
	b.mu.Unlock()
	if c == nil {
		return fmt.Errorf("HTTP/2 bridge: request written without Prepare")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{cancel: cancel, resp: newPipe(), headed: make(chan struct{}), done: make(chan struct{}), isHead: b.q.IsHead()}
	req := b.newRequest(ctx, s)
	b.wstate, b.left = writeDone, 0
	switch {
	case b.q.Chunked:
		b.wstate = writeBody
		b.chunks.Reset(4 << 10)
	case b.q.ContentLen > 0:
		b.wstate, b.left = writeBody, b.q.ContentLen
	}
	b.mu.Lock()
	b.cur = s
	b.mu.Unlock()
	go b.pool.run(s, c, req)
	return nil
}

// newRequest builds the HTTP/2 request of the parsed head: its target
// as written (URL.Opaque keeps it byte for byte), Host as :authority,
// the fields minus hop-by-hop and framing ones, and the body pipe.
func (b *Bridge) newRequest(ctx context.Context, s *stream) *http.Request {
	q := &b.q
	host := string(q.Host())
	req := &http.Request{
		Method:        string(q.Method()),
		URL:           &url.URL{Scheme: b.pool.scheme, Host: host, Opaque: string(q.Target())},
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Host:          host,
		Header:        requestFields(&q.Fields),
		ContentLength: q.ContentLen,
	}
	if q.Chunked {
		req.ContentLength = -1
	}
	if q.Chunked || q.ContentLen > 0 {
		s.body = newPipe()
		s.body.eofWithLast = true
		req.Body = &bodyReader{p: s.body, done: ctx.Done()}
	} else {
		req.ContentLength = 0
	}
	return req.WithContext(ctx)
}

// requestFields copies the head's fields for HTTP/2: hop-by-hop fields
// (and those Connection names), Host and the framing fields stay behind;
// "TE: trailers" goes on, and gRPC requests get it (gRPC servers may
// insist on it, and an HTTP/1.1 hop has dropped it).
func requestFields(h *http1.Header) http.Header {
	out := make(http.Header, h.Len()+1)
	connHdr := h.Get("Connection")
	te := false
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		switch {
		case http1.EqualFold(name, "TE"):
			if http1.EqualFold(http1.TrimOWS(v), "trailers") {
				te = true
			}
			continue
		case http1.IsHopByHop(name, connHdr), http1.EqualFold(name, "Host"), http1.EqualFold(name, "Content-Length"),
			http1.EqualFold(name, "HTTP2-Settings"):
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(string(name))
		out[k] = append(out[k], string(v))
	}
	if ct := h.Get("Content-Type"); te || bytes.HasPrefix(ct, []byte("application/grpc")) {
		out["Te"] = []string{"trailers"}
	}
	if _, ok := out["User-Agent"]; !ok {
		out["User-Agent"] = nil // none, rather than the http2 package's own
	}
	return out
}

// writeBody feeds body bytes to the stream: a Content-Length body as it
// is, a chunked one decoded. It waits while the stream's flow control
// holds the body back, until the write deadline.
func (b *Bridge) writeBody(p []byte) (int, error) {
	b.mu.Lock()
	s := b.cur
	b.mu.Unlock()
	if s == nil {
		return 0, errNoStream
	}
	if !b.q.Chunked {
		return b.writeSized(s, p)
	}
	return b.writeChunked(s, p)
}

// writeSized passes Content-Length body bytes on; the last one ends the
// request.
func (b *Bridge) writeSized(s *stream, p []byte) (int, error) {
	if int64(len(p)) > b.left {
		return 0, fmt.Errorf("HTTP/2 bridge: %d bytes past the request's Content-Length", int64(len(p))-b.left)
	}
	n, err := s.body.write(p, &b.wd, b.closed)
	b.left -= int64(n)
	if err != nil {
		return n, s.writeFailed(err, &b.wd, b.closed)
	}
	if b.left == 0 {
		b.wstate = writeDone
		s.body.closeWrite(io.EOF)
	}
	return n, nil
}

// writeChunked decodes chunks from p (with what an earlier write left of
// a line) and passes their data on; the last chunk ends the request
// (its trailers are dropped: HTTP/2 request trailers are not sent).
func (b *Bridge) writeChunked(s *stream, p []byte) (int, error) {
	n, err := b.chunks.Write(p, func(d []byte) error {
		if _, err := s.body.write(d, &b.wd, b.closed); err != nil {
			return s.writeFailed(err, &b.wd, b.closed)
		}
		return nil
	})
	if errors.Is(err, http1.ErrBadChunk) {
		return 0, fmt.Errorf("HTTP/2 bridge: request body: %w", err)
	}
	if err != nil {
		return 0, err
	}
	if b.chunks.Done() {
		b.wstate = writeDone
		s.body.closeWrite(io.EOF)
		if n < len(p) {
			return 0, fmt.Errorf("HTTP/2 bridge: %d bytes after the last chunk", len(p)-n)
		}
	}
	return len(p), nil
}

// bodyReader is the request body as the http2 package reads it.
type bodyReader struct {
	p    *pipe
	done <-chan struct{}
}

// Read returns body bytes as the exchange writes them; io.EOF at the end.
func (r *bodyReader) Read(b []byte) (int, error) { return r.p.read(b, nil, r.done) }

// Close is the stream giving up on the body: the exchange's writes fail.
func (r *bodyReader) Close() error {
	r.p.closeRead(errBodyClosed)
	return nil
}
