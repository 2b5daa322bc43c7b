package h2

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tollgate/internal/testkit"
)

// echo answers with what it got: method, target, authority, a field, the
// body, and the trailers a request asks for.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Target", r.RequestURI)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Te", r.Header.Get("Te"))
	w.Header().Set("X-Proto", r.Proto)
	w.Header()["X-Multi"] = []string{"a", "b"}
	if r.Header.Get("X-Length") != "" {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.Write(body)
}

func TestBridgeCarriesRequestsAndAnswers(t *testing.T) {
	addr := testkit.StartH2C(t, http.HandlerFunc(echo), 0).Addr
	p := newTestPool(t, addr)
	b := prepared(t, p)
	defer b.Close()
	r := bufio.NewReader(b)

	// A GET: the target is kept byte for byte, Host becomes :authority,
	// hop-by-hop fields stay behind; an answer that ends with its HEADERS
	// has Content-Length: 0.
	io.WriteString(b, "GET /a/b%2Fc?x=1&y=%20 HTTP/1.1\r\nHost: api.example\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n\r\n")
	x := readResponse(t, b, r, false)
	want := map[string]string{"X-Method": "GET", "X-Target": "/a/b%2Fc?x=1&y=%20", "X-Host": "api.example", "X-Proto": "HTTP/2.0"}
	for k, v := range want {
		if got := string(x.resp.Fields.Get(k)); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if n := x.resp.Fields.Count("X-Multi"); n != 2 {
		t.Errorf("X-Multi: %d values, want 2", n)
	}
	if x.resp.Chunked || x.resp.ContentLen != 0 {
		t.Errorf("GET answer: chunked %v, Content-Length %d", x.resp.Chunked, x.resp.ContentLen)
	}
	if !b.Reusable() {
		t.Fatal("the bridge is not reusable after a whole answer")
	}

	// The same bridge, prepared again, carries a POST with a
	// Content-Length body, and the answer's Content-Length comes back.
	if _, err := b.Prepare(time.Now().Add(5*time.Second), time.Second); err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, "POST /p HTTP/1.1\r\nHost: h\r\nX-Length: 1\r\nContent-Length: 11\r\n\r\nhello")
	io.WriteString(b, " world")
	x = readResponse(t, b, r, false)
	if x.resp.Status != 200 || x.resp.ContentLen != 11 || string(x.body) != "hello world" {
		t.Fatalf("POST answer: status %d, length %d, body %q", x.resp.Status, x.resp.ContentLen, x.body)
	}
	if !b.Reusable() {
		t.Fatal("the bridge is not reusable after a Content-Length answer")
	}
	if n := p.Conns(); n != 1 {
		t.Fatalf("%d HTTP/2 connections for two requests in a row, want 1", n)
	}
}

func TestBridgeHeadAndEmptyAnswers(t *testing.T) {
	addr := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "1234")
		case "/204":
			w.WriteHeader(204)
		}
	}), 0).Addr
	p := newTestPool(t, addr)
	for _, tc := range []struct {
		req, wantLen string
		isHead       bool
		status       int
	}{
		{"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n", "1234", true, 200},
		{"GET /204 HTTP/1.1\r\nHost: h\r\n\r\n", "", false, 204},
		{"GET /empty HTTP/1.1\r\nHost: h\r\n\r\n", "0", false, 200},
	} {
		b := prepared(t, p)
		io.WriteString(b, tc.req)
		x := readResponse(t, b, bufio.NewReader(b), tc.isHead)
		if x.resp.Status != tc.status || string(x.resp.Fields.Get("Content-Length")) != tc.wantLen || x.resp.Chunked {
			t.Errorf("%q: status %d, Content-Length %q, chunked %v", tc.req, x.resp.Status, x.resp.Fields.Get("Content-Length"), x.resp.Chunked)
		}
		if !b.Reusable() {
			t.Errorf("%q: bridge not reusable", tc.req)
		}
		b.Close()
	}
}

// gRPC's answers: trailers after the messages (chunked trailer lines),
// or trailers only (a head with Content-Length: 0).
func TestBridgeRendersTrailers(t *testing.T) {
	addr := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("X-Te", r.Header.Get("Te"))
		if r.URL.Path == "/pkg.Svc/Fail" {
			w.Header().Set("Grpc-Status", "7")
			w.Header().Set("Grpc-Message", "denied")
			w.WriteHeader(200)
			return
		}
		w.Write([]byte("\x00\x00\x00\x00\x02hi"))
		w.(http.Flusher).Flush()
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
		w.Header().Set(http.TrailerPrefix+"Grpc-Message", "fine")
		w.Header().Set(http.TrailerPrefix+"X-Meta-Bin", "AQID")
	}), 0).Addr
	p := newTestPool(t, addr)
	b := prepared(t, p)
	r := bufio.NewReader(b)
	io.WriteString(b, "POST /pkg.Svc/Call HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\x00\x00\x00\x00\x00")
	x := readResponse(t, b, r, false)
	if !x.resp.Chunked || string(x.body) != "\x00\x00\x00\x00\x02hi" {
		t.Fatalf("unary answer: chunked %v, body %q", x.resp.Chunked, x.body)
	}
	if got := string(x.resp.Fields.Get("X-Te")); got != "trailers" {
		t.Errorf("a gRPC request reached the server with TE %q, want trailers", got)
	}
	if want := "0\r\nGrpc-Message: fine\r\nGrpc-Status: 0\r\nX-Meta-Bin: AQID\r\n\r\n"; x.tail != want {
		t.Errorf("trailers rendered as %q, want %q", x.tail, want)
	}
	if !b.Reusable() {
		t.Fatal("not reusable after trailers")
	}
	b.Prepare(time.Now().Add(5*time.Second), time.Second)
	io.WriteString(b, "POST /pkg.Svc/Fail HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\x00\x00\x00\x00\x00")
	x = readResponse(t, b, r, false)
	if x.resp.Chunked || x.resp.ContentLen != 0 || string(x.resp.Fields.Get("Grpc-Status")) != "7" || string(x.resp.Fields.Get("Grpc-Message")) != "denied" {
		t.Fatalf("trailers-only answer: chunked %v, length %d, grpc-status %q", x.resp.Chunked, x.resp.ContentLen, x.resp.Fields.Get("Grpc-Status"))
	}
	b.Close()
}

// A chunked request streams to the server as it is written, and the
// answer streams back as the server writes it: each piece makes the
// round trip before the next is sent.
func TestBridgeStreamsBothWays(t *testing.T) {
	addr := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		buf := make([]byte, 64)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(bytes.ToUpper(buf[:n]))
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}), 0).Addr
	p := newTestPool(t, addr)
	b := prepared(t, p)
	defer b.Close()
	r := bufio.NewReader(b)
	b.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(b, "POST /duplex HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
	var x exchange
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := x.resp.ReadHead(r, 64<<10); err != nil {
		t.Fatal(err)
	}
	x.resp.Parse()
	for i, piece := range []string{"one", "two", "three"} {
		// A chunk split across writes, size line and all.
		frame := fmt.Sprintf("%x\r\n%s\r\n", len(piece), piece)
		io.WriteString(b, frame[:2])
		io.WriteString(b, frame[2:])
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		data := make([]byte, len(piece)+2)
		if _, err := io.ReadFull(r, data); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		if want := fmt.Sprintf("%x\r\n", len(piece)); line != want || string(data) != strings.ToUpper(piece)+"\r\n" {
			t.Fatalf("piece %d came back as %q %q", i, line, data)
		}
	}
	io.WriteString(b, "0\r\n\r\n")
	rest, _ := r.ReadString('\n')
	if rest != "0\r\n" {
		t.Fatalf("end of the answer: %q", rest)
	}
}

func TestBridgeRefusedStream(t *testing.T) {
	addr := testkit.StartH2Frames(t, func(fr *http2.Framer, id uint32) { fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) })
	b := prepared(t, newTestPool(t, addr))
	defer b.Close()
	io.WriteString(b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := bufio.NewReader(b).ReadByte()
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("a REFUSED_STREAM reads as %v, want ErrRefused", err)
	}
}

// TestRefusedByGoAway: a GOAWAY below the stream is a refusal, a reset
// after the server took the stream is not.
func TestRefusedByGoAway(t *testing.T) {
	for _, tc := range []struct {
		name    string
		act     func(fr *http2.Framer, id uint32)
		refused bool
	}{
		{"graceful GOAWAY below the stream", func(fr *http2.Framer, id uint32) {
			fr.WriteGoAway(id-1, http2.ErrCodeNo, nil)
		}, true},
		{"GOAWAY with an error below the first stream", func(fr *http2.Framer, id uint32) {
			fr.WriteGoAway(0, http2.ErrCodeEnhanceYourCalm, nil)
		}, true},
		{"stream reset after it was taken", func(fr *http2.Framer, id uint32) {
			fr.WriteRSTStream(id, http2.ErrCodeInternal)
		}, false},
		{"GOAWAY that includes the stream, then the connection ends", func(fr *http2.Framer, id uint32) {
			fr.WriteGoAway(id, http2.ErrCodeNo, nil)
			fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := prepared(t, newTestPool(t, testkit.StartH2Frames(t, tc.act)))
			defer b.Close()
			io.WriteString(b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			b.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := bufio.NewReader(b).ReadByte()
			if err == nil || errors.Is(err, ErrRefused) != tc.refused || isTimeout(err) {
				t.Fatalf("read error %v: refused %v, want %v", err, errors.Is(err, ErrRefused), tc.refused)
			}
		})
	}
}

func TestBridgeTargetDown(t *testing.T) {
	addr := testkit.StartH2Frames(t, nil)
	p := newTestPool(t, "127.0.0.1:1")
	p.opts.Dial = newTestPool(t, addr).opts.Dial // a real port, then none
	b := p.NewBridge()
	if _, err := b.Prepare(time.Now().Add(5*time.Second), time.Second); err != nil {
		t.Fatalf("Prepare against a live server: %v", err)
	}
	b.Close()
	down := newTestPool(t, "127.0.0.1:1")
	_, err := down.NewBridge().Prepare(time.Now().Add(5*time.Second), time.Second)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Prepare against a closed port: %v", err)
	}
}

// A server that accepts TCP but does not answer HTTP/2 fails Prepare
// (the dial's PING goes unanswered) instead of a request later.
func TestBridgeServerWithoutHTTP2(t *testing.T) {
	addr := startHTTP1(t)
	_, err := newTestPool(t, addr).NewBridge().Prepare(time.Now().Add(5*time.Second), time.Second)
	if err == nil || !strings.Contains(err.Error(), "HTTP/2") {
		t.Fatalf("Prepare against an HTTP/1.1 server: %v", err)
	}
}

// Streams share a connection up to the server's limit; the next one
// opens a connection.
func TestPoolOpensConnectionsAtTheStreamLimit(t *testing.T) {
	release := make(chan struct{})
	var served atomic.Int32
	addr := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		<-release
	}), 2).Addr
	p := newTestPool(t, addr)
	var bridges []*Bridge
	for range 5 {
		b := prepared(t, p)
		io.WriteString(b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		bridges = append(bridges, b)
	}
	if !testkit.Poll(5*time.Second, 10*time.Millisecond, func() bool { return served.Load() >= 5 }) || served.Load() != 5 {
		t.Fatalf("%d of 5 streams reached the server", served.Load())
	}
	if n := p.Conns(); n != 3 {
		t.Fatalf("%d connections for 5 streams at 2 a connection, want 3", n)
	}
	close(release)
	for _, b := range bridges {
		readResponse(t, b, bufio.NewReader(b), false)
		b.Close()
	}
}

// A read past its deadline times out like a socket's; Close cancels the
// stream, which the server sees.
func TestBridgeDeadlineAndCancel(t *testing.T) {
	cancelled := make(chan struct{})
	addr := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(cancelled)
	}), 0).Addr
	b := prepared(t, newTestPool(t, addr))
	io.WriteString(b, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	b.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	if _, err := b.Read(make([]byte, 10)); !isTimeout(err) || time.Since(start) > 3*time.Second {
		t.Fatalf("read past the deadline: %v after %v", err, time.Since(start))
	}
	b.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the stream cancelled")
	}
	if b.Reusable() {
		t.Fatal("a closed bridge is reusable")
	}
}
