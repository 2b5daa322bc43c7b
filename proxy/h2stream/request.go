package h2stream

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"tollgate/proxy/http1"
)

// requestReader renders a stream's request as HTTP/1.1 bytes.
type requestReader struct {
	head    []byte // the rendered head, its array kept from stream to stream
	pending []byte // rendered bytes not yet read
	body    io.ReadCloser
	chunked bool
	ended   bool // the body (and its last chunk) is in pending, or there is none
	buf     *[]byte
	bufs    *sync.Pool // where buf comes from and goes back to
}

func (in *requestReader) init(r *http.Request) {
	in.body, in.chunked, in.ended = r.Body, false, false
	if in.head == nil {
		in.head = make([]byte, 0, 512)
	}
	h := in.head[:0]
	h = append(h, r.Method...)
	h = append(h, ' ')
	h = append(h, requestTarget(r)...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, r.Host...)
	h = append(h, "\r\n"...)
	for name, values := range r.Header {
		if skipRequestField(name) {
			continue
		}
		for _, v := range values {
			h = append(h, name...)
			h = append(h, ": "...)
			h = append(h, v...)
			h = append(h, "\r\n"...)
		}
	}
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		in.ended = true
	case r.ContentLength == 0:
		in.ended = true // a GET says nothing; a POST of nothing says so
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			h = append(h, "Content-Length: 0\r\n"...)
		}
	case r.ContentLength > 0:
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, r.ContentLength, 10)
		h = append(h, "\r\n"...)
	default:
		h = append(h, "Transfer-Encoding: chunked\r\n"...)
		in.chunked = true
	}
	in.head = append(h, "\r\n"...)
	in.pending = in.head
}

// requestTarget is the :path; for OPTIONS * and CONNECT the server's
// RequestURI already says it.
func requestTarget(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// skipRequestField drops fields the Conn frames itself and those an
// HTTP/2 request must not carry (they would mean something else in
// HTTP/1.1).
func skipRequestField(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "upgrade", "trailer":
		return true
	}
	return false
}

func (in *requestReader) read(p []byte) (int, error) {
	for len(in.pending) == 0 {
		if in.ended {
			return 0, io.EOF
		}
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.pending)
	in.pending = in.pending[n:]
	return n, nil
}

// fill reads the next piece of body into pending, framed as a chunk when
// the length is unknown.
func (in *requestReader) fill() error {
	if in.buf == nil {
		in.buf = in.bufs.Get().(*[]byte)
	}
	b := *in.buf
	if !in.chunked {
		n, err := in.body.Read(b)
		in.pending = b[:n]
		if errors.Is(err, io.EOF) {
			in.ended = true
			return nil
		}
		if n > 0 {
			return nil
		}
		return err
	}
	n, err := in.body.Read(b[http1.ChunkRoom : len(b)-7]) // room after: CRLF and the last chunk
	out := b[:0]
	if n > 0 {
		out = http1.FrameChunk(b, n)
	}
	if errors.Is(err, io.EOF) {
		out = append(out, "0\r\n\r\n"...)
		in.ended = true
		err = nil
	}
	in.pending = out
	if n > 0 || in.ended {
		return nil
	}
	return err
}

func (in *requestReader) close() {
	if in.body != nil {
		in.body.Close()
		in.body = nil
	}
}

// release returns the read buffer; Read must not run again.
func (in *requestReader) release() {
	if in.buf != nil {
		in.bufs.Put(in.buf)
		in.buf = nil
	}
	in.pending = nil
	if cap(in.head) > keptHead {
		in.head = nil
	}
}
