package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHTTP2HeaderBlockMustArriveInTime: over h2c, a request whose header
// block is started and then stalls (HEADERS without END_HEADERS, no
// CONTINUATION) has its connection closed after read_header_timeout (1 s),
// long before idle_timeout (30 s), counted and logged. A block that
// completes within the timeout, in two frames sent 300 ms apart, is
// served, and its connection still serves a request sent after the
// timeout would have passed: the deadline was cleared with the block.
func TestHTTP2HeaderBlockMustArriveInTime(t *testing.T) {
	o := startOrigin(t, echoHandler)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", read_header_timeout: 1s, idle_timeout: 30s}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, o.addr))

	stalled := newRawH2(t, g.addr)
	block := stalled.block("/stalled")
	stalled.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:len(block)/2], EndStream: true})
	start := time.Now()
	if err := stalled.untilClosed(15 * time.Second); err != nil {
		t.Fatalf("stalled header block: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 10*time.Second {
		t.Errorf("connection with a stalled header block closed after %v, want about read_header_timeout (1 s)", d)
	}
	if v := g.metric(`tollgate_http2_errors_total{type="read_header_timeout"}`); v != 1 {
		t.Errorf(`tollgate_http2_errors_total{type="read_header_timeout"} = %v, want 1`, v)
	}
	if !strings.Contains(g.logs.String(), "did not arrive within read_header_timeout") {
		t.Errorf("no log line for the stalled header block:\n%s", g.logs.String())
	}

	slow := newRawH2(t, g.addr)
	block = slow.block("/split")
	slow.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:len(block)/2], EndStream: true})
	time.Sleep(300 * time.Millisecond)
	slow.fr.WriteContinuation(1, true, block[len(block)/2:])
	if status := slow.status(1, 10*time.Second); status != "200" {
		t.Fatalf("a header block completed within the timeout: status %q, want 200", status)
	}
	time.Sleep(1500 * time.Millisecond) // past where the block's deadline was
	slow.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: slow.block("/after"), EndStream: true, EndHeaders: true})
	if status := slow.status(3, 10*time.Second); status != "200" {
		t.Fatalf("a request after the first block's deadline: status %q, want 200 (the deadline was left armed)", status)
	}
}

// rawH2 is an h2c client connection driven frame by frame.
type rawH2 struct {
	t   *testing.T
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
	dec *hpack.Decoder
}

// newRawH2 connects to addr and sends the preface and an empty SETTINGS.
func newRawH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawH2{t: t, c: c, fr: http2.NewFramer(c, c), dec: hpack.NewDecoder(4096, nil)}
	r.enc = hpack.NewEncoder(&r.buf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	r.fr.WriteSettings()
	return r
}

// block returns the header block of a GET for path.
func (r *rawH2) block(path string) []byte {
	r.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "tollgate.test"}, {":path", path},
		{"x-padding-to-split", "0123456789abcdef0123456789abcdef"}} {
		r.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return bytes.Clone(r.buf.Bytes())
}

// status reads frames until stream's response head and returns its
// :status ("" when none came within d).
func (r *rawH2) status(stream uint32, d time.Duration) string {
	r.c.SetReadDeadline(time.Now().Add(d))
	defer r.c.SetReadDeadline(time.Time{})
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Logf("reading frames: %v", err)
			return ""
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				r.fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			fields, err := r.dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				r.t.Fatalf("decoding the response head: %v", err)
			}
			if f.StreamID != stream {
				continue
			}
			for _, hf := range fields {
				if hf.Name == ":status" {
					return hf.Value
				}
			}
			return ""
		}
	}
}

// untilClosed reads frames until the gateway closes the connection,
// failing after d.
func (r *rawH2) untilClosed(d time.Duration) error {
	r.c.SetReadDeadline(time.Now().Add(d))
	for {
		if _, err := r.fr.ReadFrame(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("the connection was still open after %v", d)
			}
			return nil // closed (EOF or reset)
		}
	}
}
