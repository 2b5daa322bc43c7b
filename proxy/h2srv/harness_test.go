package h2srv

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"

	"golang.org/x/net/http2"
)

// answerHandler answers every request, once its body has been read to
// the end (and Consumed), with 200, content-type text/plain and body,
// resuming the body on Writable as the client's windows allow.
type answerHandler struct {
	body string
	left map[*Stream][]byte // body still to send, per stream
}

func newAnswerHandler(body string) *answerHandler {
	return &answerHandler{body: body, left: make(map[*Stream][]byte)}
}

var textPlain = []Field{{Name: "content-type", Value: "text/plain"}}

func (h *answerHandler) Request(s *Stream) {
	if s.EndStream() {
		h.answer(s)
	}
}

func (h *answerHandler) Data(s *Stream, p []byte, end bool) {
	s.Consumed(len(p))
	if end {
		h.answer(s)
	}
}

func (h *answerHandler) Trailers(s *Stream, _ []Field) { h.answer(s) }

func (h *answerHandler) Reset(s *Stream, _ http2.ErrCode) { delete(h.left, s) }

func (h *answerHandler) Writable(s *Stream) { h.send(s, h.left[s]) }

func (h *answerHandler) answer(s *Stream) {
	if err := s.WriteHeaders(200, textPlain, false); err != nil {
		return
	}
	h.send(s, []byte(h.body))
}

func (h *answerHandler) send(s *Stream, p []byte) {
	n, err := s.WriteData(p, true)
	if err != nil || n == len(p) {
		delete(h.left, s)
		return
	}
	h.left[s] = p[n:]
}

// startHarness serves HTTP/2 with prior knowledge on a loopback listener
// until the test ends: one goroutine per connection reads the socket into
// a Conn driven by handler(), and writes its Output.
func startHarness(t testing.TB, cfg Config, handler func() Handler) string {
	t.Helper()
	return testkit.ServeLoopback(t, func(nc net.Conn) { driveConn(nc.(*net.TCPConn), NewConn(cfg, handler())) }, nil)
}

// driveConn is the harness's driver for one connection: read, Feed,
// write Output, until the connection ends; after a connection error it
// writes the GOAWAY, shuts its side and drains the client for a moment,
// so that the GOAWAY is read rather than lost to a reset.
func driveConn(nc *net.TCPConn, c *Conn) {
	defer nc.Close()
	buf := make([]byte, 32<<10)
	flush := func() error {
		for len(c.Output()) > 0 {
			n, err := nc.Write(c.Output())
			c.Wrote(n)
			if err != nil {
				return err
			}
		}
		return nil
	}
	for {
		if flush() != nil || c.Done() {
			c.Close()
			return
		}
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, rerr := nc.Read(buf)
		for p := buf[:n]; len(p) > 0; {
			k, err := c.Feed(p)
			p = p[k:]
			if err != nil {
				flush()
				nc.CloseWrite()
				nc.SetReadDeadline(time.Now().Add(time.Second))
				io.Copy(io.Discard, nc)
				return
			}
			if len(p) > 0 && flush() != nil {
				c.Close()
				return
			}
		}
		if rerr != nil {
			c.Close()
			return
		}
	}
}

// oneKiB is the harness's answer body: h2spec skips its flow control
// cases on a body under 5 bytes.
var oneKiB = strings.Repeat("0123456789abcdef", 64)
