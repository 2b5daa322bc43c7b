package http1

import (
	"bufio"
	"errors"
)

// ErrBadResponse is Response.Parse's one error: a malformed upstream
// response head (the gateway answers 502).
var ErrBadResponse = errors.New("malformed upstream response")

// Response is one parsed upstream response head. Like a Request it is
// reused: ReadHead empties it and Parse fills it in.
type Response struct {
	// Fields are the head's header fields; the gateway edits them before
	// writing them back.
	Fields Header

	// Status is the status code, 100 to 599.
	Status int
	// ContentLen is the body's Content-Length, or -1 when unknown (no
	// Content-Length, or a chunked body).
	ContentLen int64
	// Chunked reports a chunked body.
	Chunked bool
	// CloseAfter reports that the upstream closes the connection after
	// this response ("Connection: close", or HTTP/1.0 without
	// keep-alive), so a body without a length runs to EOF.
	CloseAfter bool

	reasonS int
	reasonE int
	minor   int
	headLen int // bytes ReadHead kept
}

func (p *Response) reset() {
	p.Fields.Reset()
	*p = Response{Fields: p.Fields}
}

// ReadHead empties p and reads one response head, through its blank
// line, from r into p's buffer, as Request.ReadHead does. A head longer
// than max bytes is ErrHeadTooLarge; other errors are r's.
func (p *Response) ReadHead(r *bufio.Reader, max int) error {
	p.reset()
	var err error
	p.Fields.buf, err = readHead(r, p.Fields.buf, max)
	p.headLen = len(p.Fields.buf)
	return err
}

// HeadLen returns how many bytes of the head the last ReadHead kept,
// whether it succeeded or not.
func (p *Response) HeadLen() int { return p.headLen }

// Parse parses the head ReadHead read. A malformed upstream head is
// ErrBadResponse (502).
func (p *Response) Parse() error {
	first := true
	err := splitLines(p.Fields.buf, func(line []byte, off int) error {
		if first {
			first = false
			return p.parseStatusLine(line, off)
		}
		return parseField(&p.Fields, line, off)
	})
	if err != nil {
		return ErrBadResponse
	}
	return p.readFraming()
}

func (p *Response) parseStatusLine(line []byte, off int) error {
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return ErrBadStatus
	}
	minor, err := parseVersion(line[:8])
	if err != nil {
		return err
	}
	code, ok := ParseDecimal(line[9:12])
	if !ok || code < 100 || code > 599 {
		return ErrBadStatus
	}
	p.minor, p.Status = minor, int(code)
	p.reasonS, p.reasonE = off+len(line), off+len(line)
	if len(line) > 13 {
		p.reasonS = off + 13
	}
	return nil
}

// Reason returns the status line's reason phrase.
func (p *Response) Reason() []byte { return p.Fields.buf[p.reasonS:p.reasonE] }

// Bodyless reports whether the response carries no body: an answer to a
// HEAD request (isHead), a 204, a 304 or a 1xx.
func (p *Response) Bodyless(isHead bool) bool {
	return isHead || p.Status == 204 || p.Status == 304 || (p.Status >= 100 && p.Status < 200)
}
