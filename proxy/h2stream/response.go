package h2stream

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

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
// the stream.
type responseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	isHead  bool
	phase   int
	head    http1.HeadCollector
	resp    http1.Response
	left    int64 // Content-Length bytes still to come
	chunked bool
	chunks  http1.ChunkSink
	started bool // the head went to the stream
	// text and kept are copyFields' scratch: the kept fields' bytes, and
	// the length of each one's name and value
	text []byte
	kept [][2]int
}

func (o *responseWriter) init(w http.ResponseWriter, rc *http.ResponseController, isHead bool) {
	o.w, o.rc, o.isHead = w, rc, isHead
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
			k, err = o.w.Write(p)
		default:
			err = errExtraBytes
		}
		p = p[k:]
		if err != nil {
			return total - len(p), err
		}
	}
	// A body still coming is flushed write by write (it streams); a whole
	// answer leaves with the frame that ends the stream, in one write,
	// when the handler returns.
	if o.started && o.phase != answerDone {
		if err := o.rc.Flush(); err != nil {
			return total, err
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
	o.sendHead()
	return used, nil
}

// sendHead writes the parsed head to the stream, or drops a 1xx.
func (o *responseWriter) sendHead() {
	p := &o.resp
	if p.Status < 200 {
		return // interim: the HTTP/2 server answers Expect itself
	}
	o.copyFields(o.w.Header())
	o.w.WriteHeader(p.Status)
	switch {
	case p.Bodyless(o.isHead) || p.ContentLen == 0:
		o.phase = answerDone // one HEADERS frame ends the stream when the handler returns
		return
	case p.ContentLen > 0:
		o.phase, o.left = answerBody, p.ContentLen
	case p.Chunked:
		o.phase, o.chunked = answerBody, true
		o.chunks.Reset(64 << 10)
	default:
		o.phase = answerUntil
	}
	o.started = true
}

// copyFields puts the head's end-to-end fields in h. The names and values
// are copied into one string, and the value lists share one backing
// array: two allocations for the whole head, not three per field.
func (o *responseWriter) copyFields(h http.Header) {
	p := &o.resp
	conn := p.Fields.Get("Connection")
	o.text, o.kept = o.text[:0], o.kept[:0]
	for i := 0; i < p.Fields.Len(); i++ {
		name, value := p.Fields.At(i)
		if http1.IsHopByHop(name, conn) || (p.Chunked && http1.EqualFold(name, "Content-Length")) {
			continue
		}
		o.text = append(append(o.text, name...), value...)
		o.kept = append(o.kept, [2]int{len(name), len(value)})
	}
	text := string(o.text)
	values := make([]string, len(o.kept))
	for i, k := range o.kept {
		name := http.CanonicalHeaderKey(text[:k[0]])
		values[i], text = text[k[0]:k[0]+k[1]], text[k[0]+k[1]:]
		if prev := h[name]; prev != nil {
			h[name] = append(prev, values[i])
			continue
		}
		h[name] = values[i : i+1 : i+1] // capped: an append to it copies
	}
}

// takeBody passes body bytes on: Content-Length bytes as they are, a
// chunked body decoded.
func (o *responseWriter) takeBody(p []byte) (int, error) {
	if !o.chunked {
		k := int(min(int64(len(p)), o.left))
		n, err := o.w.Write(p[:k])
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
		o.setTrailers(o.chunks.Trailer())
		o.phase = answerDone
		if n < len(p) {
			return len(p), errExtraBytes
		}
	}
	return len(p), nil
}

// writeData passes decoded body bytes to the stream.
func (o *responseWriter) writeData(d []byte) error {
	_, err := o.w.Write(d)
	return err
}

// setTrailers makes the chunked body's trailer fields ("name: value\r\n"
// lines, checked by the scanner) the stream's trailers, sent when the
// handler returns.
func (o *responseWriter) setTrailers(lines []byte) {
	h := o.w.Header()
	for len(lines) > 0 {
		line, rest, _ := bytes.Cut(lines, []byte("\r\n"))
		lines = rest
		name, value, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		k := http.TrailerPrefix + http.CanonicalHeaderKey(string(name))
		h[k] = append(h[k], string(value))
	}
}

// finish ends the answer: nothing left to do but let the handler return.
func (o *responseWriter) finish() {}

func (o *responseWriter) complete() bool {
	return o.phase == answerDone || o.phase == answerUntil
}
