package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// sizedOrigin answers GET /N with N bytes ('a' to 'z' repeated).
func sizedOrigin(t *testing.T) string {
	return originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, _, ok := readRequestBody(r)
			if !ok {
				return
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(strings.Fields(line)[1], "/"))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(n)+"\r\n\r\n"+sized(n))
		}
	})
}

// sized returns n bytes of the alphabet, repeated.
func sized(n int) string {
	return strings.Repeat("abcdefghijklmnopqrstuvwxyz", n/26+1)[:n]
}

// TestStreamsServedOnTheLoop: HTTP/2 streams whose request is whole are
// served by the event loops (no worker), many at once on one connection;
// an answer past the client's stream window is held and handed to a
// worker, which sends it whole as the window opens.
func TestStreamsServedOnTheLoop(t *testing.T) {
	e, addr := newConfEngine(t, sizedOrigin(t), oneRoute)
	client := testkit.H2CClient(10 * time.Second)
	defer client.CloseIdleConnections()
	get := func(n int) error {
		resp, err := client.Get(fmt.Sprintf("http://%s/%d", addr, n))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(body) != sized(n) {
			return fmt.Errorf("GET /%d: %d over %s, %d bytes (intact %v), %v", n, resp.StatusCode, resp.Proto, len(body), string(body) == sized(n), err)
		}
		return nil
	}
	if err := get(100); err != nil { // pools an upstream connection
		t.Fatal(err)
	}
	inline, handed := e.servedInline.Load(), e.handedOff.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- get(100 + i) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.servedInline.Load() - inline; n != 50 {
		t.Errorf("%d of 50 streams served on the loop", n)
	}
	if n := e.handedOff.Load() - handed; n != 0 {
		t.Errorf("%d small answers handed off", n)
	}
	handed = e.handedOff.Load()
	if err := get(9 << 20); err != nil { // past Go's 4 MiB stream window
		t.Fatal(err)
	}
	if e.handedOff.Load() == handed {
		t.Error("a 9 MiB answer left without a worker: nothing was held for the window")
	}
}
