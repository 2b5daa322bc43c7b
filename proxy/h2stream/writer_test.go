package h2stream

import (
	"bytes"
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
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	room := make(chan struct{}, 1)
	for i := range 2000 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*37%3000)
		want.Write(p)
		mu.Lock()
		for w.full() {
			w.wait(room)
			mu.Unlock()
			<-room
			mu.Lock()
		}
		w.queue(p)
		mu.Unlock()
	}
	mu.Lock()
	w.closeAfter()
	mu.Unlock()
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("read %d bytes, wrote %d: not the same bytes in the same order", len(b), want.Len())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader did not get everything within 10 s")
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
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
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
			time.Sleep(50 * time.Microsecond)
		}
	}()
	room := make(chan struct{}, 1)
	for i := range 500 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*97%900)
		want.Write(p)
		mu.Lock()
		for w.full() {
			w.wait(room)
			mu.Unlock()
			<-room
			mu.Lock()
		}
		w.add(p)
		mu.Unlock()
	}
	close(stop)
	<-kicked
	mu.Lock()
	w.writeNow()
	w.closeAfter()
	mu.Unlock()
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("send buffer %d: read %d bytes, wrote %d: not the same bytes in the same order", sndbuf, len(b), want.Len())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("send buffer %d: the reader did not get everything within 10 s", sndbuf)
	}
}
