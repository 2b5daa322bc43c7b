package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tollgate/internal/testkit"
)

// readAll reads from g until it fails, returning the error.
func readAll(g net.Conn) error {
	b := make([]byte, 7) // small reads: frame headers split across them
	for {
		if _, err := g.Read(b); err != nil {
			return err
		}
	}
}

// TestH2GuardCountsResets: resets within the burst pass, split across
// reads however they come, with other frames and payloads between them;
// one more ends the connection, once, with errRapidReset; the bucket
// refills at h2ResetRate a second.
func TestH2GuardCountsResets(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	trips := 0
	g := guardH2(server, func() { trips++ }, func() { t.Error("reset a request") }).(*h2Guard)
	clock := testkit.NewClock(time.Now())
	g.now, g.last = clock.Now, clock.Now()
	done := make(chan error, 1)
	go func() { done <- readAll(g) }()
	fr := http2.NewFramer(client, nil)
	io.WriteString(client, h2Preface)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	for i := 0; i < h2ResetBurst; i++ {
		id := uint32(2*i + 1)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x82, 0x86, 0x84}, EndHeaders: true})
		fr.WriteData(id, false, bytes.Repeat([]byte{byte(frameRSTStream)}, 20)) // payload bytes that look like a type
		fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	clock.Advance(time.Second) // h2ResetRate more
	for i := 0; i < h2ResetRate; i++ {
		fr.WriteRSTStream(uint32(2*i+1), http2.ErrCodeCancel)
	}
	select {
	case err := <-done:
		t.Fatalf("the guard ended the connection within the burst: %v", err)
	default:
	}
	go fr.WriteRSTStream(uint32(2*h2ResetBurst+1), http2.ErrCodeCancel)
	if err := <-done; !errors.Is(err, errRapidReset) {
		t.Fatalf("after %d resets: %v, want errRapidReset", h2ResetBurst+1, err)
	}
	if _, err := g.Read(make([]byte, 1)); !errors.Is(err, errRapidReset) || trips != 1 {
		t.Fatalf("a read after the trip: %v, %d trips; want errRapidReset, 1 trip", err, trips)
	}
}

// TestH2GuardKeepsTLSState: over TLS the guarded connection still tells
// the server its TLS state.
func TestH2GuardKeepsTLSState(t *testing.T) {
	c, _ := net.Pipe()
	defer c.Close()
	g := guardH2(tls.Client(c, &tls.Config{}), func() {}, func() {})
	if _, ok := g.(interface{ ConnectionState() tls.ConnectionState }); !ok {
		t.Fatal("the guard hides ConnectionState")
	}
	if _, ok := guardH2(c, func() {}, func() {}).(interface{ ConnectionState() tls.ConnectionState }); ok {
		t.Fatal("a cleartext connection claims TLS state")
	}
}

// settingsWire is a connection's start with a SETTINGS frame repeating
// an identifier, between the frames around it: a PING, an empty SETTINGS
// and an ACK.
func settingsWire() *bytes.Buffer {
	var sent bytes.Buffer
	sent.WriteString(h2Preface)
	fr := http2.NewFramer(&sent, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
	fr.WritePing(false, [8]byte{1, 2, 3})
	fr.WriteSettings() // empty
	fr.WriteSettingsAck()
	return &sent
}

// TestH2GuardSettingsInOrder: a SETTINGS frame repeating an identifier,
// its header and payload split across reads, reaches the server as a
// frame x/net takes (no duplicates) in which the last value of each
// identifier holds, the earlier ones renamed to identifiers no setting
// has; the frames around it pass unchanged.
func TestH2GuardSettingsInOrder(t *testing.T) {
	sent := settingsWire()
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		b := sent.Bytes()
		for len(b) > 0 { // 5 bytes at a time: headers and payloads split
			k := min(5, len(b))
			client.Write(b[:k])
			b = b[k:]
		}
	}()
	g := guardH2(server, func() { t.Error("tripped") }, func() { t.Error("reset a request") })
	var got bytes.Buffer
	buf := make([]byte, 64)
	for got.Len() < sent.Len() {
		n, err := g.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(buf[:n])
	}
	checkSettingsInOrder(t, got.Bytes(), sent.Bytes())
}

// TestH2GuardSettingsInOrderFramer: the same through x/net's framer,
// which reads a frame's nine-byte header, then its payload, by reads of
// their own sizes.
func TestH2GuardSettingsInOrderFramer(t *testing.T) {
	sent := settingsWire()
	client, server := net.Pipe()
	defer client.Close()
	go client.Write(sent.Bytes())
	g := guardH2(server, func() { t.Error("tripped") }, func() { t.Error("reset a request") })
	var got bytes.Buffer
	got.Write(make([]byte, len(h2Preface)))
	if _, err := io.ReadFull(g, got.Bytes()); err != nil {
		t.Fatal(err)
	}
	rd := http2.NewFramer(nil, g)
	for _, want := range []string{"SETTINGS", "PING", "SETTINGS", "SETTINGS"} {
		f, err := rd.ReadFrame()
		if err != nil || f.Header().Type.String() != want {
			t.Fatalf("read %v, %v; want %s", f, err, want)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && sf.NumSettings() == 3 {
			if sf.HasDuplicates() {
				t.Fatalf("duplicates left: %v", sf)
			}
			if v, _ := sf.Value(http2.SettingInitialWindowSize); v != 1 {
				t.Errorf("INITIAL_WINDOW_SIZE %d, want the last value, 1", v)
			}
		}
	}
}

// checkSettingsInOrder checks that got, sent through the guard, begins
// with the preface and the sent SETTINGS frame with its repeated
// INITIAL_WINDOW_SIZE renamed, the rest unchanged.
func checkSettingsInOrder(t *testing.T, got, sent []byte) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("read %d bytes, sent %d", len(got), len(sent))
	}
	rd := http2.NewFramer(nil, bytes.NewReader(got[len(h2Preface):]))
	f, err := rd.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf := f.(*http2.SettingsFrame)
	if sf.HasDuplicates() {
		t.Fatalf("duplicates left: %v", sf)
	}
	if v, _ := sf.Value(http2.SettingInitialWindowSize); v != 1 {
		t.Errorf("INITIAL_WINDOW_SIZE %d, want the last value, 1", v)
	}
	if v, _ := sf.Value(http2.SettingMaxFrameSize); v != 20000 {
		t.Errorf("MAX_FRAME_SIZE %d, want 20000", v)
	}
	if s := sf.Setting(0); s.ID != 0xf000 || s.Val != 100 {
		t.Errorf("the first entry is %v, want the unknown identifier 0xf000", s)
	}
	if !bytes.Equal(got[len(h2Preface)+9+18:], sent[len(h2Preface)+9+18:]) {
		t.Error("the frames after the SETTINGS frame changed")
	}
}
