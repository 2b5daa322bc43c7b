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
	g := guardH2(server, func() { trips++ }).(*h2Guard)
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
	g := guardH2(tls.Client(c, &tls.Config{}), func() {})
	if _, ok := g.(interface{ ConnectionState() tls.ConnectionState }); !ok {
		t.Fatal("the guard hides ConnectionState")
	}
	if _, ok := guardH2(c, func() {}).(interface{ ConnectionState() tls.ConnectionState }); ok {
		t.Fatal("a cleartext connection claims TLS state")
	}
}
