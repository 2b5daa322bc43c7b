package h2

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tollgate/internal/testkit"
)

// unaryRequest is a gRPC unary call as the exchange writes it: the head
// and a small body in one Write.
var unaryRequest = []byte("POST /grpc.testing.TestService/UnaryCall HTTP/1.1\r\nHost: bench\r\n" +
	"Content-Type: application/grpc\r\nTe: trailers\r\nUser-Agent: grpc-go/1.70.0\r\n" +
	"Grpc-Timeout: 999m\r\nAuthorization: Bearer abc.def.ghi\r\nContent-Length: 12\r\n\r\n" +
	"\x00\x00\x00\x00\x07\x0a\x05hello")

// unaryCall sends one call through b and reads its answer to the end.
func unaryCall(tb testing.TB, b *Bridge, buf []byte) {
	if _, err := b.Prepare(time.Now().Add(5*time.Second), time.Second); err != nil {
		tb.Fatal(err)
	}
	if _, err := b.Write(unaryRequest); err != nil {
		tb.Fatal(err)
	}
	for {
		_, err := b.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	if !b.Reusable() {
		tb.Fatal("bridge not reusable after a whole answer")
	}
}

// BenchmarkBridgeUnary is a gRPC unary call through a Bridge: against a
// minimal HTTP/2 peer written with x/net's Framer (its answer frames
// encoded once), so that allocs/op are the client's own; and against
// net/http's HTTP/2 server, whose allocations count too.
func BenchmarkBridgeUnary(b *testing.B) {
	run := func(b *testing.B, addr string) {
		p := newTestPool(b, addr)
		br := p.NewBridge()
		defer br.Close()
		buf := make([]byte, 16<<10)
		unaryCall(b, br, buf)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			unaryCall(b, br, buf)
		}
	}
	b.Run("framer-peer", func(b *testing.B) { run(b, startUnaryPeer(b)) })
	b.Run("net-http-server", func(b *testing.B) {
		run(b, testkit.StartH2C(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Trailer", "Grpc-Status")
			w.Write([]byte("\x00\x00\x00\x00\x02hi"))
			w.Header().Set("Grpc-Status", "0")
		}), 0).Addr)
	})
}

// TestUnaryAllocations bounds the client's allocations per unary call.
func TestUnaryAllocations(t *testing.T) {
	p := newTestPool(t, startUnaryPeer(t))
	br := p.NewBridge()
	defer br.Close()
	buf := make([]byte, 16<<10)
	unaryCall(t, br, buf)
	if n := testing.AllocsPerRun(200, func() { unaryCall(t, br, buf) }); n > 12 {
		t.Fatalf("%.1f allocations per unary call, want at most 12", n)
	}
}

// startUnaryPeer serves HTTP/2 on loopback answering every stream, once
// its request ended, as a gRPC server answers a unary call: HEADERS,
// DATA, trailers.
func startUnaryPeer(tb testing.TB) string {
	tb.Helper()
	head := encodeBlock(":status", "200", "content-type", "application/grpc")
	trailers := encodeBlock("grpc-status", "0", "grpc-message", "")
	msg := []byte("\x00\x00\x00\x00\x02hi")
	serve := func(c net.Conn) {
		defer c.Close()
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		w := bufio.NewWriter(c)
		fr := http2.NewFramer(w, bufio.NewReader(c))
		fr.SetReuseFrames()
		fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
		w.Flush()
		answer := func(id uint32) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: head, EndHeaders: true})
			fr.WriteData(id, false, msg)
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: trailers, EndStream: true, EndHeaders: true})
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
				fr.WritePing(true, f.Data)
			case *http2.HeadersFrame:
				if f.StreamEnded() {
					answer(f.StreamID)
				}
			case *http2.DataFrame:
				if n := f.Length; n > 0 {
					fr.WriteWindowUpdate(0, n)
				}
				if f.StreamEnded() {
					answer(f.StreamID)
				}
			}
			if w.Buffered() > 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
	}
	return testkit.ServeLoopback(tb, serve, nil)
}
