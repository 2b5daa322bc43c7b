package h2stream

import (
	"io"
	"strconv"
	"sync"

	"tollgate/proxy/h2srv"
	"tollgate/proxy/http1"
)

// requestReader renders a stream's request as HTTP/1.1 bytes: the head,
// rendered when the stream opens, then the body as the exchange reads it
// from the Conn's body buffer.
type requestReader struct {
	c       *Conn
	head    []byte // the rendered head, its array kept from stream to stream
	pending []byte // rendered bytes not yet read
	chunked bool
	ended   bool // the body (and its last chunk) is in pending, or there is none
	buf     *[]byte
	bufs    *sync.Pool // where buf comes from and goes back to
}

// init renders s's request head (cn.mu held, s valid): the request line,
// Host from :authority (or the host field), the fields (cookie fields
// joined into one, as HTTP/1.1 has it), and framing of the Conn's own:
// Content-Length when the client declared one, chunked when a body
// follows without one, none when the request ended with its head.
func (in *requestReader) init(c *Conn, s *h2srv.Stream) {
	in.c, in.chunked, in.ended = c, false, false
	if in.head == nil {
		in.head = make([]byte, 0, 512)
	}
	h := in.head[:0]
	h = append(h, s.Method()...)
	h = append(h, ' ')
	switch {
	case s.Method() == "CONNECT":
		h = append(h, s.Authority()...)
	default:
		h = append(h, s.Path()...)
	}
	h = append(h, " HTTP/1.1\r\nHost: "...)
	host := s.Authority()
	fields := s.Fields()
	if host == "" {
		for _, f := range fields {
			if f.Name == "host" {
				host = f.Value
				break
			}
		}
	}
	h = append(h, host...)
	h = append(h, "\r\n"...)
	cookies := 0
	for _, f := range fields {
		if f.Name == "cookie" {
			cookies++
			if cookies > 1 {
				continue
			}
			h = append(h, "cookie: "...)
			h = append(h, f.Value...)
			h = appendOtherCookies(h, fields)
			h = append(h, "\r\n"...)
			continue
		}
		if skipRequestField(f.Name) {
			continue
		}
		h = append(h, f.Name...)
		h = append(h, ": "...)
		h = append(h, f.Value...)
		h = append(h, "\r\n"...)
	}
	cl := s.ContentLength()
	switch {
	case s.EndStream():
		in.ended = true
		if cl == 0 && bodyMethod(s.Method()) {
			h = append(h, "Content-Length: 0\r\n"...)
		}
	case cl == 0:
		in.ended = true // a GET says nothing; a POST of nothing says so
		if bodyMethod(s.Method()) {
			h = append(h, "Content-Length: 0\r\n"...)
		}
	case cl > 0:
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, cl, 10)
		h = append(h, "\r\n"...)
	default:
		h = append(h, "Transfer-Encoding: chunked\r\n"...)
		in.chunked = true
	}
	in.head = append(h, "\r\n"...)
	in.pending = in.head
}

// bodyMethod reports a method whose empty body is said with
// Content-Length: 0.
func bodyMethod(m string) bool { return m == "POST" || m == "PUT" || m == "PATCH" }

// appendOtherCookies appends "; value" for each cookie field after the
// first (RFC 9113 section 8.2.3).
func appendOtherCookies(h []byte, fields []h2srv.Field) []byte {
	first := true
	for _, f := range fields {
		if f.Name != "cookie" {
			continue
		}
		if first {
			first = false
			continue
		}
		h = append(append(h, "; "...), f.Value...)
	}
	return h
}

// skipRequestField drops fields the Conn frames itself and those an
// HTTP/2 request must not carry (they would mean something else in
// HTTP/1.1). Names are in lower case (h2srv checked them).
func skipRequestField(name string) bool {
	switch name {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "upgrade", "trailer":
		return true
	}
	return false
}

func (in *requestReader) read(p []byte) (int, error) {
	for len(in.pending) == 0 {
		if in.ended {
			return 0, io.EOF
		}
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.pending)
	in.pending = in.pending[n:]
	return n, nil
}

// fill waits for body bytes and moves the next piece into pending, framed
// as a chunk when the length is unknown; the window they took is given
// back to the client.
func (in *requestReader) fill() error {
	if in.buf == nil {
		in.buf = in.bufs.Get().(*[]byte)
	}
	b := *in.buf
	c := in.c
	c.cn.mu.Lock()
	defer c.cn.mu.Unlock()
	for c.bodyOff == len(c.body) && !c.remoteEnded {
		if c.reset != nil {
			return c.reset
		}
		if c.s == nil {
			return ErrReset
		}
		if err := c.readNow(); err != nil {
			return err
		}
	}
	room := b
	if in.chunked {
		room = b[http1.ChunkRoom : len(b)-7] // room after: CRLF and the last chunk
	}
	n := copy(room, c.body[c.bodyOff:])
	c.bodyOff += n
	if c.s != nil && n > 0 {
		c.s.Consumed(n)
		c.queueOut()
	}
	end := c.remoteEnded && c.bodyOff == len(c.body)
	if !in.chunked {
		in.pending = b[:n]
		in.ended = end
		return nil
	}
	out := b[:0]
	if n > 0 {
		out = http1.FrameChunk(b, n)
	}
	if end {
		in.ended = true
		// the last chunk and the trailer section follow in pending
		out = append(out, "0\r\n"...)
		out = append(out, c.trailer...)
		out = append(out, "\r\n"...)
	}
	in.pending = out
	return nil
}

// release returns the read buffer; Read must not run again.
func (in *requestReader) release() {
	if in.buf != nil {
		in.bufs.Put(in.buf)
		in.buf = nil
	}
	in.pending, in.c = nil, nil
	if cap(in.head) > keptHead {
		in.head = nil
	}
}
