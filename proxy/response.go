package proxy

import "errors"

var errBadResponse = errors.New("malformed upstream response")

// response is one parsed upstream response head.
type response struct {
	h          Header
	status     int
	reasonS    int
	reasonE    int
	minor      int
	contentLen int64 // -1 when unknown
	chunked    bool
	closeAfter bool // the upstream will close, or the body runs to EOF
}

func (p *response) reset() {
	p.h.reset()
	*p = response{h: p.h}
}

// parse parses p.h.buf. A malformed upstream head is errBadResponse (502).
func (p *response) parse() error {
	first := true
	err := splitLines(p.h.buf, func(line []byte, off int) error {
		if first {
			first = false
			return p.parseStatusLine(line, off)
		}
		return parseField(&p.h, line, off)
	})
	if err != nil {
		return errBadResponse
	}
	return p.readFraming()
}

func (p *response) parseStatusLine(line []byte, off int) error {
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errBadStatus
	}
	minor, err := parseVersion(line[:8])
	if err != nil {
		return err
	}
	code, ok := parseDecimal(line[9:12])
	if !ok || code < 100 || code > 599 {
		return errBadStatus
	}
	p.minor, p.status = minor, int(code)
	p.reasonS, p.reasonE = off+len(line), off+len(line)
	if len(line) > 13 {
		p.reasonS = off + 13
	}
	return nil
}

// Reason returns the status line's reason phrase.
func (p *response) Reason() []byte { return p.h.buf[p.reasonS:p.reasonE] }

func (p *response) readFraming() error {
	n, ok := contentLength(&p.h)
	if !ok {
		return errBadResponse
	}
	p.contentLen = n
	if te := p.h.Get("Transfer-Encoding"); te != nil {
		if p.h.Count("Transfer-Encoding") > 1 || !equalFold(trimOWS(te), "chunked") {
			return errBadResponse
		}
		p.chunked, p.contentLen = true, -1
	}
	conn := p.h.Get("Connection")
	p.closeAfter = hasToken(conn, "close") || (p.minor == 0 && !hasToken(conn, "keep-alive"))
	return nil
}

// bodyless reports whether the response carries no body for this request.
func (p *response) bodyless(head bool) bool {
	return head || p.status == 204 || p.status == 304 || (p.status >= 100 && p.status < 200)
}
