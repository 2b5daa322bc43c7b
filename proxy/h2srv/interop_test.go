package h2srv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tollgate/internal/testkit"

	"golang.org/x/net/http2"
)

// sizedHandler answers each request, once its body has ended, with 200,
// x-received: the body's length, and a body of as many bytes as the
// path's last segment says, sent as the client's windows allow.
type sizedHandler struct {
	received map[*Stream]int
	left     map[*Stream]int
	chunk    []byte
}

func newSizedHandler() *sizedHandler {
	return &sizedHandler{received: map[*Stream]int{}, left: map[*Stream]int{}, chunk: bytes.Repeat([]byte("0123456789"), 1640)}
}

func (h *sizedHandler) Request(s *Stream) {
	h.received[s] = 0
	if s.EndStream() {
		h.answer(s)
	}
}

func (h *sizedHandler) Data(s *Stream, p []byte, end bool) {
	h.received[s] += len(p)
	s.Consumed(len(p))
	if end {
		h.answer(s)
	}
}

func (h *sizedHandler) Trailers(s *Stream, _ []Field) { h.answer(s) }

func (h *sizedHandler) Reset(s *Stream, _ http2.ErrCode) {
	delete(h.received, s)
	delete(h.left, s)
}

func (h *sizedHandler) Writable(s *Stream) { h.send(s) }

func (h *sizedHandler) answer(s *Stream) {
	size, _ := strconv.Atoi(s.Path()[strings.LastIndexByte(s.Path(), '/')+1:])
	s.WriteHeaders(200, []Field{{Name: "x-received", Value: strconv.Itoa(h.received[s])}}, false)
	delete(h.received, s)
	h.left[s] = size
	h.send(s)
}

func (h *sizedHandler) send(s *Stream) {
	for {
		left := h.left[s]
		p := h.chunk[:min(len(h.chunk), left)]
		k, err := s.WriteData(p, len(p) == left)
		h.left[s] = left - k
		switch {
		case err != nil || k == left:
			delete(h.left, s)
			return
		case k < len(p):
			return // Writable follows
		}
	}
}

// h2cClient is Go's HTTP/2 client over cleartext (prior knowledge).
func h2cClient() *http.Client { return testkit.H2CClient(30 * time.Second) }

// TestGoClientInterop: Go's HTTP/2 client (net/http's, x/net's inside), on one connection, sends
// bodies and reads answers far larger than the default windows (so both
// flow controls turn many times), twenty at once.
func TestGoClientInterop(t *testing.T) {
	addr := startHarness(t, Config{InitialWindowSize: 64 << 10, ConnWindowSize: 128 << 10}, func() Handler { return newSizedHandler() })
	cl := h2cClient()
	defer cl.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			up, down := 300_000+i*1000, 500_000+i*7
			resp, err := cl.Post(fmt.Sprintf("http://%s/bytes/%d", addr, down), "application/octet-stream", bytes.NewReader(make([]byte, up)))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, err := io.Copy(io.Discard, resp.Body)
			switch {
			case err != nil:
				errs <- err
			case resp.ProtoMajor != 2 || resp.StatusCode != 200:
				errs <- fmt.Errorf("%s %d", resp.Proto, resp.StatusCode)
			case resp.Header.Get("X-Received") != strconv.Itoa(up) || got != int64(down):
				errs <- fmt.Errorf("sent %d, server got %s; want %d, got %d", up, resp.Header.Get("X-Received"), down, got)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCurlInterop: curl --http2-prior-knowledge uploads 100 kB and reads
// 200 kB back.
func TestCurlInterop(t *testing.T) {
	curl := testkit.NeedTool(t, "curl", "apt-get install curl")
	addr := startHarness(t, Config{}, func() Handler { return newSizedHandler() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "--data-binary", "@-",
		"-w", "%{http_version} %{http_code} %{size_download} %header{x-received}", "http://"+addr+"/bytes/200000")
	cmd.Stdin = bytes.NewReader(make([]byte, 100_000))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "2 200 200000 100000" {
		t.Fatalf("curl: %v: %q, want %q", err, out, "2 200 200000 100000")
	}
}

// TestH2Load: h2load (nghttp2) sends 5,000 GETs over h2c on 2
// connections, 50 streams at once on each; every one succeeds.
func TestH2Load(t *testing.T) {
	h2load := testkit.NeedTool(t, "h2load", "apt-get install nghttp2-client")
	addr := startHarness(t, Config{}, func() Handler { return newAnswerHandler(oneKiB) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h2load, "-n", "5000", "-c", "2", "-m", "50", "http://"+addr+"/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "5000 succeeded, 0 failed, 0 errored") {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
}
