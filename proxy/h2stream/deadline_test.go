package h2stream

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestReadDeadlineEndsAStalledBody: a read deadline that passes while the
// client's body has stalled ends the read with os.ErrDeadlineExceeded,
// after the deadline and long before the client gives up.
func TestReadDeadlineEndsAStalledBody(t *testing.T) {
	type result struct {
		err     error
		elapsed time.Duration
	}
	got := make(chan result, 1)
	srv, client := startH2C(t, func(t *testing.T, c *Conn, _ *http.Request, _ *bytes.Buffer) {
		start := time.Now()
		c.SetReadDeadline(start.Add(time.Hour))
		c.SetReadDeadline(start.Add(150 * time.Millisecond)) // earlier: re-arms
		_, err := io.ReadAll(c)
		got <- result{err, time.Since(start)}
		io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
	})
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("a first piece of a body that never ends"))
	req, _ := http.NewRequest(http.MethodPost, srv+"/", pr)
	go func() {
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case r := <-got:
		if !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after the deadline: %v, want os.ErrDeadlineExceeded", r.err)
		}
		if r.elapsed < 150*time.Millisecond {
			t.Fatalf("read ended after %v, before its deadline", r.elapsed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read went on 10 s past a 150 ms deadline")
	}
}

// TestWriteDeadlineMovedForwardKeepsTheStream: a stream that keeps making
// progress, moving its write deadline forward before each write as the
// exchange's idle timeout does, is not cut when the first deadline set
// passes; the whole answer arrives.
func TestWriteDeadlineMovedForwardKeepsTheStream(t *testing.T) {
	const pieces = 8
	srv, client := startH2C(t, func(t *testing.T, c *Conn, _ *http.Request, _ *bytes.Buffer) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
		for range pieces {
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := io.WriteString(c, "x"); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			time.Sleep(40 * time.Millisecond) // 320 ms in all, past the first deadline
		}
	})
	resp, err := client.Get(srv + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || len(body) != pieces {
		t.Fatalf("answer: %d bytes, %v; want %d bytes whole", len(body), err, pieces)
	}
}

// TestWriteDeadlineEndsABlockedWrite: a write deadline that passes while
// the answer waits for a client that does not read (its flow-control
// window spent) ends the write with an error, after the deadline and long
// before the test gives up.
func TestWriteDeadlineEndsABlockedWrite(t *testing.T) {
	type result struct {
		err     error
		elapsed time.Duration
	}
	got := make(chan result, 1)
	srv, client := startH2C(t, func(t *testing.T, c *Conn, _ *http.Request, _ *bytes.Buffer) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n")
		start := time.Now()
		c.SetWriteDeadline(start.Add(time.Hour))
		c.SetWriteDeadline(start.Add(200 * time.Millisecond)) // earlier: re-arms
		chunk := make([]byte, 64<<10)
		var err error
		for sent := 0; err == nil && sent < 64<<20; sent += len(chunk) {
			_, err = c.Write(chunk)
		}
		got <- result{err, time.Since(start)}
	})
	resp, err := client.Get(srv + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // never read: the client's window fills up
	select {
	case r := <-got:
		if r.err == nil {
			t.Fatal("64 MiB written to a client that reads nothing: the write deadline never ended a write")
		}
		if r.elapsed < 200*time.Millisecond {
			t.Fatalf("write ended after %v, before its deadline: %v", r.elapsed, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write went on 10 s past a 200 ms deadline")
	}
}
