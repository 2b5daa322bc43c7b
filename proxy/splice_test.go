package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestSpliceMovesExactBytes(t *testing.T) {
	e := NewEngine(NewMetrics(), discardLogger())
	srcW, srcR := tcpPair(t) // the test writes srcW; the engine reads srcR
	dstW, dstR := tcpPair(t) // the engine writes dstW; the test reads dstR
	const n = 24<<20 + 12345
	data := pattern(n + 100) // 100 bytes more than moved: they must stay
	go srcW.Write(data)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(dstR, n))
		got <- b
	}()
	w, srcFailed, err := e.spliceN(dstW, srcR, n, 5*time.Second)
	if err != nil || srcFailed || w != n {
		t.Fatalf("spliceN: %d %v %v", w, srcFailed, err)
	}
	if b := <-got; !bytes.Equal(b, data[:n]) {
		t.Fatalf("bytes differ (got %d)", len(b))
	}
	rest := make([]byte, 100)
	srcR.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(srcR, rest); err != nil || !bytes.Equal(rest, data[n:]) {
		t.Fatalf("bytes after the body were consumed: %v", err)
	}
}

func TestSpliceShortSourceAndDeadSink(t *testing.T) {
	e := NewEngine(NewMetrics(), discardLogger())
	srcW, srcR := tcpPair(t)
	dstW, dstR := tcpPair(t)
	go func() {
		srcW.Write(pattern(3 << 20))
		srcW.Close()
	}()
	go io.Copy(io.Discard, dstR)
	w, srcFailed, err := e.spliceN(dstW, srcR, 10<<20, 5*time.Second)
	if err == nil || !srcFailed || w != 3<<20 {
		t.Fatalf("short source: %d %v %v", w, srcFailed, err)
	}

	srcW2, srcR2 := tcpPair(t)
	dstW2, dstR2 := tcpPair(t)
	go srcW2.Write(pattern(8 << 20))
	dstR2.Close() // the sink is gone
	start := time.Now()
	_, srcFailed, err = e.spliceN(dstW2, srcR2, 8<<20, 5*time.Second)
	if err == nil || srcFailed {
		t.Fatalf("dead sink: %v %v", srcFailed, err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("dead sink noticed after %v", time.Since(start))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
