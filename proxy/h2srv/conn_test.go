package h2srv

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestServerPreface: the server's SETTINGS carry the configured limits
// and a WINDOW_UPDATE grows the connection window to ConnWindowSize.
func TestServerPreface(t *testing.T) {
	c := NewConn(Config{MaxConcurrentStreams: 7, InitialWindowSize: 1 << 16, ConnWindowSize: 1 << 20, MaxHeaderListSize: 8192}, newRecorder())
	cl := &client{t: t}
	cl.rd = http2.NewFramer(nil, &cl.in)
	cl.c = c
	evs := cl.read()
	if len(evs) != 2 {
		t.Fatalf("server preface: %+v", evs)
	}
	want := map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: 7, http2.SettingInitialWindowSize: 1 << 16,
		http2.SettingMaxFrameSize: 1 << 14, http2.SettingMaxHeaderListSize: 8192,
	}
	for _, s := range evs[0].sets {
		if want[s.ID] != s.Val {
			t.Errorf("setting %v = %d, want %d", s.ID, s.Val, want[s.ID])
		}
		delete(want, s.ID)
	}
	if len(want) > 0 {
		t.Errorf("settings missing: %v", want)
	}
	if evs[1].typ != http2.FrameWindowUpdate || evs[1].stream != 0 || evs[1].inc != 1<<20-65535 {
		t.Errorf("second frame %+v, want WINDOW_UPDATE 0 +%d", evs[1], 1<<20-65535)
	}
}

// TestGet: a GET reaches Handler.Request with its pseudo-headers and
// fields; the answer comes back as HEADERS and DATA ending the stream,
// which then closes.
func TestGet(t *testing.T) {
	cl := newClient(t, Config{})
	cl.h.onRequest = func(s *Stream) { answer(t, s, "hello") }
	cl.headers(1, true, get("/a?b=c", "accept", "text/plain", "cookie", "x=1", "cookie", "y=2")...)
	cl.mustFeed()
	if want := "request 1 GET http example.test /a?b=c end=true [accept:text/plain cookie:x=1 cookie:y=2]"; cl.h.log[0] != want {
		t.Errorf("handler saw %q, want %q", cl.h.log[0], want)
	}
	evs := cl.read()
	if len(evs) != 2 || evs[0].typ != http2.FrameHeaders || evs[0].field(":status") != "200" || evs[0].field("content-type") != "text/plain" || evs[0].end {
		t.Fatalf("answer: %+v", evs)
	}
	if evs[1].typ != http2.FrameData || evs[1].data != "hello" || !evs[1].end {
		t.Fatalf("answer body: %+v", evs[1])
	}
	if !cl.c.Idle() {
		t.Errorf("Idle() = false after the stream ended both ways")
	}
}

// TestFeedByteByByte: frames cut anywhere, down to single bytes, are
// put back together.
func TestFeedByteByByte(t *testing.T) {
	cl := newClient(t, Config{})
	cl.h.onRequest = func(s *Stream) { answer(t, s, "ok") }
	cl.headers(1, false, get("/up", "content-length", "11")...)
	cl.data(1, false, "hello ")
	cl.data(1, true, "world")
	for _, b := range cl.buf.Bytes() {
		if n, err := cl.c.Feed([]byte{b}); n != 1 || err != nil {
			t.Fatalf("Feed(1 byte) = %d, %v", n, err)
		}
	}
	cl.buf.Reset()
	if cl.h.bodies[1] != "hello world" {
		t.Errorf("body %q, want %q", cl.h.bodies[1], "hello world")
	}
	if got := ofType(cl.read(), http2.FrameData); len(got) != 1 || got[0].data != "ok" {
		t.Errorf("answer %+v", got)
	}
}

// TestPostBodyFlowControl: a body larger than half the windows comes in;
// Consumed gives the window back with WINDOW_UPDATEs on the stream and
// the connection, and a client that sends past a stream's window gets
// that stream reset with FLOW_CONTROL_ERROR.
func TestPostBodyFlowControl(t *testing.T) {
	cl := newClient(t, Config{InitialWindowSize: 1 << 15, ConnWindowSize: 1 << 16})
	consume := true
	cl.h.onData = func(s *Stream, p []byte, end bool) {
		if consume {
			s.Consumed(len(p))
		}
	}
	chunk := strings.Repeat("x", 1<<14)
	cl.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/up")
	cl.data(1, false, chunk)
	cl.data(1, false, chunk)
	cl.mustFeed()
	var stream, conn uint32
	for _, e := range ofType(cl.read(), http2.FrameWindowUpdate) {
		if e.stream == 1 {
			stream += e.inc
		} else {
			conn += e.inc
		}
	}
	if stream != 1<<15 || conn != 1<<15 {
		t.Fatalf("WINDOW_UPDATEs gave back %d on the stream and %d on the connection, want %d each", stream, conn, 1<<15)
	}
	// The stream has 1<<15 again; the handler stops consuming and the
	// client sends 1<<15 + 1.
	consume = false
	cl.data(1, false, chunk)
	cl.data(1, false, chunk)
	cl.data(1, false, "!")
	cl.expectReset(1, http2.ErrCodeFlowControl)
	if !cl.h.has("reset 1 FLOW_CONTROL_ERROR") {
		t.Errorf("handler not told of the reset: %v", cl.h.log)
	}
}

// TestConnectionWindowEnforced: DATA beyond the connection window is a
// connection error FLOW_CONTROL_ERROR, even spread over streams.
func TestConnectionWindowEnforced(t *testing.T) {
	cl := newClient(t, Config{InitialWindowSize: 1 << 16, ConnWindowSize: 1 << 16})
	chunk := strings.Repeat("x", 1<<14)
	for id := uint32(1); id <= 5; id += 2 {
		cl.headers(id, false, ":method", "POST", ":scheme", "http", ":path", "/up")
	}
	for i := 0; i < 4; i++ {
		cl.data(uint32(1+2*(i%3)), false, chunk)
	}
	cl.mustFeed()
	cl.data(5, false, "!")
	cl.expectConnError(http2.ErrCodeFlowControl)
	if n := strings.Count(strings.Join(cl.h.log, "\n"), "FLOW_CONTROL_ERROR"); n != 3 {
		t.Errorf("handler told of %d streams ending, want 3: %v", n, cl.h.log)
	}
}

// TestPaddingGivenBack: padded DATA and HEADERS are accepted, and the
// padding's window comes back without the handler consuming it.
func TestPaddingGivenBack(t *testing.T) {
	cl := newClient(t, Config{InitialWindowSize: 200})
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, PadLength: 20,
		BlockFragment: cl.block(":method", "POST", ":scheme", "http", ":path", "/p")})
	cl.fr.WriteDataPadded(1, false, []byte("abc"), make([]byte, 120))
	cl.mustFeed()
	if cl.h.bodies[1] != "abc" {
		t.Fatalf("body %q", cl.h.bodies[1])
	}
	ups := ofType(cl.read(), http2.FrameWindowUpdate)
	if len(ups) != 1 || ups[0].stream != 1 || ups[0].inc != 121 {
		t.Errorf("WINDOW_UPDATEs %+v, want the stream's 121 padding bytes back", ups)
	}
}

// TestTrailersBothWays: request trailers reach Handler.Trailers; the
// answer's trailers end the stream.
func TestTrailersBothWays(t *testing.T) {
	cl := newClient(t, Config{})
	cl.h.onTrailers = func(s *Stream, fields []Field) {
		if err := s.WriteHeaders(200, []Field{{Name: "Content-Type", Value: "application/grpc"}}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteData([]byte("msg"), false); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteTrailers([]Field{{Name: "grpc-status", Value: "0"}, {Name: "grpc-message", Value: "fine"}}); err != nil {
			t.Fatal(err)
		}
	}
	cl.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/pkg.S/M", "te", "trailers")
	cl.data(1, false, "req")
	cl.headers(1, true, "x-checksum", "abc")
	cl.mustFeed()
	if !cl.h.has("trailers 1 [x-checksum:abc]") {
		t.Fatalf("handler log %v", cl.h.log)
	}
	evs := cl.read()
	if len(evs) != 3 || evs[0].field("content-type") != "application/grpc" || evs[1].data != "msg" ||
		evs[2].typ != http2.FrameHeaders || !evs[2].end || evs[2].field("grpc-status") != "0" || evs[2].field(":status") != "" {
		t.Fatalf("answer %+v", evs)
	}
	if !cl.c.Idle() {
		t.Error("stream still open after trailers both ways")
	}
}

// TestManyConcurrentStreams: 100 streams open at once, answered in
// reverse order, each getting its own answer.
func TestManyConcurrentStreams(t *testing.T) {
	cl := newClient(t, Config{MaxConcurrentStreams: 100})
	var open []*Stream
	cl.h.onRequest = func(s *Stream) { open = append(open, s) }
	for i := 0; i < 100; i++ {
		cl.headers(uint32(1+2*i), true, get("/s")...)
	}
	cl.mustFeed()
	if len(open) != 100 {
		t.Fatalf("%d requests, want 100", len(open))
	}
	for i := len(open) - 1; i >= 0; i-- {
		answer(t, open[i], "body")
	}
	seen := make(map[uint32]bool)
	for _, e := range ofType(cl.read(), http2.FrameData) {
		if !e.end || e.data != "body" || seen[e.stream] {
			t.Fatalf("bad answer %+v", e)
		}
		seen[e.stream] = true
	}
	if len(seen) != 100 || !cl.c.Idle() {
		t.Errorf("%d streams answered, Idle %v", len(seen), cl.c.Idle())
	}
}

// TestRefusedPastMaxStreams: a stream past MAX_CONCURRENT_STREAMS is
// refused with REFUSED_STREAM; one more fits once a stream ends.
func TestRefusedPastMaxStreams(t *testing.T) {
	cl := newClient(t, Config{MaxConcurrentStreams: 2})
	var first *Stream
	cl.h.onRequest = func(s *Stream) {
		if first == nil {
			first = s
		}
	}
	cl.headers(1, true, get("/")...)
	cl.headers(3, true, get("/")...)
	cl.headers(5, true, get("/")...)
	cl.expectReset(5, http2.ErrCodeRefusedStream)
	answer(t, first, "")
	cl.headers(7, true, get("/")...)
	cl.mustFeed()
	if !cl.h.has("request 7 ") || cl.h.has("request 5 ") {
		t.Errorf("handler log %v", cl.h.log)
	}
}

// TestWriteDataWaitsForWindow: WriteData takes what the client's window
// allows; a WINDOW_UPDATE wakes the stream with Writable, and a larger
// SETTINGS_INITIAL_WINDOW_SIZE does too.
func TestWriteDataWaitsForWindow(t *testing.T) {
	cl := newClient(t, Config{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	body := []byte(strings.Repeat("b", 100))
	left := body
	send := func(s *Stream) {
		n, err := s.WriteData(left, true)
		if err != nil {
			t.Fatal(err)
		}
		left = left[n:]
	}
	cl.h.onRequest = func(s *Stream) {
		if err := s.WriteHeaders(200, nil, false); err != nil {
			t.Fatal(err)
		}
		send(s)
	}
	cl.h.onWritable = send
	cl.headers(1, true, get("/big")...)
	cl.mustFeed()
	if len(left) != 90 {
		t.Fatalf("WriteData took %d bytes, want 10", 100-len(left))
	}
	cl.fr.WriteWindowUpdate(1, 40)
	cl.mustFeed()
	if len(left) != 50 || !cl.h.has("writable 1") {
		t.Fatalf("after WINDOW_UPDATE +40: %d left (want 50), log %v", len(left), cl.h.log)
	}
	cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 60})
	cl.mustFeed()
	if len(left) != 0 {
		t.Fatalf("after INITIAL_WINDOW_SIZE 10 -> 60: %d left, want 0", len(left))
	}
	var got string
	evs := ofType(cl.read(), http2.FrameData)
	for _, e := range evs {
		got += e.data
	}
	if got != string(body) || !evs[len(evs)-1].end || !cl.c.Idle() {
		t.Errorf("body %d bytes, last %+v, Idle %v", len(got), evs[len(evs)-1], cl.c.Idle())
	}
}

// TestConnectionSendWindow: streams share the connection's send window;
// a WINDOW_UPDATE on stream 0 wakes them in the order they waited.
func TestConnectionSendWindow(t *testing.T) {
	cl := newClient(t, Config{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	body := []byte(strings.Repeat("c", 40000))
	left := map[uint32][]byte{}
	send := func(s *Stream) {
		n, err := s.WriteData(left[s.ID()], true)
		if err != nil {
			t.Fatal(err)
		}
		left[s.ID()] = left[s.ID()][n:]
	}
	cl.h.onRequest = func(s *Stream) {
		s.WriteHeaders(200, nil, false)
		left[s.ID()] = body
		send(s)
	}
	cl.h.onWritable = send
	cl.headers(1, true, get("/1")...)
	cl.headers(3, true, get("/3")...)
	cl.mustFeed()
	if len(left[1]) != 0 || len(left[3]) != 80000-65535 {
		t.Fatalf("left %d and %d, want 0 and %d", len(left[1]), len(left[3]), 80000-65535)
	}
	cl.fr.WriteWindowUpdate(0, 100000)
	cl.mustFeed()
	if len(left[3]) != 0 || !cl.c.Idle() {
		t.Fatalf("after the connection WINDOW_UPDATE: %d left", len(left[3]))
	}
	for _, e := range ofType(cl.read(), http2.FrameData) {
		if len(e.data) > 1<<14 {
			t.Errorf("DATA frame of %d bytes, over the client's 16384", len(e.data))
		}
	}
}

// TestResponseHeaders: names are lower-cased, hop-by-hop fields
// dropped, and a head larger than a frame is cut into CONTINUATIONs.
func TestResponseHeaders(t *testing.T) {
	cl := newClient(t, Config{})
	big := strings.Repeat("v", 40000)
	cl.h.onRequest = func(s *Stream) {
		err := s.WriteHeaders(404, []Field{{Name: "X-Big", Value: big}, {Name: "Connection", Value: "close"},
			{Name: "Transfer-Encoding", Value: "chunked"}, {Name: ":status", Value: "200"}, {Name: "Keep-Alive", Value: "5"}}, true)
		if err != nil {
			t.Fatal(err)
		}
	}
	cl.headers(1, true, get("/")...)
	cl.mustFeed()
	types := frameTypes(cl.c.Output())
	evs := cl.read()
	if types[http2.FrameContinuation] < 2 || len(evs) != 1 {
		t.Fatalf("frames %v, events %+v", types, evs)
	}
	e := evs[0]
	if len(e.fields) != 2 || e.field(":status") != "404" || e.field("x-big") != big || !e.end {
		t.Errorf("fields %d: %v", len(e.fields), e.fields[0])
	}
}

// TestGoAway: a graceful GOAWAY names the last stream; a stream opened
// after it is ignored, the open one finishes, and then Done.
func TestGoAway(t *testing.T) {
	cl := newClient(t, Config{})
	var open *Stream
	cl.h.onRequest = func(s *Stream) { open = s }
	cl.headers(1, true, get("/")...)
	cl.mustFeed()
	cl.c.GoAway()
	evs := cl.read()
	if len(evs) != 1 || evs[0].typ != http2.FrameGoAway || evs[0].last != 1 || evs[0].code != http2.ErrCodeNo {
		t.Fatalf("after GoAway: %+v", evs)
	}
	cl.headers(3, true, get("/late")...)
	cl.mustFeed()
	if cl.h.has("request 3") || cl.c.Done() {
		t.Fatalf("stream 3 served after GOAWAY, or Done with stream 1 open: %v", cl.h.log)
	}
	answer(t, open, "bye")
	if !cl.c.Done() {
		t.Error("Done() = false with no stream left after GOAWAY")
	}
}

// TestPeerGoAway: after the client's GOAWAY, new streams are refused, but
// the connection stays: a PING that follows is answered, and it is the
// client that closes.
func TestPeerGoAway(t *testing.T) {
	cl := newClient(t, Config{})
	cl.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	cl.headers(1, true, get("/")...)
	cl.expectReset(1, http2.ErrCodeRefusedStream)
	if cl.c.Done() {
		t.Error("Done() = true after the client's GOAWAY: the connection would close under the client")
	}
	cl.fr.WritePing(false, [8]byte{'a', 'f', 't', 'e', 'r', 0, 0, 0})
	cl.mustFeed()
	evs := cl.read()
	if len(evs) != 1 || evs[0].typ != http2.FramePing || !evs[0].end || evs[0].data != "after\x00\x00\x00" {
		t.Fatalf("after the client's GOAWAY, a PING got %+v, want its ACK alone", evs)
	}
}

// TestClientReset: RST_STREAM from the client reaches Handler.Reset, and
// later writes on the stream fail.
func TestClientReset(t *testing.T) {
	cl := newClient(t, Config{})
	var open *Stream
	cl.h.onRequest = func(s *Stream) { open = s }
	cl.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/")
	cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	cl.mustFeed()
	if !cl.h.has("reset 1 CANCEL") || !cl.c.Idle() {
		t.Fatalf("log %v", cl.h.log)
	}
	if err := open.WriteHeaders(200, nil, true); err != ErrStreamClosed {
		t.Errorf("WriteHeaders after reset = %v, want ErrStreamClosed", err)
	}
}

// TestPingAndUnknownFrames: a PING is answered with its data; an unknown
// frame type is ignored.
func TestPingAndUnknownFrames(t *testing.T) {
	cl := newClient(t, Config{})
	cl.fr.WriteRawFrame(0xee, 0, 0, []byte("whatever"))
	cl.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	cl.mustFeed()
	evs := cl.read()
	if len(evs) != 1 || evs[0].typ != http2.FramePing || !evs[0].end || evs[0].data != "\x01\x02\x03\x04\x05\x06\x07\x08" {
		t.Errorf("answer %+v", evs)
	}
}

// TestHeaderListTooLarge: a request head over MaxHeaderListSize gets 431
// (and a RST_STREAM NO_ERROR, its body not being wanted); the connection
// goes on, its HPACK state intact.
func TestHeaderListTooLarge(t *testing.T) {
	var kinds []string
	cl := newClient(t, Config{MaxHeaderListSize: 4096, StreamError: func(kind string) { kinds = append(kinds, kind) }})
	cl.h.onRequest = func(s *Stream) { answer(t, s, "") }
	cl.headers(1, false, get("/", "x-a", strings.Repeat("a", 3000), "x-b", strings.Repeat("b", 3000))...)
	cl.mustFeed()
	evs := cl.read()
	if len(evs) != 2 || evs[0].field(":status") != "431" || evs[1].typ != http2.FrameRSTStream || evs[1].code != http2.ErrCodeNo {
		t.Fatalf("answer %+v", evs)
	}
	cl.headers(3, true, get("/", "x-a", strings.Repeat("a", 3000))...)
	cl.mustFeed()
	if cl.h.has("request 1") || !cl.h.has("request 3") {
		t.Errorf("log %v", cl.h.log)
	}
	if len(kinds) != 1 || kinds[0] != "header_list_too_large" {
		t.Errorf("StreamError told %v, want [header_list_too_large]", kinds)
	}
}

// TestOutputBackpressure: while Output holds more than MaxOutput, Feed
// stops taking frames (a client that sends PINGs and never reads cannot
// grow Output); once written, the rest is taken.
func TestOutputBackpressure(t *testing.T) {
	cl := newClient(t, Config{MaxOutput: 1000, MaxControlPerWindow: 1 << 20})
	for i := 0; i < 1000; i++ {
		cl.fr.WritePing(false, [8]byte{})
	}
	p := cl.buf.Bytes()
	n, err := cl.c.Feed(p)
	if err != nil || n >= len(p) {
		t.Fatalf("Feed = %d, %v; want it to stop before %d", n, err, len(p))
	}
	if out := len(cl.c.Output()); out > 1000+17 {
		t.Fatalf("Output grew to %d bytes", out)
	}
	for len(p) > 0 {
		cl.drain()
		n, err = cl.c.Feed(p)
		if err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	cl.buf.Reset()
	if acks := len(ofType(cl.read(), http2.FramePing)); acks == 0 {
		t.Error("no PING answered")
	}
}

// TestHandlerSeesConnectionEnd: Close resets every open stream toward
// the handler with CANCEL.
func TestHandlerSeesConnectionEnd(t *testing.T) {
	cl := newClient(t, Config{})
	cl.headers(1, true, get("/")...)
	cl.headers(3, false, ":method", "POST", ":scheme", "http", ":path", "/")
	cl.mustFeed()
	cl.c.Close()
	if !cl.h.has("reset 1 CANCEL") || !cl.h.has("reset 3 CANCEL") {
		t.Errorf("log %v", cl.h.log)
	}
	if _, err := cl.c.Feed([]byte{0}); err != ErrConnClosed {
		t.Errorf("Feed after Close = %v", err)
	}
}

// TestStreamWriteOrder: the Stream methods refuse what HTTP/2 does not
// allow: data or trailers before the head, a second final head, writes
// after the end; a 100 may precede the final head.
func TestStreamWriteOrder(t *testing.T) {
	cl := newClient(t, Config{})
	var s *Stream
	cl.h.onRequest = func(st *Stream) { s = st }
	cl.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", "expect", "100-continue")
	cl.mustFeed()
	if _, err := s.WriteData([]byte("x"), false); err != ErrNoHeaders {
		t.Errorf("WriteData before WriteHeaders = %v", err)
	}
	if err := s.WriteTrailers(nil); err != ErrNoHeaders {
		t.Errorf("WriteTrailers before WriteHeaders = %v", err)
	}
	if err := s.WriteHeaders(100, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteHeaders(200, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteHeaders(200, nil, false); err != ErrHeadersSent {
		t.Errorf("second WriteHeaders = %v", err)
	}
	if _, err := s.WriteData(nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteData([]byte("x"), false); err != ErrStreamEnded {
		t.Errorf("WriteData after the end = %v", err)
	}
	evs := cl.read()
	if len(evs) != 3 || evs[0].field(":status") != "100" || evs[0].end || evs[1].field(":status") != "200" || evs[2].typ != http2.FrameData || !evs[2].end {
		t.Fatalf("frames %+v", evs)
	}
	// Half-closed (local): the body still comes, until the handler
	// resets with NO_ERROR.
	cl.data(1, false, "more")
	cl.mustFeed()
	if cl.h.bodies[1] != "more" || cl.c.Idle() {
		t.Fatalf("body %q, Idle %v", cl.h.bodies[1], cl.c.Idle())
	}
	s.Reset(http2.ErrCodeNo)
	if evs := cl.read(); len(evs) != 1 || evs[0].typ != http2.FrameRSTStream || evs[0].code != http2.ErrCodeNo || !cl.c.Idle() {
		t.Fatalf("after Reset: %+v", evs)
	}
}

// TestSettingsApplied: an unknown setting is ignored, a repeated one
// takes its last value, and each SETTINGS is acknowledged; the client's
// MAX_FRAME_SIZE cuts the answer's DATA frames.
func TestSettingsApplied(t *testing.T) {
	cl := newClient(t, Config{})
	cl.fr.WriteSettings(http2.Setting{ID: 0x99, Val: 7},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 5},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 30000},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000})
	cl.mustFeed()
	if evs := cl.read(); len(evs) != 1 || evs[0].typ != http2.FrameSettings || !evs[0].end {
		t.Fatalf("answer to SETTINGS: %+v", evs)
	}
	cl.h.onRequest = func(s *Stream) {
		s.WriteHeaders(200, nil, false)
		if n, err := s.WriteData(make([]byte, 50000), true); n != 30000 || err != nil {
			t.Errorf("WriteData = %d, %v; want 30000 (the last INITIAL_WINDOW_SIZE)", n, err)
		}
	}
	cl.headers(1, true, get("/")...)
	cl.mustFeed()
	data := ofType(cl.read(), http2.FrameData)
	if len(data) != 2 || len(data[0].data) != 20000 || len(data[1].data) != 10000 {
		t.Errorf("%d DATA frames, want 20000 + 10000 bytes", len(data))
	}
}

// TestInHeaderBlock: the connection says it waits for something owed in
// time while the preface is incomplete and while a header block has
// begun (a HEADERS frame cut short, or one without END_HEADERS), and not
// once the block ended.
func TestInHeaderBlock(t *testing.T) {
	c := NewConn(Config{}, newRecorder())
	if !c.InHeaderBlock() {
		t.Fatal("a new connection (no preface yet) is not waiting for it")
	}
	cl := newClient(t, Config{})
	if cl.c.InHeaderBlock() {
		t.Fatal("after the preface and SETTINGS: InHeaderBlock() = true")
	}
	block := cl.block(get("/split")...)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:len(block)/2], EndStream: true})
	whole := cl.buf.Bytes()
	if _, err := cl.c.Feed(whole[:5]); err != nil { // a HEADERS frame's header, cut
		t.Fatal(err)
	}
	if !cl.c.InHeaderBlock() {
		t.Fatal("a HEADERS frame half received: InHeaderBlock() = false")
	}
	if _, err := cl.c.Feed(whole[5:]); err != nil {
		t.Fatal(err)
	}
	cl.buf.Reset()
	if !cl.c.InHeaderBlock() {
		t.Fatal("HEADERS without END_HEADERS: InHeaderBlock() = false")
	}
	cl.fr.WriteContinuation(1, true, block[len(block)/2:])
	cl.mustFeed()
	if cl.c.InHeaderBlock() {
		t.Fatal("the block ended: InHeaderBlock() = true")
	}
	if !cl.h.has("request 1 GET") {
		t.Fatalf("the request did not arrive: %v", cl.h.log)
	}
}

// TestStreamErrorKinds: a request reset for a connection-specific field
// or a TE other than trailers is told to Config.StreamError as
// connection_specific_field; another malformed head as malformed_request.
func TestStreamErrorKinds(t *testing.T) {
	var kinds []string
	cl := newClient(t, Config{StreamError: func(kind string) { kinds = append(kinds, kind) }})
	cl.headers(1, true, get("/", "connection", "keep-alive")...)
	cl.expectReset(1, http2.ErrCodeProtocol)
	cl.headers(3, true, get("/", "te", "gzip")...)
	cl.expectReset(3, http2.ErrCodeProtocol)
	cl.headers(5, true, ":method", "GET", ":path", "/")
	cl.expectReset(5, http2.ErrCodeProtocol)
	want := []string{"connection_specific_field", "connection_specific_field", "malformed_request"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
}
