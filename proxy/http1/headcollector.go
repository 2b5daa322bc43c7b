package http1

import (
	"bufio"
	"bytes"
)

// HeadCollector gathers a message head written in pieces — to a
// net.Conn that is no socket, say — up to its blank line, then parses it
// into a Request or Response. Its buffers are kept from head to head.
type HeadCollector struct {
	buf []byte
	max int
	hr  bytes.Reader
	br  *bufio.Reader
}

// Reset starts a new head of at most max bytes.
func (h *HeadCollector) Reset(max int) {
	h.buf, h.max = h.buf[:0], max
}

// Add takes the bytes of p up to the head's blank line: used of them
// belong to the head (the rest are the body's), and done reports that
// the head is whole. A head over max bytes is ErrHeadTooLarge.
func (h *HeadCollector) Add(p []byte) (used int, done bool, err error) {
	old := len(h.buf)
	h.buf = append(h.buf, p[:min(len(p), max(0, h.max-old))]...)
	from := max(0, old-3)
	end := bytes.Index(h.buf[from:], []byte("\r\n\r\n"))
	if end < 0 {
		if len(h.buf) >= h.max {
			return 0, false, ErrHeadTooLarge
		}
		return len(p), false, nil
	}
	end += from + 4
	h.buf = h.buf[:end]
	return end - old, true, nil
}

// Parse reads the whole head Add gathered into m (a *Request or a
// *Response) and parses it.
func (h *HeadCollector) Parse(m interface {
	ReadHead(r *bufio.Reader, max int) error
	Parse() error
}) error {
	h.hr.Reset(h.buf)
	if h.br == nil {
		h.br = bufio.NewReaderSize(&h.hr, 1024)
	} else {
		h.br.Reset(&h.hr)
	}
	if err := m.ReadHead(h.br, h.max); err != nil {
		return err
	}
	return m.Parse()
}

// Shrink drops the buffers when they grew past max bytes (a large head
// once), so that a collector kept for reuse holds little.
func (h *HeadCollector) Shrink(max int) {
	if cap(h.buf) > max {
		h.buf = nil
	}
}
