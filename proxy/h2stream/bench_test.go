package h2stream

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// answerGET is the answer the benchmark's exchange writes.
const answerGET = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

// BenchmarkGET: small GETs, 50 streams at a time on one connection, from
// a raw HTTP/2 client through the Server to an exchange that reads the
// rendered head and writes a small answer — what a request costs the
// driver, the runner and the Conn. allocs/op counts the client too: its
// HEADERS frame read and the exchange's answer string are 2 of them.
func BenchmarkGET(b *testing.B) {
	bufs := &sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	srv := NewServer(bufs)
	cfg := Config{Serve: func(c *Conn) {
		var head [512]byte
		n := 0
		for !bytes.HasSuffix(head[:n], []byte("\r\n\r\n")) {
			k, err := c.Read(head[n:])
			if err != nil {
				return
			}
			n += k
		}
		io.WriteString(c, answerGET)
	}}
	client, server := net.Pipe()
	go srv.ServeConn(server, nil, cfg)
	defer client.Close()
	bw := bufio.NewWriter(client)
	fr := http2.NewFramer(bw, bufio.NewReader(client))
	fr.SetReuseFrames()
	// Encoded twice with one encoder: the second block, sent with every
	// request, names the fields in the dynamic table, as a client's
	// repeated requests do.
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	var block []byte
	for range 2 {
		hb.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
			{Name: ":authority", Value: "bench.test"}, {Name: ":path", Value: "/bytes/128"}} {
			enc.WriteField(f)
		}
		if block == nil {
			block = bytes.Clone(hb.Bytes())
		}
	}
	first, block := block, hb.Bytes()
	io.WriteString(bw, http2.ClientPreface)
	fr.WriteSettings()
	fr.WriteWindowUpdate(0, 1<<30) // the connection's window never runs out
	bw.Flush()
	const batch = 50
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true, EndHeaders: true})
	bw.Flush()
	id := uint32(3)
	for ended := false; !ended; {
		f, err := fr.ReadFrame()
		if err != nil {
			b.Fatal(err)
		}
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			ended = true
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		for range k {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
			id += 2
		}
		bw.Flush()
		for ended := 0; ended < k; {
			f, err := fr.ReadFrame()
			if err != nil {
				b.Fatal(err)
			}
			switch f := f.(type) {
			case *http2.DataFrame:
				if f.StreamEnded() {
					ended++
				}
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
					bw.Flush()
				}
			}
		}
		done += k
	}
}
