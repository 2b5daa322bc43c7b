package http1

import (
	"bufio"
	"bytes"
	"errors"
)

// Refusals of a request target. Like every error of Request.Parse they
// mean 400 and closing the connection; they are not exported because the
// gateway answers them all alike.
var (
	errDotSegment = errors.New("dot segment in path")
	errBadTarget  = errors.New("unsupported request target")
)

// Request is one parsed client request head. It implements
// router.Request. A Request is reused from one request to the next:
// ReadHead empties it and Parse fills it in.
type Request struct {
	// Fields are the head's header fields. The gateway edits them (the
	// request line stays valid: edits only append to the buffer).
	Fields Header

	// ContentLen is the body's Content-Length, or -1 when there is none.
	ContentLen int64
	// Chunked reports a chunked body (Transfer-Encoding: chunked).
	Chunked bool
	// KeepAlive reports that the client keeps the connection open after
	// the answer: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
	// "Connection: keep-alive". The gateway clears it to close instead.
	KeepAlive bool
	// Expect100 reports an HTTP/1.1 "Expect: 100-continue".
	Expect100 bool
	// Upgrade reports a request to switch protocols: an Upgrade field
	// named in Connection.
	Upgrade bool
	// Minor is the HTTP minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
	Minor int

	methodEnd int
	targetS   int
	targetE   int
	pathE     int // end of the path inside the target (start of '?')
	headLen   int // bytes ReadHead kept
}

func (q *Request) reset() {
	q.Fields.Reset()
	*q = Request{Fields: q.Fields}
}

// ReadHead empties q and reads one request head, through its blank line,
// from r into q's buffer. Empty lines before it are skipped. A head
// longer than max bytes is ErrHeadTooLarge; other errors are r's. Parse
// must follow before q's accessors mean anything (HeadLen aside).
func (q *Request) ReadHead(r *bufio.Reader, max int) error {
	q.reset()
	var err error
	q.Fields.buf, err = readHead(r, q.Fields.buf, max)
	q.headLen = len(q.Fields.buf)
	return err
}

// HeadLen returns how many bytes of the head the last ReadHead kept,
// whether it succeeded or not (0: nothing but empty lines arrived).
func (q *Request) HeadLen() int { return q.headLen }

// SpeaksHTTP reports whether the head ReadHead read begins with a line
// that ends in a token shaped as an HTTP version ("HTTP/" DIGIT "."
// DIGIT, supported or not): a peer that sent one speaks HTTP/1.x, at
// least enough to read an answer, even when Parse refuses its request.
// Without it the bytes are another protocol's (a mistaken HTTP/2
// preface, TLS to a cleartext port, a scanner's probe), whose peer could
// not read an HTTP/1.1 answer.
func (q *Request) SpeaksHTTP() bool {
	line := q.Fields.buf[:q.headLen]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	const v = len(" HTTP/1.1")
	if len(line) < v {
		return false
	}
	t := line[len(line)-v:]
	return string(t[:6]) == " HTTP/" && isDigit(t[6]) && t[7] == '.' && isDigit(t[8])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Method returns the request method.
func (q *Request) Method() []byte { return q.Fields.buf[:q.methodEnd] }

// Target returns the raw request-target (path and query).
func (q *Request) Target() []byte { return q.Fields.buf[q.targetS:q.targetE] }

// Path returns the raw path without the query.
func (q *Request) Path() []byte { return q.Fields.buf[q.targetS:q.pathE] }

// Host returns the Host header.
func (q *Request) Host() []byte { return q.Fields.Get("Host") }

// Header returns the first value of a request header, or nil.
func (q *Request) Header(name string) []byte { return q.Fields.Get(name) }

// HasBody reports whether a body follows the head.
func (q *Request) HasBody() bool { return q.Chunked || q.ContentLen > 0 }

// IsHead reports a HEAD request, whose answer carries no body.
func (q *Request) IsHead() bool { return string(q.Method()) == "HEAD" }

// Parse parses the head ReadHead read and checks the framing rules. Any
// error means the request must be refused (400) and the connection
// closed; the exported ones (ErrBareLF, ErrObsFold, ErrBadVersion) are a
// few of them.
func (q *Request) Parse() error {
	first := true
	err := splitLines(q.Fields.buf, func(line []byte, off int) error {
		if first {
			first = false
			return q.parseRequestLine(line, off)
		}
		return parseField(&q.Fields, line, off)
	})
	if err != nil {
		return err
	}
	return q.checkFraming()
}

func (q *Request) parseRequestLine(line []byte, off int) error {
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
	q.Minor = minor
	return q.checkTarget()
}

// checkTarget accepts origin-form targets only and refuses dot segments,
// raw or percent-encoded, and bytes that are not allowed in a target.
func (q *Request) checkTarget() error {
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
