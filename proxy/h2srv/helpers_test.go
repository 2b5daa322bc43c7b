package h2srv

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/internal/testkit"
)

// recorder is a Handler that logs what it is told, one line per call,
// and lets a test act on each call.
type recorder struct {
	log        []string
	bodies     map[uint32]string
	onRequest  func(s *Stream)
	onData     func(s *Stream, p []byte, end bool)
	onTrailers func(s *Stream, fields []Field)
	onWritable func(s *Stream)
}

func newRecorder() *recorder { return &recorder{bodies: make(map[uint32]string)} }

func (r *recorder) logf(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

func (r *recorder) Request(s *Stream) {
	r.logf("request %d %s %s %s %s end=%v %s", s.ID(), s.Method(), s.Scheme(), s.Authority(), s.Path(), s.EndStream(), fieldsString(s.Fields()))
	if r.onRequest != nil {
		r.onRequest(s)
	}
}

func (r *recorder) Data(s *Stream, p []byte, end bool) {
	r.logf("data %d %d end=%v", s.ID(), len(p), end)
	r.bodies[s.ID()] += string(p)
	if r.onData != nil {
		r.onData(s, p, end)
	}
}

func (r *recorder) Trailers(s *Stream, fields []Field) {
	r.logf("trailers %d %s", s.ID(), fieldsString(fields))
	if r.onTrailers != nil {
		r.onTrailers(s, fields)
	}
}

func (r *recorder) Reset(s *Stream, code http2.ErrCode) { r.logf("reset %d %v", s.ID(), code) }

func (r *recorder) Writable(s *Stream) {
	r.logf("writable %d", s.ID())
	if r.onWritable != nil {
		r.onWritable(s)
	}
}

// has reports whether a logged line starts with prefix.
func (r *recorder) has(prefix string) bool {
	for _, l := range r.log {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func fieldsString(fs []Field) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name + ":" + f.Value)
	}
	return "[" + b.String() + "]"
}

// event is one frame the server sent, as the test client read it.
type event struct {
	typ    http2.FrameType
	stream uint32
	end    bool // END_STREAM (DATA, HEADERS), ACK (SETTINGS, PING)
	data   string
	fields []hpack.HeaderField // HEADERS with its CONTINUATIONs, decoded
	code   http2.ErrCode       // RST_STREAM, GOAWAY
	last   uint32              // GOAWAY's last stream id
	inc    uint32              // WINDOW_UPDATE
	sets   []http2.Setting
}

func (e event) field(name string) string {
	for _, f := range e.fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// client is a test HTTP/2 client: it writes frames with an http2.Framer
// into a buffer, feeds them to a Conn, and reads the Conn's Output back
// with another Framer (which checks the server's frames as it parses).
type client struct {
	t     testing.TB
	c     *Conn
	h     *recorder
	clock *testkit.Clock
	buf   bytes.Buffer // frames not yet fed
	fr    *http2.Framer
	enc   *hpack.Encoder
	hbuf  bytes.Buffer
	in    bytes.Buffer // server output not yet parsed
	rd    *http2.Framer
}

// newClient starts a connection with cfg and sends the client preface
// and an empty SETTINGS (plus settings); it checks the server preface
// and answers its SETTINGS with an ACK.
func newClient(t testing.TB, cfg Config, settings ...http2.Setting) *client {
	t.Helper()
	cl := &client{t: t, h: newRecorder(), clock: testkit.NewClock(testkit.Epoch)}
	if cfg.Now == nil {
		cfg.Now = cl.clock.Now
	}
	cl.c = NewConn(cfg, cl.h)
	cl.fr = http2.NewFramer(&cl.buf, nil)
	cl.fr.AllowIllegalWrites = true
	cl.enc = hpack.NewEncoder(&cl.hbuf)
	cl.rd = http2.NewFramer(nil, &cl.in)
	cl.rd.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cl.rd.MaxHeaderListSize = 1 << 20
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings(settings...)
	cl.mustFeed()
	evs := cl.read()
	if len(evs) < 2 || evs[0].typ != http2.FrameSettings || evs[0].end || evs[1].typ != http2.FrameWindowUpdate {
		t.Fatalf("server preface: %+v", evs)
	}
	cl.fr.WriteSettingsAck()
	cl.mustFeed()
	return cl
}

// feed gives the Conn every frame written so far, as one Feed (or more,
// when it stops early on a full Output, whose bytes are then read).
func (cl *client) feed() error {
	p := cl.buf.Bytes()
	defer cl.buf.Reset()
	for len(p) > 0 {
		n, err := cl.c.Feed(p)
		p = p[n:]
		if err != nil {
			return err
		}
		if n == 0 {
			cl.drain()
		}
	}
	return nil
}

func (cl *client) mustFeed() {
	cl.t.Helper()
	if err := cl.feed(); err != nil {
		cl.t.Fatalf("Feed: %v", err)
	}
}

// drain moves the Conn's Output into the client's unparsed input.
func (cl *client) drain() {
	cl.in.Write(cl.c.Output())
	cl.c.Wrote(len(cl.c.Output()))
}

// read returns the frames the server sent since the last read.
func (cl *client) read() []event {
	cl.t.Helper()
	cl.drain()
	var evs []event
	for cl.in.Len() > 0 {
		f, err := cl.rd.ReadFrame()
		if err != nil {
			cl.t.Fatalf("reading the server's frames: %v", err)
		}
		evs = append(evs, toEvent(f))
	}
	return evs
}

func toEvent(f http2.Frame) event {
	e := event{typ: f.Header().Type, stream: f.Header().StreamID}
	switch f := f.(type) {
	case *http2.DataFrame:
		e.end, e.data = f.StreamEnded(), string(f.Data())
	case *http2.MetaHeadersFrame:
		e.end, e.fields = f.StreamEnded(), f.Fields
	case *http2.SettingsFrame:
		e.end = f.IsAck()
		f.ForeachSetting(func(s http2.Setting) error { e.sets = append(e.sets, s); return nil })
	case *http2.PingFrame:
		e.end, e.data = f.IsAck(), string(f.Data[:])
	case *http2.RSTStreamFrame:
		e.code = f.ErrCode
	case *http2.GoAwayFrame:
		e.code, e.last = f.ErrCode, f.LastStreamID
	case *http2.WindowUpdateFrame:
		e.inc = f.Increment
	}
	return e
}

// block HPACK-encodes name/value pairs.
func (cl *client) block(kv ...string) []byte {
	cl.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		cl.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), cl.hbuf.Bytes()...)
}

// get is a GET request head with extra fields.
func get(path string, extra ...string) []string {
	return append([]string{":method", "GET", ":scheme", "http", ":authority", "example.test", ":path", path}, extra...)
}

// headers writes a HEADERS frame (END_HEADERS) carrying kv.
func (cl *client) headers(id uint32, end bool, kv ...string) {
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: end, EndHeaders: true, BlockFragment: cl.block(kv...)})
}

// data writes a DATA frame.
func (cl *client) data(id uint32, end bool, p string) { cl.fr.WriteData(id, end, []byte(p)) }

// expectConnError feeds what was written and checks for a connection
// error with code, a GOAWAY with it included.
func (cl *client) expectConnError(code http2.ErrCode) {
	cl.t.Helper()
	err := cl.feed()
	ce, ok := err.(*ConnError)
	if !ok || ce.Code != code {
		cl.t.Fatalf("Feed = %v, want a connection error %v", err, code)
	}
	evs := cl.read()
	if len(evs) == 0 || evs[len(evs)-1].typ != http2.FrameGoAway || evs[len(evs)-1].code != code {
		cl.t.Fatalf("frames after the connection error: %+v, want a GOAWAY %v last", evs, code)
	}
	if !cl.c.Done() {
		cl.t.Fatalf("Done() = false after a connection error")
	}
}

// expectReset feeds what was written and checks that the server reset
// stream id with code, and nothing else went wrong.
func (cl *client) expectReset(id uint32, code http2.ErrCode) {
	cl.t.Helper()
	cl.mustFeed()
	for _, e := range cl.read() {
		if e.typ == http2.FrameRSTStream && e.stream == id && e.code == code {
			return
		}
	}
	cl.t.Fatalf("no RST_STREAM %v on stream %d", code, id)
}

// answer writes a 200 with body on s.
func answer(t testing.TB, s *Stream, body string) {
	t.Helper()
	if err := s.WriteHeaders(200, textPlain, body == ""); err != nil {
		t.Fatalf("WriteHeaders: %v", err)
	}
	if body == "" {
		return
	}
	if n, err := s.WriteData([]byte(body), true); err != nil || n != len(body) {
		t.Fatalf("WriteData = %d, %v; want %d", n, err, len(body))
	}
}

// ofType keeps the events of one frame type.
func ofType(evs []event, typ http2.FrameType) []event {
	var out []event
	for _, e := range evs {
		if e.typ == typ {
			out = append(out, e)
		}
	}
	return out
}

// frameTypes counts the frames in raw server output by type.
func frameTypes(b []byte) map[http2.FrameType]int {
	n := make(map[http2.FrameType]int)
	for len(b) >= frameHeaderLen {
		n[http2.FrameType(b[3])]++
		b = b[frameHeaderLen+int(frameLen(b)):]
	}
	return n
}
