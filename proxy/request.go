package proxy

import (
	"bytes"
	"errors"
)

// Framing errors: ambiguous or unsupported request framing, always 400
// with the connection closed (CONTRACT.md section 3).
var (
	errCLAndTE      = errors.New("both Content-Length and Transfer-Encoding")
	errBadCL        = errors.New("invalid or conflicting Content-Length")
	errBadTE        = errors.New("unsupported Transfer-Encoding")
	errNoHost       = errors.New("missing or repeated Host")
	errDotSegment   = errors.New("dot segment in path")
	errBadTarget    = errors.New("unsupported request target")
	errBodyTooLarge = errors.New("body too large")
	errBadChunk     = errors.New("invalid chunked encoding")
)

// request is one parsed client request head. It implements router.Request.
type request struct {
	h          Header
	methodEnd  int
	targetS    int
	targetE    int
	pathE      int // end of the path inside the target (start of '?')
	minor      int
	contentLen int64 // -1 when there is no Content-Length
	chunked    bool
	keepAlive  bool
	expect100  bool
	upgrade    bool
}

func (q *request) reset() {
	q.h.reset()
	*q = request{h: q.h}
}

// Method returns the request method.
func (q *request) Method() []byte { return q.h.buf[:q.methodEnd] }

// Target returns the raw request-target (path and query).
func (q *request) Target() []byte { return q.h.buf[q.targetS:q.targetE] }

// Path returns the raw path without the query.
func (q *request) Path() []byte { return q.h.buf[q.targetS:q.pathE] }

// Host returns the Host header.
func (q *request) Host() []byte { return q.h.Get("Host") }

// Header returns the first value of a request header, or nil.
func (q *request) Header(name string) []byte { return q.h.Get(name) }

// hasBody reports whether a body follows the head.
func (q *request) hasBody() bool { return q.chunked || q.contentLen > 0 }

func (q *request) isHead() bool { return string(q.Method()) == "HEAD" }

// parse parses q.h.buf (a complete head) and checks the framing rules.
func (q *request) parse() error {
	first := true
	err := splitLines(q.h.buf, func(line []byte, off int) error {
		if first {
			first = false
			return q.parseRequestLine(line, off)
		}
		return parseField(&q.h, line, off)
	})
	if err != nil {
		return err
	}
	return q.checkFraming()
}

func (q *request) parseRequestLine(line []byte, off int) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadLine
	}
	for _, c := range line[:sp1] {
		if !isTokenChar(c) {
			return errBadLine
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errBadLine
	}
	minor, err := parseVersion(rest[sp2+1:])
	if err != nil {
		return err
	}
	q.methodEnd = off + sp1
	q.targetS = off + sp1 + 1
	q.targetE = q.targetS + sp2
	q.minor = minor
	return q.checkTarget()
}

// checkTarget accepts origin-form targets only and refuses dot segments,
// raw or percent-encoded, and bytes that are not allowed in a target.
func (q *request) checkTarget() error {
	t := q.Target()
	if len(t) == 0 || t[0] != '/' {
		return errBadTarget
	}
	q.pathE = q.targetE
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		q.pathE = q.targetS + i
	}
	for _, c := range t {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return errBadTarget
		}
	}
	if hasDotSegment(q.Path()) {
		return errDotSegment
	}
	return nil
}

// hasDotSegment reports a "." or ".." segment, also as %2e / %2E.
func hasDotSegment(p []byte) bool {
	for len(p) > 0 {
		p = p[1:] // skip '/'
		end := bytes.IndexByte(p, '/')
		if end < 0 {
			end = len(p)
		}
		if isDotSegment(p[:end]) {
			return true
		}
		p = p[end:]
	}
	return false
}

func isDotSegment(s []byte) bool {
	dots := 0
	for len(s) > 0 {
		switch {
		case s[0] == '.':
			s = s[1:]
		case len(s) >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E'):
			s = s[3:]
		default:
			return false
		}
		dots++
	}
	return dots == 1 || dots == 2
}

// checkFraming applies CONTRACT.md section 3's refusals and records how
// the body is framed and whether the connection stays open.
func (q *request) checkFraming() error {
	if err := q.readContentLength(); err != nil {
		return err
	}
	if err := q.readTransferEncoding(); err != nil {
		return err
	}
	if n := q.h.Count("Host"); n > 1 || (n == 0 && q.minor == 1) {
		return errNoHost
	}
	conn := q.h.Get("Connection")
	if q.minor == 1 {
		q.keepAlive = !hasToken(conn, "close")
	} else {
		q.keepAlive = hasToken(conn, "keep-alive")
	}
	q.expect100 = q.minor == 1 && hasToken(q.h.Get("Expect"), "100-continue")
	q.upgrade = hasToken(conn, "upgrade") && q.h.Has("Upgrade")
	return nil
}

func (q *request) readContentLength() error {
	n, ok := contentLength(&q.h)
	if !ok {
		return errBadCL
	}
	q.contentLen = n
	return nil
}

// contentLength reads every Content-Length field (comma lists included):
// -1 when there is none; ok is false when a value is empty, not a decimal
// or differs from another.
func contentLength(h *Header) (n int64, ok bool) {
	n = -1
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if !equalFold(name, "Content-Length") {
			continue
		}
		if len(v) == 0 {
			return 0, false
		}
		for len(v) > 0 {
			var tok []byte
			tok, v = nextToken(v)
			m, valid := parseDecimal(tok)
			if !valid || (n >= 0 && m != n) {
				return 0, false
			}
			n = m
		}
	}
	return n, true
}

func (q *request) readTransferEncoding() error {
	n := q.h.Count("Transfer-Encoding")
	if n == 0 {
		return nil
	}
	if q.contentLen >= 0 {
		return errCLAndTE
	}
	if n > 1 || q.minor == 0 || !equalFold(trimOWS(q.h.Get("Transfer-Encoding")), "chunked") {
		return errBadTE
	}
	q.chunked = true
	return nil
}

// parseDecimal parses a non-empty run of ASCII digits without overflow.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
