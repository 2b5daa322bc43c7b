package http1

import (
	"errors"
	"strconv"
)

// Framing errors: ambiguous or unsupported request framing, always 400
// with the connection closed (CONTRACT.md section 3). These are the
// refusals that keep two parsers from reading one request two ways.
var (
	errCLAndTE = errors.New("both Content-Length and Transfer-Encoding")
	errBadCL   = errors.New("invalid or conflicting Content-Length")
	errBadTE   = errors.New("unsupported Transfer-Encoding")
	errNoHost  = errors.New("missing or repeated Host")
)

// checkFraming applies CONTRACT.md section 3's refusals and records how
// the body is framed and whether the connection stays open.
func (q *Request) checkFraming() error {
	if err := q.readContentLength(); err != nil {
		return err
	}
	if err := q.readTransferEncoding(); err != nil {
		return err
	}
	if n := q.Fields.Count("Host"); n > 1 || (n == 0 && q.Minor == 1) {
		return errNoHost
	}
	conn := q.Fields.Get("Connection")
	if q.Minor == 1 {
		q.KeepAlive = !hasToken(conn, "close")
	} else {
		q.KeepAlive = hasToken(conn, "keep-alive")
	}
	q.Expect100 = q.Minor == 1 && hasToken(q.Fields.Get("Expect"), "100-continue")
	q.Upgrade = hasToken(conn, "upgrade") && q.Fields.Has("Upgrade")
	return nil
}

func (q *Request) readContentLength() error {
	n, ok := contentLength(&q.Fields)
	if !ok {
		return errBadCL
	}
	q.ContentLen = n
	return nil
}

// contentLength reads every Content-Length field (comma lists included):
// -1 when there is none; ok is false when a value is empty, not a decimal
// or differs from another.
func contentLength(h *Header) (n int64, ok bool) {
	n = -1
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if !EqualFold(name, "Content-Length") {
			continue
		}
		if len(v) == 0 {
			return 0, false
		}
		for len(v) > 0 {
			var tok []byte
			tok, v = nextToken(v)
			m, valid := ParseDecimal(tok)
			if !valid || (n >= 0 && m != n) {
				return 0, false
			}
			n = m
		}
	}
	return n, true
}

func (q *Request) readTransferEncoding() error {
	n := q.Fields.Count("Transfer-Encoding")
	if n == 0 {
		return nil
	}
	if q.ContentLen >= 0 {
		return errCLAndTE
	}
	if n > 1 || q.Minor == 0 || !EqualFold(TrimOWS(q.Fields.Get("Transfer-Encoding")), "chunked") {
		return errBadTE
	}
	q.Chunked = true
	return nil
}

// ParseDecimal parses a non-empty run of ASCII digits without overflow
// (at most 18 of them): a Content-Length, a status code. HTTP/2's
// content-length (proxy/h2srv) is parsed by it too.
func ParseDecimal[T string | []byte](b T) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (p *Response) readFraming() error {
	n, ok := contentLength(&p.Fields)
	if !ok {
		return ErrBadResponse
	}
	p.ContentLen = n
	if te := p.Fields.Get("Transfer-Encoding"); te != nil {
		if p.Fields.Count("Transfer-Encoding") > 1 || !EqualFold(TrimOWS(te), "chunked") {
			return ErrBadResponse
		}
		p.Chunked, p.ContentLen = true, -1
	}
	conn := p.Fields.Get("Connection")
	p.CloseAfter = hasToken(conn, "close") || (p.minor == 0 && !hasToken(conn, "keep-alive"))
	return nil
}

// AppendFraming appends the framing fields of the head forwarded for q,
// and the blank line that ends it: "Transfer-Encoding: chunked" or
// Content-Length as parsed (the client's own framing fields are not
// forwarded), and "Connection: Upgrade" with the Upgrade field for a
// protocol switch.
func (q *Request) AppendFraming(dst []byte) []byte {
	switch {
	case q.Chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case q.ContentLen >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, q.ContentLen, 10)
		dst = append(dst, "\r\n"...)
	}
	if q.Upgrade {
		dst = append(dst, "Connection: Upgrade\r\nUpgrade: "...)
		dst = append(dst, q.Fields.Get("Upgrade")...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}
