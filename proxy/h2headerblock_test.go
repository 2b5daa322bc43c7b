//lint:file-ignore SA1019 the tests run x/net's server as the gateway does (h2server.go): http2.Server.ServeConn on one connection.

package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/internal/testkit"
)

// h2Peer is a client writing raw frames to x/net's server, configured
// as the gateway's (h2Front), through the guard, over a pipe whose
// writes it cuts into pieces of chunk bytes (0: whole), so that frames
// and fields reach the guard split across reads.
type h2Peer struct {
	t      *testing.T
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	guard  *h2Guard
	resets atomic.Int32 // requests the guard had reset

	mu     sync.Mutex
	status map[uint32]string        // :status of each stream's answer
	rst    map[uint32]http2.ErrCode // each stream's RST_STREAM
	served map[string]string        // x-id of each request the handler got → its x-v
}

// chunkWriter writes to w in pieces of at most n bytes.
type chunkWriter struct {
	w io.Writer
	n int
}

func (c chunkWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		k := len(p) - done
		if c.n > 0 {
			k = min(k, c.n)
		}
		m, err := c.w.Write(p[done : done+k])
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// startH2Peer serves a pipe's end with x/net's server behind the guard
// and returns the client at its other end, past the preface and
// SETTINGS. maxHeader is the server's max_header_bytes.
func startH2Peer(t *testing.T, chunk, maxHeader int) *h2Peer {
	t.Helper()
	client, server := net.Pipe()
	p := &h2Peer{t: t, status: map[uint32]string{}, rst: map[uint32]http2.ErrCode{}, served: map[string]string{}}
	g := guardH2(server, func() { t.Error("the guard tripped") }, func() { p.resets.Add(1) })
	p.guard = g.(*h2Guard)
	srv := newH2Front(NewMetrics(), slog.New(slog.DiscardHandler), &sync.Pool{}).server(100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(g, &http2.ServeConnOpts{
			BaseConfig: &http.Server{MaxHeaderBytes: maxHeader},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p.mu.Lock()
				p.served[r.Header.Get("X-Id")] = r.Header.Get("X-V")
				p.mu.Unlock()
				w.WriteHeader(200)
			}),
		})
	}()
	t.Cleanup(func() {
		client.Close()
		<-done
	})
	p.fr = http2.NewFramer(chunkWriter{client, chunk}, client)
	p.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	p.enc = hpack.NewEncoder(&p.encBuf)
	if _, err := io.WriteString(chunkWriter{client, chunk}, h2Preface); err != nil {
		t.Fatal(err)
	}
	p.fr.WriteSettings()
	go p.readFrames()
	return p
}

// readFrames records what the server sends until the pipe closes.
func (p *h2Peer) readFrames() {
	for {
		f, err := p.fr.ReadFrame()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			p.status[f.StreamID] = f.PseudoValue("status")
		case *http2.RSTStreamFrame:
			p.rst[f.StreamID] = f.ErrCode
		}
		p.mu.Unlock()
	}
}

// block encodes a request's header block: GET /, x-id, x-v and extra.
func (p *h2Peer) block(id, v string, extra ...string) []byte {
	p.encBuf.Reset()
	fields := append([]string{":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "x-id", id, "x-v", v}, extra...)
	for i := 0; i < len(fields); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(p.encBuf.Bytes())
}

// send writes block on stream as a HEADERS frame with padding and
// priority fields, then CONTINUATION frames of at most cont bytes (0: in
// the HEADERS frame).
func (p *h2Peer) send(stream uint32, block []byte, cont int) {
	first := block
	if cont > 0 && len(block) > cont {
		first = block[:cont]
	}
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: first, EndStream: true,
		EndHeaders: len(first) == len(block), PadLength: 7, Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}})
	for rest := block[len(first):]; len(rest) > 0; {
		k := min(cont, len(rest))
		p.fr.WriteContinuation(stream, k == len(rest), rest[:k])
		rest = rest[k:]
	}
}

// waitServed waits for the request id to reach the handler with value v
// and for its stream's 200.
func (p *h2Peer) waitServed(stream uint32, id, v string) {
	p.t.Helper()
	var got, status string
	ok := testkit.Poll(5*time.Second, time.Millisecond, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		got, status = p.served[id], p.status[stream]
		return status != ""
	})
	if !ok || status != "200" || got != v {
		p.t.Fatalf("request %s on stream %d: status %q, x-v %q; want 200 and %q", id, stream, status, got, v)
	}
}

// waitReset waits for stream's RST_STREAM(PROTOCOL_ERROR) and checks the
// handler never had the request.
func (p *h2Peer) waitReset(stream uint32, id string) {
	p.t.Helper()
	var code http2.ErrCode
	ok := testkit.Poll(5*time.Second, time.Millisecond, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		var reset bool
		code, reset = p.rst[stream]
		return reset
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ok || code != http2.ErrCodeProtocol {
		p.t.Fatalf("request %s on stream %d: reset %v (%v), status %q; want RST_STREAM(PROTOCOL_ERROR)", id, stream, ok, code, p.status[stream])
	}
	if s := p.status[stream]; s != "" && s != "400" {
		p.t.Fatalf("request %s on stream %d: answered %s before its reset", id, stream, s)
	}
	if _, ok := p.served[id]; ok {
		p.t.Fatalf("request %s on stream %d reached the handler", id, stream)
	}
}

// TestH2GuardResetsConnectionSpecificFields: through the guard, x/net's
// server resets every request naming a connection-specific field or a TE
// other than "trailers" (RST_STREAM PROTOCOL_ERROR, the handler never
// called), with the field in the HEADERS frame or a CONTINUATION frame,
// frames and fields split across reads however they come; requests
// around them, whose fields refer to the dynamic table entries all of
// them added, are served with the values their client encoded (the
// guard's decoder and the server's stay in step).
func TestH2GuardResetsConnectionSpecificFields(t *testing.T) {
	bad := [][]string{
		{"connection", "keep-alive"}, {"keep-alive", "timeout=5"}, {"proxy-connection", "keep-alive"},
		{"transfer-encoding", "chunked"}, {"upgrade", "websocket"}, {"te", "trailers, deflate"}, {"te", "gzip"},
		{"te", "trailers", "te", "trailers"},
	}
	for _, shape := range []struct {
		name         string
		chunk, split int
	}{{"whole", 0, 0}, {"5-byte reads", 5, 0}, {"continuations", 0, 9}, {"both", 3, 4}} {
		t.Run(shape.name, func(t *testing.T) {
			p := startH2Peer(t, shape.chunk, 16<<10)
			stream := uint32(1)
			for i, f := range bad {
				id := f[0] + "-" + shape.name
				p.send(stream, p.block("ok-"+id, strings.Repeat("v", i), "te", "trailers", "x-pad", "p"), shape.split)
				p.waitServed(stream, "ok-"+id, strings.Repeat("v", i))
				stream += 2
				p.send(stream, p.block(id, "bad", f...), shape.split)
				p.waitReset(stream, id)
				stream += 2
			}
			// The same fields again, now from the dynamic table.
			p.send(stream, p.block("again", "x", "connection", "keep-alive"), shape.split)
			p.waitReset(stream, "again")
			p.send(stream+2, p.block("last", "y", "te", "trailers", "x-pad", "p"), shape.split)
			p.waitServed(stream+2, "last", "y")
			if n := int(p.resets.Load()); n != len(bad)+1 {
				t.Errorf("onMalformed called %d times, want %d", n, len(bad)+1)
			}
		})
	}
}

// TestH2GuardSkipsBlocksTheServerSkips: a HEADERS frame whose padding is
// longer than the frame is a stream error x/net answers without decoding
// the block or its CONTINUATION frames; the guard does not decode them
// either, so the dynamic table entries they would add (a forbidden field
// among them) are in neither table, and a request that refers to the
// entries before them is served.
func TestH2GuardSkipsBlocksTheServerSkips(t *testing.T) {
	p := startH2Peer(t, 0, 16<<10)
	p.send(1, p.block("first", "1"), 0)
	p.waitServed(1, "first", "1")
	// Encoded by another encoder: literals the client's table never gets.
	var other bytes.Buffer
	enc := hpack.NewEncoder(&other)
	enc.WriteField(hpack.HeaderField{Name: "connection", Value: "close"})
	enc.WriteField(hpack.HeaderField{Name: "x-id", Value: "first"})
	frag := other.Bytes()
	payload := append([]byte{byte(len(frag) + 1)}, frag...) // pad length past the frame's end
	p.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersEndStream, 3, payload[:3])
	p.fr.WriteContinuation(3, true, payload[3:])
	p.send(5, p.block("first", "1"), 0) // x-id: first, x-v: 1 from the table, as the first request added them
	p.waitServed(5, "first", "1")
	if n := p.resets.Load(); n != 0 {
		t.Errorf("the guard reset %d requests", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rst[3] != http2.ErrCodeProtocol {
		t.Errorf("the over-padded HEADERS: reset %v, want PROTOCOL_ERROR from x/net", p.rst[3])
	}
}

// TestH2GuardStopsPastTheBound: a header block larger than h2BlockMax
// (the server configured to take it) ends the guard's inspection of the
// connection — its decoder is dropped, nothing more is held — and the
// server goes on alone: the large request is served, a forbidden field
// after it gets x/net's own 400 as without the guard.
func TestH2GuardStopsPastTheBound(t *testing.T) {
	p := startH2Peer(t, 0, 1<<20)
	var fields []string
	for i := range 8 {
		fields = append(fields, fmt.Sprintf("x-b%d", i), strings.Repeat("b", 16<<10))
	}
	p.send(1, p.block("big", "1", fields...), 16000)
	p.waitServed(1, "big", "1")
	if p.guard.blocks.dec != nil {
		t.Fatal("the guard still decodes past h2BlockMax")
	}
	p.send(3, p.block("bad", "2", "connection", "close"), 0)
	var status string
	testkit.Poll(5*time.Second, time.Millisecond, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		status = p.status[3]
		return status != ""
	})
	if status != "400" || p.resets.Load() != 0 {
		t.Fatalf("after inspection stopped: status %q, %d resets; want x/net's 400", status, p.resets.Load())
	}
}

// TestH2GuardTableSizeMatchesServer: the guard's decoder has the dynamic
// table size the gateway's x/net server advertises and decodes with.
func TestH2GuardTableSizeMatchesServer(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	srv := newH2Front(NewMetrics(), slog.New(slog.DiscardHandler), &sync.Pool{}).server(100)
	go srv.ServeConn(server, &http2.ServeConnOpts{BaseConfig: &http.Server{}, Handler: http.NotFoundHandler()})
	go io.WriteString(client, h2Preface)
	client.SetDeadline(time.Now().Add(5 * time.Second))
	f, err := http2.NewFramer(io.Discard, client).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	size := uint32(4096) // the initial value, when not advertised
	if v, ok := f.(*http2.SettingsFrame).Value(http2.SettingHeaderTableSize); ok {
		size = v
	}
	if size != h2DecoderTableSize {
		t.Fatalf("the server decodes with a %d-byte table, the guard with %d", size, h2DecoderTableSize)
	}
}

// TestH2GuardInjectsBeforeWhatFollows: for a reader that takes more than
// a frame at a time, the reset comes right after the malformed request's
// last frame, and the frames read with it follow unchanged.
func TestH2GuardInjectsBeforeWhatFollows(t *testing.T) {
	var sent bytes.Buffer
	sent.WriteString(h2Preface)
	fr := http2.NewFramer(&sent, nil)
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":path", "/"}, {"upgrade", "h2c"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true, PadLength: 3})
	fr.WritePing(false, [8]byte{9})
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	client, server := net.Pipe()
	defer client.Close()
	go client.Write(sent.Bytes())
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	resets := 0
	g := guardH2(server, func() { t.Error("tripped") }, func() { resets++ })
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for got.Len() < sent.Len()+frameHeaderLen+priorityLen {
		n, err := g.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes of %d: %v", got.Len(), sent.Len()+frameHeaderLen+priorityLen, err)
		}
		got.Write(buf[:n])
	}
	rd := http2.NewFramer(nil, bytes.NewReader(got.Bytes()[len(h2Preface):]))
	var kinds []string
	for {
		f, err := rd.ReadFrame()
		if err != nil {
			break
		}
		kinds = append(kinds, f.Header().Type.String())
		if pf, ok := f.(*http2.PriorityFrame); ok && (pf.StreamID != 1 || pf.StreamDep != 1 || pf.Exclusive) {
			t.Errorf("injected %v, want stream 1 depending on itself", pf)
		}
	}
	if want := "SETTINGS HEADERS PRIORITY PING RST_STREAM"; strings.Join(kinds, " ") != want || resets != 1 {
		t.Fatalf("read %v with %d resets, want %s and 1", kinds, resets, want)
	}
}

// replayConn is a connection whose reads replay b.
type replayConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// BenchmarkH2GuardHeaderBlock reads header blocks through the guard as
// x/net's framer does (a frame's nine-byte header, then its payload),
// one HEADERS frame a request: a browser-like request to an API, each
// with a path and request id of its own (literals the decoder copies),
// its other fields from the dynamic table. "inspected" is the guard as it
// runs, "uninspected" the guard with its block decoder stopped: the
// difference is what decoding the blocks costs.
func BenchmarkH2GuardHeaderBlock(b *testing.B) {
	const requests = 4096
	var wire, blk bytes.Buffer
	wire.WriteString(h2Preface)
	fr := http2.NewFramer(&wire, nil)
	enc := hpack.NewEncoder(&blk)
	for i := range requests {
		blk.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "api.example.com"},
			{":path", fmt.Sprintf("/v1/items/%d?page=%d", i, i%7)},
			{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},
			{"accept", "application/json"}, {"accept-encoding", "gzip, deflate, br"}, {"accept-language", "en-US,en;q=0.9"},
			{"authorization", "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjbGllbnQtNDIifQ.c2lnbmF0dXJl"},
			{"x-request-id", fmt.Sprintf("req-%08d", i)}, {"te", "trailers"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true})
	}
	for _, inspect := range []bool{true, false} {
		name := map[bool]string{true: "inspected", false: "uninspected"}[inspect]
		b.Run(name, func(b *testing.B) {
			hdr := make([]byte, frameHeaderLen)
			payload := make([]byte, 16<<10)
			var g *h2Guard
			left := 0
			b.ReportAllocs()
			for b.Loop() {
				if left == 0 {
					b.StopTimer()
					g = guardH2(&replayConn{r: bytes.NewReader(wire.Bytes())}, func() { b.Fatal("tripped") }, func() { b.Fatal("reset") }).(*h2Guard)
					if !inspect {
						g.blocks.stop()
					}
					io.ReadFull(g, make([]byte, len(h2Preface)))
					left = requests
					b.StartTimer()
				}
				if _, err := io.ReadFull(g, hdr); err != nil {
					b.Fatal(err)
				}
				n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
				if _, err := io.ReadFull(g, payload[:n]); err != nil {
					b.Fatal(err)
				}
				left--
			}
		})
	}
}
