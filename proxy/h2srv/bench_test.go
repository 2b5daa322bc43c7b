package h2srv

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// benchBody is each answer's body.
var benchBody = []byte(strings.Repeat("x", 128))

// benchHandler answers every request at once: 200, text/plain, 128 B.
type benchHandler struct{}

func (benchHandler) Request(s *Stream) {
	s.WriteHeaders(200, textPlain, false)
	s.WriteData(benchBody, true)
}
func (benchHandler) Data(*Stream, []byte, bool)   {}
func (benchHandler) Trailers(*Stream, []Field)    {}
func (benchHandler) Reset(*Stream, http2.ErrCode) {}
func (benchHandler) Writable(*Stream)             {}

// requestBatch is 50 GET requests as a client with a warm HPACK table
// sends them (every field indexed), and a WINDOW_UPDATE giving back the
// connection window their answers take. setIDs numbers the streams.
type requestBatch struct {
	bytes  []byte
	starts []int // offset of each HEADERS frame
}

func (rb *requestBatch) setIDs(first uint32) uint32 {
	for _, off := range rb.starts {
		binary.BigEndian.PutUint32(rb.bytes[off+5:], first)
		first += 2
	}
	return first
}

// newBenchConn returns a connection past its preface and one request
// (which filled both HPACK tables), and the batch that follows.
func newBenchConn(tb testing.TB, n int) (*Conn, *requestBatch) {
	cl := newClient(tb, Config{})
	cl.c.h = benchHandler{}
	req := get("/api/items?page=2", "user-agent", "h2load nghttp2/1.52.0", "accept", "*/*", "accept-encoding", "gzip, deflate")
	cl.headers(1, true, req...)
	cl.mustFeed()
	cl.read()
	block := cl.block(req...) // indexed fields only now
	rb := &requestBatch{}
	for i := 0; i < n; i++ {
		rb.starts = append(rb.starts, cl.buf.Len())
		cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndStream: true, EndHeaders: true, BlockFragment: block})
	}
	cl.fr.WriteWindowUpdate(0, uint32(n*len(benchBody)))
	rb.bytes = append([]byte(nil), cl.buf.Bytes()...)
	cl.buf.Reset()
	return cl.c, rb
}

// BenchmarkRequests: one Feed of 50 small GETs and their 200 answers
// with a 128 B body (each op is 50 requests); allocs/req is per request.
func BenchmarkRequests(b *testing.B) {
	const perFeed = 50
	c, rb := newBenchConn(b, perFeed)
	id := uint32(3)
	b.ReportAllocs()
	b.SetBytes(int64(len(rb.bytes)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id = rb.setIDs(id)
		if _, err := c.Feed(rb.bytes); err != nil {
			b.Fatal(err)
		}
		c.Wrote(len(c.Output()))
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*perFeed), "allocs/req")
}
