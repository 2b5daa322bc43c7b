package testkit

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// H2CServer is a real HTTP/2 server with prior knowledge (h2c) on
// loopback: net/http's server with only unencrypted HTTP/2 enabled, as a
// Go (or gRPC) upstream runs. It counts its TCP connections.
type H2CServer struct {
	// Addr is its "127.0.0.1:port".
	Addr string
	// Conns counts the TCP connections it accepted.
	Conns atomic.Int64

	srv *http.Server
}

// Shutdown stops the server gracefully: a GOAWAY on every connection,
// the streams in flight finished, the listener closed.
func (s *H2CServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// StartH2C serves h over h2c until the test ends. maxStreams is the
// SETTINGS_MAX_CONCURRENT_STREAMS it announces (0: net/http's default).
func StartH2C(t testing.TB, h http.Handler, maxStreams int) *H2CServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &H2CServer{Addr: ln.Addr().String()}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols),
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: maxStreams},
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.Conns.Add(1)
			}
		}}
	srv.Protocols.SetUnencryptedHTTP2(true)
	s.srv = srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// StartH2Frames is a raw HTTP/2 server on loopback, written with
// x/net/http2's Framer, for behaviour Go's server does not show on
// demand (refusing streams, GOAWAY at a chosen stream): it reads the
// client preface, acknowledges SETTINGS and PINGs, and calls onStream for
// the HEADERS that open each stream. It returns the address; it stops
// when the test ends.
func StartH2Frames(t testing.TB, onStream func(fr *http2.Framer, streamID uint32)) string {
	t.Helper()
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	stopped := false
	serve := func(c net.Conn) {
		mu.Lock()
		open[c] = true
		if stopped { // accepted as the test ended
			c.Close()
		}
		mu.Unlock()
		serveFrames(c, onStream)
		mu.Lock()
		delete(open, c)
		mu.Unlock()
		c.Close()
	}
	closeOpen := func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		for c := range open {
			c.Close()
		}
	}
	return ServeLoopback(t, serve, closeOpen)
}

// serveFrames runs one connection of StartH2Frames.
func serveFrames(c net.Conn, onStream func(fr *http2.Framer, streamID uint32)) {
	preface := make([]byte, len(http2.ClientPreface))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	c.SetReadDeadline(time.Time{})
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}); err != nil {
		return
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.HeadersFrame:
			if onStream != nil {
				onStream(fr, f.StreamID)
			}
		}
	}
}

// H2CClient is Go's HTTP/2 client in cleartext, by prior knowledge (as
// gRPC clients speak it), with the given timeout per request.
func H2CClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: timeout, Transport: tr}
}
