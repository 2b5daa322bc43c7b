package proxy

import (
	"bufio"
	"errors"
)

// Errors found while reading or parsing a head. They map to 400 or 431
// through statusOf; none of them lets a request reach an upstream.
var (
	errHeadTooLarge = errors.New("request head too large")
	errBareLF       = errors.New("bare LF in head")
	errObsFold      = errors.New("obsolete line folding in head")
	errBadLine      = errors.New("malformed request line")
	errBadStatus    = errors.New("malformed status line")
	errBadField     = errors.New("malformed header field")
	errBadVersion   = errors.New("unsupported HTTP version")
)

// readHead appends one message head (through the blank line) from r to
// buf. Leading empty lines are skipped, as RFC 9112 section 2.2 allows.
func readHead(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	lineStart := len(buf)
	for {
		line, err := r.ReadSlice('\n')
		if len(buf)+len(line) > max {
			return buf, errHeadTooLarge
		}
		buf = append(buf, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return buf, err
		}
		l := buf[lineStart:]
		if len(l) <= 2 && (len(l) == 1 || l[0] == '\r') {
			if lineStart == 0 {
				buf = buf[:0]
				continue
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// splitLines walks the head in buf calling fn for each line (without its
// CRLF) and its start offset, stopping at the blank line. Bare LF, stray
// CR and obs-fold are errors.
func splitLines(buf []byte, fn func(line []byte, off int) error) error {
	off := 0
	first := true
	for off < len(buf) {
		end := off
		for end < len(buf) && buf[end] != '\n' {
			end++
		}
		if end == len(buf) || end == off || buf[end-1] != '\r' {
			return errBareLF
		}
		line := buf[off : end-1]
		if len(line) == 0 {
			return nil
		}
		if !first && (line[0] == ' ' || line[0] == '\t') {
			return errObsFold
		}
		if err := fn(line, off); err != nil {
			return err
		}
		first = false
		off = end + 1
	}
	return errBareLF
}

// parseField records "name: value" at offset off of h.buf.
func parseField(h *Header, line []byte, off int) error {
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
		if !isTokenChar(c) {
			return errBadField
		}
	}
	if colon <= 0 {
		return errBadField
	}
	vs, ve := colon+1, len(line)
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	for _, c := range line[vs:ve] {
		if c == 0 || c == '\r' || c == '\n' || (c < ' ' && c != '\t') || c == 0x7f {
			return errBadField
		}
	}
	h.addRaw(off, off+colon, off+vs, off+ve)
	return nil
}

// parseVersion accepts exactly HTTP/1.0 and HTTP/1.1 and returns the minor.
func parseVersion(b []byte) (int, error) {
	if len(b) != 8 || string(b[:7]) != "HTTP/1." {
		return 0, errBadVersion
	}
	switch b[7] {
	case '0':
		return 0, nil
	case '1':
		return 1, nil
	}
	return 0, errBadVersion
}

// tchar per RFC 9110 section 5.6.2.
func isTokenChar(c byte) bool {
	return tokenTable[c]
}

var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
