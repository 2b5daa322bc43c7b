//lint:file-ignore SA1019 see pool.go: x/net/http2's ClientConn, for http2.StreamError.

package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// stream is one exchange's HTTP/2 stream, seen from the bridge.
type stream struct {
	cancel context.CancelFunc
	body   *pipe // the request body, nil without one
	resp   *pipe // the response as HTTP/1.1 bytes
	isHead bool

	headed chan struct{} // closed once the response head, or the stream's failure, is known
	err    error         // the stream's failure before a head; set before headed closes
	done   chan struct{} // closed when the stream ended and its reservation was released
}

// run drives one stream on c, from the request to the response's last
// byte, and releases the reservation at the stream's end.
func (p *Pool) run(s *stream, c *conn, req *http.Request) {
	ended := false
	end := func() {
		if !ended {
			ended = true
			p.release(c)
			close(s.done)
		}
	}
	defer end()
	defer s.cancel() // the stream is over either way
	res, err := c.cc.RoundTrip(req)
	if err != nil {
		s.err = classify(p.opts.Addr, err)
		close(s.headed)
		s.resp.closeWrite(s.err)
		return
	}
	close(s.headed)
	defer res.Body.Close()
	done := req.Context().Done()
	buf := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(buf)
	r := renderer{res: res, isHead: s.isHead, buf: (*buf)[:0]}
	if err := r.relay(s.resp, done, end); err != nil {
		s.resp.closeWrite(err)
		return
	}
	s.resp.closeWrite(io.EOF)
}

// writeFailed turns a failed write of the request body into the error
// the exchange sees: the stream's own failure when it stopped reading the
// body because it failed (a refusal, a reset), else err.
func (s *stream) writeFailed(err error, d *deadline, closed <-chan struct{}) error {
	if !errors.Is(err, errBodyClosed) {
		return err
	}
	if werr := d.wait(s.headed, closed); werr != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	return err
}
