package h2stream

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func newTestWriter(c net.Conn, mu *sync.Mutex) *writer {
	bufs := &sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	return &writer{nc: c, mu: mu, bufs: bufs, max: 64 << 10}
}

// TestWriterKeepsOrder: writes of every size, queued faster than the
// reader takes them, arrive whole and in order, and what is queued when
// the connection is to close is written before the close.
func TestWriterKeepsOrder(t *testing.T) {
	client, server := net.Pipe()
	var mu sync.Mutex
	w := newTestWriter(server, &mu)
	got := readAllOf(client)
	want := queueAll(w, &mu, 2000, func(i int) int { return 1 + i*37%3000 }, w.queue)
	mu.Lock()
	w.closeAfter()
	mu.Unlock()
	expectBytes(t, got, want, "")
}

// readAllOf reads c to its end on a goroutine of its own; the bytes come
// on the channel.
func readAllOf(c net.Conn) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		got <- b
	}()
	return got
}

// queueAll gives put (mu held) n pieces, piece i size(i) bytes of byte(i),
// waiting while w is full as the driver and the streams do; it returns
// the bytes in the order given.
func queueAll(w *writer, mu *sync.Mutex, n int, size func(int) int, put func([]byte)) []byte {
	var want bytes.Buffer
	room := make(chan struct{}, 1)
	for i := range n {
		p := bytes.Repeat([]byte{byte(i)}, size(i))
		want.Write(p)
		mu.Lock()
		for w.full() {
			w.wait(room)
			mu.Unlock()
			<-room
			mu.Lock()
		}
		put(p)
		mu.Unlock()
	}
	return want.Bytes()
}

// expectBytes fails unless got brings want within 10 s.
func expectBytes(t *testing.T, got <-chan []byte, want []byte, what string) {
	t.Helper()
	select {
	case b := <-got:
		if !bytes.Equal(b, want) {
			t.Fatalf("%sread %d bytes, wrote %d: not the same bytes in the same order", what, len(b), len(want))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%sthe reader did not get everything within 10 s", what)
	}
}

// TestWriterHoldsBackAndFails: with a reader that does not read, full
// says so once the bound is pending (memory stays bounded for those who
// heed it); when the connection fails, a waiter is woken and full turns
// false (nothing more will be written: queue drops).
func TestWriterHoldsBackAndFails(t *testing.T) {
	client, server := net.Pipe()
	var mu sync.Mutex
	w := newTestWriter(server, &mu)
	chunk := make([]byte, 16<<10)
	deadline := time.Now().Add(10 * time.Second)
	mu.Lock()
	for !w.full() && time.Now().Before(deadline) {
		w.queue(chunk)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
	}
	if !w.full() {
		t.Fatal("pending never reached its bound with a reader that reads nothing")
	}
	room := make(chan struct{}, 1)
	w.wait(room)
	mu.Unlock()
	client.Close()
	select {
	case <-room:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not woken when the connection failed")
	}
	mu.Lock()
	defer mu.Unlock()
	if w.err == nil || w.full() {
		t.Fatalf("after the connection failed: err %v, full %v", w.err, w.full())
	}
}

// TestWriterWriteNowLeavesTheRestInOrder: over a TCP socket, output added
// (add) and written once without waiting (writeNow), faster than the
// reader reads, arrives whole and in order: what the socket did not take
// goes first, with what was added meanwhile (during the write) after it.
func TestWriterWriteNowLeavesTheRestInOrder(t *testing.T) {
	for _, sndbuf := range []int{4 << 10, 0} { // partial writes often; whole writes mostly
		writeNowInOrder(t, sndbuf)
	}
}

func writeNowInOrder(t *testing.T, sndbuf int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if sndbuf > 0 {
		server.(*net.TCPConn).SetWriteBuffer(sndbuf)
	}
	var mu sync.Mutex
	w := newTestWriter(server, &mu)
	w.max = 1 << 20
	w.raw = rawConn(server)
	if w.raw == nil {
		t.Fatal("no raw socket under a TCP connection")
	}
	got := readAllOf(client)
	stop := make(chan struct{})
	kicked := make(chan struct{})
	go func() { // a loop's turns: writeNow while the adder adds
		defer close(kicked)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			w.writeNow()
			mu.Unlock()
			time.Sleep(50 * time.Microsecond) // the pace of the turns, not a wait for something
		}
	}()
	want := queueAll(w, &mu, 500, func(i int) int { return 1 + i*97%900 }, w.add)
	close(stop)
	<-kicked
	mu.Lock()
	w.writeNow()
	w.closeAfter()
	mu.Unlock()
	expectBytes(t, got, want, fmt.Sprintf("send buffer %d: ", sndbuf))
}
