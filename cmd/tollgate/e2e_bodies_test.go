package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

const gib = 1 << 30

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestGiBBodiesStreamWithFlatMemory moves 1 GiB each way through the
// gateway: every byte arrives, the peak RSS barely moves, and the bytes
// went socket to socket (tollgate_spliced_bytes_total).
func TestGiBBodiesStreamWithFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB")
	}
	var uploaded int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			n, _ := io.Copy(io.Discard, r.Body)
			uploaded = n
			fmt.Fprint(w, n)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(gib))
		io.Copy(w, io.LimitReader(zeros{}, gib))
	})
	g := startGateway(t, basicConfig(o.addr, ""))
	pid := g.cmd.Process.Pid
	if s, _ := getStatus(t, g.url("/warm")); s != 200 {
		t.Fatal("warm-up failed")
	}
	base := peakRSS(t, pid)

	resp, err := http.Get(g.url("/big"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != gib {
		t.Fatalf("download: %d bytes, %v", n, err)
	}

	req, _ := http.NewRequest("PUT", g.url("/up"), io.LimitReader(zeros{}, gib))
	req.ContentLength = gib
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(gib) || uploaded != gib {
		t.Fatalf("upload: %d %q (origin counted %d)", resp.StatusCode, body, uploaded)
	}

	if growth := peakRSS(t, pid) - base; growth > 16<<20 {
		t.Errorf("peak RSS grew by %d MiB moving 2 GiB", growth>>20)
	}
	down := g.metric(`tollgate_spliced_bytes_total{direction="response"}`)
	up := g.metric(`tollgate_spliced_bytes_total{direction="request"}`)
	if down < 0.99*gib || up < 0.99*gib {
		t.Errorf("spliced response=%.0f request=%.0f, want >= 99%% of %d", down, up, gib)
	}
}

// TestTruncatedBodies: a client that stops mid-upload and an origin that
// stops mid-download are handled without hanging, and the gateway keeps
// serving: the origin sees a short body, the client a cut response.
func TestTruncatedBodies(t *testing.T) {
	const announced, sent = 64 << 20, 8 << 20
	var originGot atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			n, _ := io.Copy(io.Discard, r.Body)
			originGot.Store(n + 1)
			return
		}
		if r.URL.Path == "/cut" {
			w.Header().Set("Content-Length", strconv.Itoa(announced))
			io.Copy(w, io.LimitReader(zeros{}, sent))
			panic(http.ErrAbortHandler) // close mid-body
		}
		io.WriteString(w, "fine")
	})
	g := startGateway(t, basicConfig(o.addr, ""))

	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", announced)
	io.CopyN(c, zeros{}, sent)
	c.Close()
	waitFor(t, func() bool { return originGot.Load() > 0 })
	if got := originGot.Load() - 1; got >= announced {
		t.Fatalf("origin read %d bytes of a cut upload", got)
	}

	resp, err := http.Get(g.url("/cut"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= announced {
		t.Fatalf("cut download: %d bytes, err %v", n, err)
	}
	if s, body := getStatus(t, g.url("/after")); s != 200 || body != "fine" {
		t.Fatalf("after truncations: %d %q", s, body)
	}
}

// keyedGateway starts an echo origin and a gateway whose one route
// admits the API key "k" only.
func keyedGateway(t *testing.T) (*origin, *gateway) {
	t.Helper()
	o := startOrigin(t, echoHandler)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "%x", client_id: partner}]
upstreams: {app: {targets: ["%s"]}}
routes:
  - {name: keyed, match: {path_prefix: /}, upstream: app, auth: [api_key]}
`, sha256.Sum256([]byte("k")), o.addr))
	return o, g
}

// TestRefusalReachesClientStillSending: a request the gateway refuses
// before reading its body (401: no credentials) gets its answer even
// while the client is still writing a large body — the gateway lingers,
// dropping the body, instead of resetting the connection under the
// client's write — for a Content-Length body and a chunked one; the
// origin sees none of them.
func TestRefusalReachesClientStillSending(t *testing.T) {
	o, g := keyedGateway(t)
	bodies := map[string]func() io.Reader{
		"sized":   func() io.Reader { return strings.NewReader(strings.Repeat("b", 4<<20)) },
		"chunked": func() io.Reader { return io.MultiReader(io.LimitReader(zeros{}, 4<<20)) },
	}
	for name, body := range bodies {
		for i := 0; i < 10; i++ {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Post(g.url("/up"), "application/octet-stream", body())
			if err != nil {
				t.Fatalf("%s %d: %v", name, i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("%s %d: status %d, want 401", name, i, resp.StatusCode)
			}
		}
	}
	if n := o.requests.Load(); n != 0 {
		t.Fatalf("origin saw %d refused requests", n)
	}
}

// TestGatewayAnswersEndCleanlyWithBodyUnread: whenever the gateway answers
// a request whose body it did not read — an upstream it could not reach
// (the forward path's own answer) or a body over server.max_body_bytes (a
// refusal before routing) — the connection ends with the answer and a
// clean close, never a reset, and the client can write its whole body. The
// connection must not go on to read the body as the next request either
// (it did, after a forward path answer: it saw bytes that are not HTTP and
// closed under the client's write).
func TestGatewayAnswersEndCleanlyWithBodyUnread(t *testing.T) {
	down := testkit.FreeAddr(t) // nothing listens here
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", max_body_bytes: 2000000}
admin: {listen: "ADMIN"}
upstreams: {down: {targets: ["%s"], retries: {attempts: 0}}}
routes:
  - {name: down, match: {path_prefix: /}, upstream: down}
`, down))
	cases := []struct {
		size int
		want int
	}{{1 << 20, 502}, {3 << 20, 413}}
	for _, c := range cases {
		for i := 0; i < 3; i++ {
			status, err := postRaw(t, g.addr, c.size)
			if err != nil || status != c.want {
				t.Fatalf("%d-byte POST %d: status %d, %v; want %d and a clean close", c.size, i, status, err, c.want)
			}
		}
	}
	if n := strings.Count(g.logs.String(), `"status":400`); n != 0 {
		t.Fatalf("%d requests read from bodies:\n%s", n, g.logs.String())
	}
}

// postRaw sends a keep-alive POST of size bytes on its own connection,
// reads the answer and then the connection to its end. It returns the
// answer's status and the first error: of the body's write, of reading the
// answer, or of a connection that did not end with a clean close.
func postRaw(t *testing.T, addr string, size int) (int, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	wrote := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		if err == nil {
			_, err = io.Copy(c, io.LimitReader(zeros{}, int64(size)))
		}
		wrote <- err
	}()
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, fmt.Errorf("reading the answer: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return resp.StatusCode, fmt.Errorf("after the answer: %w", err)
	}
	if err := <-wrote; err != nil {
		return resp.StatusCode, fmt.Errorf("writing the body: %w", err)
	}
	return resp.StatusCode, nil
}

// TestRefusalSentBeforeTheBodyIsRead: over HTTP/2 (a stream is served by
// a worker, which reads a small unread body to drop it), a request the
// gateway refuses gets its answer while the client still holds its body
// back; the body is not waited for first.
func TestRefusalSentBeforeTheBodyIsRead(t *testing.T) {
	o, g := keyedGateway(t)
	client := testkit.H2CClient(10 * time.Second)
	defer client.CloseIdleConnections()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", g.url("/up"), pr)
	req.ContentLength = 1000 // small enough to be read and dropped
	start := time.Now()
	resp, err := client.Do(req) // the body is written only after the answer
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 401 || took > 2*time.Second {
		t.Fatalf("status %d after %v with the body held back, want 401 at once", resp.StatusCode, took)
	}
	if n := o.requests.Load(); n != 0 {
		t.Fatalf("origin saw %d refused requests", n)
	}
}
