package h2stream

import (
	"bytes"
	"errors"
	"fmt"

	"tollgate/proxy/h2srv"
	"tollgate/proxy/http1"
)

// maxAnswerHead bounds the answer head the exchange writes.
const maxAnswerHead = 1 << 20

// errExtraBytes is bytes written after the answer ended.
var errExtraBytes = errors.New("h2stream: bytes after the end of the answer")

// Where the answer is.
const (
	answerHead  = iota // reading the head (or a 1xx)
	answerBody         // passing the body on
	answerUntil        // passing the body on until Close (no framing)
	answerDone         // the answer is whole
)

// responseWriter parses the exchange's HTTP/1.1 answer and writes it to
// the stream: the head as HEADERS (a 1xx as an informational HEADERS), the
// body as DATA, a chunked body's trailer section as trailers, END_STREAM
// with the answer's end.
type responseWriter struct {
	c       *Conn
	isHead  bool
	phase   int
	head    http1.HeadCollector
	resp    http1.Response
	left    int64 // Content-Length bytes still to come
	chunked bool
	chunks  http1.ChunkSink
	started bool // the head went to the stream
	// text and fields are copyFields' scratch: the kept fields' bytes,
	// and the fields as h2srv takes them (strings into text)
	text   []byte
	fields []h2srv.Field
}

func (o *responseWriter) init(c *Conn, isHead bool) {
	o.c, o.isHead = c, isHead
	o.phase, o.left, o.chunked, o.started = answerHead, 0, false, false
	o.head.Reset(maxAnswerHead)
}

func (o *responseWriter) write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		var k int
		var err error
		switch o.phase {
		case answerHead:
			k, err = o.takeHead(p)
		case answerBody:
			k, err = o.takeBody(p)
		case answerUntil:
			k, err = o.c.sendData(p, false)
		default:
			err = errExtraBytes
		}
		p = p[k:]
		if err != nil {
			return total - len(p), err
		}
	}
	return total, nil
}

// takeHead gathers the head up to its blank line and sends it.
func (o *responseWriter) takeHead(p []byte) (int, error) {
	used, done, err := o.head.Add(p)
	if err != nil { // ErrHeadTooLarge
		return len(p), fmt.Errorf("h2stream: answer head over %d bytes", maxAnswerHead)
	}
	if !done {
		return used, nil
	}
	err = o.head.Parse(&o.resp)
	o.head.Reset(maxAnswerHead) // a 1xx: the next head follows
	if err != nil {
		return used, fmt.Errorf("h2stream: answer head: %w", err)
	}
	return used, o.sendHead()
}

// sendHead writes the parsed head to the stream: a 1xx (but 101, which
// HTTP/2 has not) as an informational HEADERS, a bodyless answer as one
// HEADERS frame that ends the stream.
func (o *responseWriter) sendHead() error {
	p := &o.resp
	if p.Status < 200 {
		if p.Status == 101 {
			return nil
		}
		return o.c.sendHead(p.Status, o.copyFields(), false)
	}
	end := p.Bodyless(o.isHead) || p.ContentLen == 0
	switch {
	case end:
		o.phase = answerDone
	case p.ContentLen > 0:
		o.phase, o.left = answerBody, p.ContentLen
	case p.Chunked:
		o.phase, o.chunked = answerBody, true
		o.chunks.Reset(64 << 10)
	default:
		o.phase = answerUntil
	}
	o.started = true
	return o.c.sendHead(p.Status, o.copyFields(), end)
}

// copyFields returns the head's end-to-end fields (a chunked answer's
// Content-Length dropped), their names in lower case (as HTTP/2 has them)
// and values copied into one string: one allocation for the head (the
// HPACK encoder may keep the strings in its table, so they are not the
// parser's bytes).
func (o *responseWriter) copyFields() []h2srv.Field {
	p := &o.resp
	conn := p.Fields.Get("Connection")
	o.text, o.fields = o.text[:0], o.fields[:0]
	type span struct{ n, v int }
	var spans [32]span
	kept := spans[:0]
	for i := 0; i < p.Fields.Len(); i++ {
		name, value := p.Fields.At(i)
		if http1.IsHopByHop(name, conn) || (p.Chunked && http1.EqualFold(name, "Content-Length")) {
			continue
		}
		o.text = append(appendLower(o.text, name), value...)
		kept = append(kept, span{len(name), len(value)})
	}
	text := string(o.text)
	for _, k := range kept {
		o.fields = append(o.fields, h2srv.Field{Name: text[:k.n], Value: text[k.n : k.n+k.v]})
		text = text[k.n+k.v:]
	}
	return o.fields
}

// takeBody passes body bytes on: Content-Length bytes as they are, the
// last ending the stream; a chunked body decoded.
func (o *responseWriter) takeBody(p []byte) (int, error) {
	if !o.chunked {
		k := int(min(int64(len(p)), o.left))
		n, err := o.c.sendData(p[:k], int64(k) == o.left)
		o.left -= int64(n)
		if o.left == 0 {
			o.phase = answerDone
		}
		return n, err
	}
	return o.takeChunks(p)
}

// takeChunks decodes chunked bytes; a piece cut short waits in the sink.
func (o *responseWriter) takeChunks(p []byte) (int, error) {
	n, err := o.chunks.Write(p, o.writeData)
	if errors.Is(err, http1.ErrBadChunk) {
		return len(p), fmt.Errorf("h2stream: answer body: %w", err)
	}
	if err != nil {
		return len(p), err
	}
	if o.chunks.Done() {
		if err := o.c.sendTrailers(o.trailers(o.chunks.Trailer())); err != nil {
			return len(p), err
		}
		o.phase = answerDone
		if n < len(p) {
			return len(p), errExtraBytes
		}
	}
	return len(p), nil
}

// writeData passes decoded body bytes to the stream.
func (o *responseWriter) writeData(d []byte) error {
	_, err := o.c.sendData(d, false)
	return err
}

// trailers returns the chunked body's trailer fields ("name: value\r\n"
// lines, checked by the scanner).
func (o *responseWriter) trailers(lines []byte) []h2srv.Field {
	o.fields = o.fields[:0]
	for len(lines) > 0 {
		line, rest, _ := bytes.Cut(lines, []byte("\r\n"))
		lines = rest
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		o.fields = append(o.fields, h2srv.Field{Name: string(name), Value: string(bytes.TrimSpace(value))})
	}
	return o.fields
}

func (o *responseWriter) complete() bool {
	return o.phase == answerDone || o.phase == answerUntil
}

// release drops what the answer held, keeping small buffers.
func (o *responseWriter) release() {
	o.head.Shrink(keptHead)
	if cap(o.text) > keptHead {
		o.text = nil
	}
	clear(o.fields)
	o.fields = o.fields[:0]
	o.c = nil
}

// appendLower appends name in ASCII lower case.
func appendLower(dst, name []byte) []byte {
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}
