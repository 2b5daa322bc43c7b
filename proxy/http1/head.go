package http1

import (
	"bufio"
	"errors"
)

// Errors found while reading or parsing a head. In a request they mean
// 400 (431 for ErrHeadTooLarge); none of them lets a request reach an
// upstream. The exported ones are those the gateway tells apart when an
// upstream's head fails (502).
var (
	// ErrHeadTooLarge is a head longer than the limit given to ReadHead.
	ErrHeadTooLarge = errors.New("request head too large")
	// ErrBareLF is a line ended by LF without CR, or a head cut short.
	ErrBareLF = errors.New("bare LF in head")
	// ErrObsFold is a field line continued by obsolete line folding.
	ErrObsFold = errors.New("obsolete line folding in head")
	// ErrBadStatus is a malformed status line.
	ErrBadStatus = errors.New("malformed status line")
	// ErrBadVersion is a version other than HTTP/1.0 and HTTP/1.1.
	ErrBadVersion = errors.New("unsupported HTTP version")

	errBadLine  = errors.New("malformed request line")
	errBadField = errors.New("malformed header field")
)

// readHead appends one message head (through the blank line) from r to
// buf. Leading empty lines are skipped, as RFC 9112 section 2.2 allows.
func readHead(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	lineStart := len(buf)
	for {
		line, err := r.ReadSlice('\n')
		if len(buf)+len(line) > max {
			return buf, ErrHeadTooLarge
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
			return ErrBareLF
		}
		line := buf[off : end-1]
		if len(line) == 0 {
			return nil
		}
		if !first && (line[0] == ' ' || line[0] == '\t') {
			return ErrObsFold
		}
		if err := fn(line, off); err != nil {
			return err
		}
		first = false
		off = end + 1
	}
	return ErrBareLF
}

// parseVersion accepts exactly HTTP/1.0 and HTTP/1.1 and returns the minor.
func parseVersion(b []byte) (int, error) {
	if len(b) != 8 || string(b[:7]) != "HTTP/1." {
		return 0, ErrBadVersion
	}
	switch b[7] {
	case '0':
		return 0, nil
	case '1':
		return 1, nil
	}
	return 0, ErrBadVersion
}
