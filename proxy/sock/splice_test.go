package sock

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	var pipes Pipes
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
	w, srcFailed, err := pipes.Splice(dstW, srcR, n, 5*time.Second, time.Time{})
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
	var pipes Pipes
	srcW, srcR := tcpPair(t)
	dstW, dstR := tcpPair(t)
	go func() {
		srcW.Write(pattern(3 << 20))
		srcW.Close()
	}()
	go io.Copy(io.Discard, dstR)
	w, srcFailed, err := pipes.Splice(dstW, srcR, 10<<20, 5*time.Second, time.Time{})
	if err == nil || !srcFailed || w != 3<<20 {
		t.Fatalf("short source: %d %v %v", w, srcFailed, err)
	}

	srcW2, srcR2 := tcpPair(t)
	dstW2, dstR2 := tcpPair(t)
	go srcW2.Write(pattern(8 << 20))
	dstR2.Close() // the sink is gone
	start := time.Now()
	_, srcFailed, err = pipes.Splice(dstW2, srcR2, 8<<20, 5*time.Second, time.Time{})
	if err == nil || srcFailed {
		t.Fatalf("dead sink: %v %v", srcFailed, err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("dead sink noticed after %v", time.Since(start))
	}
}

// A transfer that keeps moving is never cut by the idle timeout, however
// long it takes; a side that stops is cut after about idle, and the error
// names the side that stopped.
func TestSpliceIdleTimeoutCountsInactivityOnly(t *testing.T) {
	var pipes Pipes
	// idle is 5 gaps of the steady source: a loaded machine that stretches
	// a 100 ms sleep to 150 ms must not make the source look idle.
	const idle = 500 * time.Millisecond
	const chunk = 96 << 10
	const chunks = 24

	// Slow but steady source: 24 chunks 100 ms apart (≈ 5× idle in all).
	srcW, srcR := tcpPair(t)
	dstW, dstR := tcpPair(t)
	data := pattern(chunks*chunk + 1)
	go func() {
		for i := 0; i < chunks; i++ {
			srcW.Write(data[i*chunk : (i+1)*chunk])
			time.Sleep(100 * time.Millisecond)
		}
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(dstR, chunks*chunk))
		got <- b
	}()
	w, srcFailed, err := pipes.Splice(dstW, srcR, chunks*chunk, idle, time.Time{})
	if err != nil || srcFailed || w != chunks*chunk {
		t.Fatalf("steady source: %d %v %v", w, srcFailed, err)
	}
	if b := <-got; !bytes.Equal(b, data[:chunks*chunk]) {
		t.Fatalf("steady source: bytes differ (got %d)", len(b))
	}

	// A source that stalls after one chunk: src is at fault, after ≈ idle,
	// and the chunk it sent was delivered.
	srcW2, srcR2 := tcpPair(t)
	dstW2, dstR2 := tcpPair(t)
	srcW2.Write(data[:chunk])
	delivered := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, dstR2)
		delivered <- n
	}()
	start := time.Now()
	w, srcFailed, err = pipes.Splice(dstW2, srcR2, 4*chunk, idle, time.Time{})
	took := time.Since(start)
	if err == nil || !srcFailed || w != chunk {
		t.Fatalf("stalled source: %d %v %v", w, srcFailed, err)
	}
	if took < idle || took > idle+time.Second {
		t.Fatalf("stalled source cut after %v (idle %v)", took, idle)
	}
	dstW2.Close()
	if n := <-delivered; n != chunk {
		t.Fatalf("stalled source: %d bytes delivered, want %d", n, chunk)
	}

	// A sink that stops reading: dst is at fault, after ≈ idle once its
	// buffers are full.
	srcW3, srcR3 := tcpPair(t)
	dstW3, _ := tcpPair(t) // nobody reads the other end
	go srcW3.Write(pattern(64 << 20))
	start = time.Now()
	_, srcFailed, err = pipes.Splice(dstW3, srcR3, 64<<20, idle, time.Time{})
	if err == nil || srcFailed {
		t.Fatalf("stalled sink: %v %v", srcFailed, err)
	}
	if took := time.Since(start); took > idle+3*time.Second {
		t.Fatalf("stalled sink cut after %v (idle %v)", took, idle)
	}
}

// The body's end is exact even when the next request is already queued
// behind it on the same connection, and a pipe is reused clean.
func TestSpliceBackToBack(t *testing.T) {
	var pipes Pipes
	srcW, srcR := tcpPair(t)
	dstW, dstR := tcpPair(t)
	sizes := []int64{1<<20 + 1, 3 << 20, 70000, 5<<20 + 4095}
	var all int64
	for _, n := range sizes {
		all += n
	}
	data := pattern(int(all))
	go srcW.Write(data)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(dstR, all))
		got <- b
	}()
	for _, n := range sizes {
		w, srcFailed, err := pipes.Splice(dstW, srcR, n, 5*time.Second, time.Time{})
		if err != nil || srcFailed || w != n {
			t.Fatalf("spliceN(%d): %d %v %v", n, w, srcFailed, err)
		}
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("bytes differ (got %d of %d)", len(b), all)
	}
}

// rcvLowat returns c's SO_RCVLOWAT.
func rcvLowat(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// A source slower than batching pays for is relayed as it comes: batching
// (SO_RCVLOWAT) never holds its bytes back for more than about batchWait,
// and SO_RCVLOWAT is back to 1 (or its default, 0 on an accepted socket)
// afterwards, whether the transfer ends well or not.
func TestSpliceSlowSourceIsNotHeldBack(t *testing.T) {
	var pipes Pipes
	srcW, srcR := tcpPair(t)
	dstW, dstR := tcpPair(t)
	const chunks, size = 30, 8 << 10
	// A fast first MiB (batching on), then a trickle.
	const fast = 1 << 20
	n := int64(fast + chunks*size)
	data := pattern(int(n))
	sentc := make(chan []time.Time, 1)
	go func() {
		sent := make([]time.Time, chunks)
		srcW.Write(data[:fast])
		for i := 0; i < chunks; i++ {
			time.Sleep(15 * time.Millisecond)
			sent[i] = time.Now()
			srcW.Write(data[fast+i*size : fast+(i+1)*size])
		}
		sentc <- sent
	}()
	gotc := make(chan []time.Time, 1)
	go func() {
		got := make([]time.Time, chunks)
		if _, err := io.ReadFull(dstR, make([]byte, fast)); err != nil {
			gotc <- nil
			return
		}
		buf := make([]byte, size)
		for i := 0; i < chunks; i++ {
			if _, err := io.ReadFull(dstR, buf); err != nil {
				gotc <- nil
				return
			}
			got[i] = time.Now()
		}
		gotc <- got
	}()
	w, srcFailed, err := pipes.Splice(dstW, srcR, n, 5*time.Second, time.Time{})
	if err != nil || srcFailed || w != n {
		t.Fatalf("spliceN: %d %v %v", w, srcFailed, err)
	}
	sent, got := <-sentc, <-gotc
	if got == nil {
		t.Fatal("dst did not get the bytes")
	}
	// Scheduling delays on a loaded machine can hold back a chunk or two;
	// batching would hold back all of them (until the rest of the body or
	// the idle timeout).
	var late []time.Duration
	for i := range got {
		if lag := got[i].Sub(sent[i]); lag > 50*time.Millisecond {
			late = append(late, lag)
		}
	}
	if len(late) > chunks/5 {
		t.Fatalf("%d of %d chunks of the slow source reached dst late: %v", len(late), chunks, late)
	}
	if v := rcvLowat(t, srcR); v > 1 { // 0 and 1 mean the same
		t.Fatalf("SO_RCVLOWAT after the transfer: %d", v)
	}

	// A source that ends early, mid-batch.
	srcW2, srcR2 := tcpPair(t)
	dstW2, dstR2 := tcpPair(t)
	go func() {
		srcW2.Write(pattern(3<<20 + 5))
		srcW2.Close()
	}()
	go io.Copy(io.Discard, dstR2)
	if _, srcFailed, err := pipes.Splice(dstW2, srcR2, 8<<20, 5*time.Second, time.Time{}); err == nil || !srcFailed {
		t.Fatalf("short source: %v %v", srcFailed, err)
	}
	if v := rcvLowat(t, srcR2); v > 1 {
		t.Fatalf("SO_RCVLOWAT after a failed transfer: %d", v)
	}
}

// TestSpliceDeadlineBoundsATrickle: a source that sends a byte every
// 50 ms never trips an idle timeout of 150 ms, but the transfer's
// deadline ends it, with src at fault.
func TestSpliceDeadlineBoundsATrickle(t *testing.T) {
	var pipes Pipes
	srcW, srcR := tcpPair(t)
	dstW, dstR := tcpPair(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < 100; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := srcW.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}()
	go io.Copy(io.Discard, dstR)
	start := time.Now()
	w, srcFailed, err := pipes.Splice(dstW, srcR, 1<<20, 150*time.Millisecond, start.Add(600*time.Millisecond))
	took := time.Since(start)
	if err == nil || !srcFailed {
		t.Fatalf("trickle: %d bytes, srcFailed %v, err %v; want src at fault", w, srcFailed, err)
	}
	if took < 550*time.Millisecond || took > 2*time.Second {
		t.Fatalf("trickle cut after %v, want at the 600 ms deadline", took)
	}
	if w == 0 {
		t.Fatalf("no byte of the trickle was delivered before the deadline")
	}
}
