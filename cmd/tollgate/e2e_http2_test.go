package main

// HTTP/2 clients through the real binary: Go's HTTP/2 client over h2c
// (prior knowledge) and over TLS (ALPN), and curl, on the same listeners
// HTTP/1.1 uses; each stream is one request of the one exchange.

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// h2cClient speaks HTTP/2 in cleartext by prior knowledge.
func h2cClient() *http.Client { return testkit.H2CClient(10 * time.Second) }

// h2TLSClient speaks HTTP/2 over TLS, trusting ca.
func h2TLSClient(ca *testkit.CA) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
}

// h2Exchanges runs the same requests over one HTTP/2 client: routing and
// the fields the gateway adds, sized and streamed bodies, a refusal, and
// concurrent streams on one connection.
func h2Exchanges(t *testing.T, c *http.Client, base string) {
	t.Helper()
	proto, _, _ := strings.Cut(base, ":")
	do := func(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s %s answered over %s, want HTTP/2", method, path, resp.Proto)
		}
		return resp, string(b)
	}
	resp, _ := do("GET", "/api/users?id=7", nil, "X-Request-Id", "h2-req-1", "X-Custom", "v")
	if resp.StatusCode != 200 || resp.Header.Get("X-Origin-Path") != "/api/users?id=7" ||
		resp.Header.Get("X-Echo-X-Custom") != "v" || resp.Header.Get("X-Echo-X-Forwarded-For") != "127.0.0.1" ||
		resp.Header.Get("X-Echo-X-Request-Id") != "h2-req-1" || resp.Header.Get("X-Echo-X-Forwarded-Proto") != proto ||
		resp.Header.Get("X-Echo-Content-Length") != "" {
		t.Fatalf("GET over HTTP/2: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("X-Origin-Host") == "" {
		t.Fatal("the origin saw no Host")
	}
	resp, body := do("POST", "/api/upload", strings.NewReader(strings.Repeat("x", 100_000)))
	if resp.StatusCode != 200 || resp.Header.Get("X-Origin-Body-Len") != "100000" || len(body) != 100_000 {
		t.Fatalf("sized POST over HTTP/2: %d, origin read %s, echoed %d", resp.StatusCode, resp.Header.Get("X-Origin-Body-Len"), len(body))
	}
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 50; i++ {
			fmt.Fprintf(pw, "chunk %03d\n", i)
		}
		pw.Close()
	}()
	resp, body = do("POST", "/api/stream", pr)
	if resp.StatusCode != 200 || len(body) != 500 || !strings.HasPrefix(body, "chunk 000\n") {
		t.Fatalf("streamed POST over HTTP/2: %d, %d bytes back", resp.StatusCode, len(body))
	}
	resp, body = do("GET", "/api/trailers", nil)
	if resp.StatusCode != 200 || body != "streamed" || resp.Trailer.Get("Grpc-Status") != "0" ||
		resp.Trailer.Get("X-Checksum") != "abc" || resp.Trailer.Get("Content-Length") != "" {
		t.Fatalf("trailers over HTTP/2: %d %q trailers %v", resp.StatusCode, body, resp.Trailer)
	}
	// Past the client's 4 MiB stream window: what a loop's write cannot
	// send waits for the window (on a worker) and arrives whole.
	if resp, body = do("GET", "/api/big", nil); resp.StatusCode != 200 || body != bigBody {
		t.Fatalf("6 MiB over HTTP/2: %d, %d bytes (intact: %v)", resp.StatusCode, len(body), body == bigBody)
	}
	if resp, body = do("GET", "/nowhere", nil); resp.StatusCode != 404 || !strings.Contains(body, `"no_route"`) {
		t.Fatalf("no route over HTTP/2: %d %s", resp.StatusCode, body)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("%s/api/n/%d", base, i))
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("/api/n/%d", i); resp.StatusCode != 200 || resp.Header.Get("X-Origin-Path") != want {
				errs <- fmt.Errorf("stream %d: %d %q", i, resp.StatusCode, resp.Header.Get("X-Origin-Path"))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// h2Origin echoes requests, and answers /api/trailers with a chunked body
// and trailer fields (one the gateway must drop).
func h2Origin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/big" {
		w.Header().Set("Content-Length", fmt.Sprint(len(bigBody)))
		io.WriteString(w, bigBody)
		return
	}
	if r.URL.Path != "/api/trailers" {
		echoHandler(w, r)
		return
	}
	w.Header().Set("Trailer", "Grpc-Status")
	io.WriteString(w, "stream")
	w.(http.Flusher).Flush()
	io.WriteString(w, "ed")
	w.Header().Set("Grpc-Status", "0")
	w.Header().Set(http.TrailerPrefix+"X-Checksum", "abc")
	w.Header().Set(http.TrailerPrefix+"Content-Length", "5")
}

// bigBody is h2Origin's /api/big: 6 MiB, each 16-byte line numbered.
var bigBody = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 6<<20; i++ {
		fmt.Fprintf(&b, "%015d\n", i)
	}
	return b.String()
}()

const h2Routes = `
routes:
  - {name: api, match: {path_prefix: /api}, upstream: app}
`

// TestHTTP2Cleartext: h2c by prior knowledge on the plain listener, beside
// HTTP/1.1 on the same port; requests_total and the access log say h2.
func TestHTTP2Cleartext(t *testing.T) {
	o := startOrigin(t, h2Origin)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
%s`, o.addr, h2Routes))
	h2Exchanges(t, h2cClient(), "http://"+g.addr)
	if s, _, _ := fetch(t, "GET", g.url("/api/h1"), ""); s != 200 {
		t.Fatalf("HTTP/1.1 beside HTTP/2 on the same listener: %d", s)
	}
	if v := g.metric(`tollgate_requests_total{code="200",protocol="h2",route="api"}`); v != 45 {
		t.Errorf("h2 requests counted %v, want 45", v)
	}
	if v := g.metric(`tollgate_requests_total{code="200",protocol="http1",route="api"}`); v != 1 {
		t.Errorf("http1 requests counted %v, want 1", v)
	}
	waitFor(t, func() bool { return strings.Contains(g.logs.String(), `"protocol":"HTTP/2"`) })
}

// TestHTTP2OverTLS: ALPN picks h2 for HTTP/2 clients and http/1.1 for the
// others on the same TLS listener.
func TestHTTP2OverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "h2-ca")
	srv := ca.Issue(t, testkit.LeafOptions{CommonName: "gw", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	o := startOrigin(t, h2Origin)
	g := startGateway(t, fmt.Sprintf(`
server:
  listen: "LISTEN"
  tls: {cert_file: %q, key_file: %q}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
%s`, testkit.WriteFile(t, dir, "srv.pem", srv.CertPEM), testkit.WriteFile(t, dir, "srv.key", srv.KeyPEM), o.addr, h2Routes))
	h2Exchanges(t, h2TLSClient(ca), "https://"+g.addr)
	h1 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := h1.Get("https://" + g.addr + "/api/h1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
		t.Fatalf("HTTP/1.1 client over TLS: %s %d", resp.Proto, resp.StatusCode)
	}
}

// TestHTTP2Curl: curl --http2-prior-knowledge and --http2 (over TLS) get
// their answers over HTTP/2.
func TestHTTP2Curl(t *testing.T) {
	curl := testkit.NeedTool(t, "curl", "apt-get install -y curl")
	o := startOrigin(t, echoHandler)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
%s`, o.addr, h2Routes))
	out, err := exec.Command(curl, "-sS", "-i", "--http2-prior-knowledge", "-H", "X-Custom: curl",
		"--data-binary", "hello", g.url("/api/curl")).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.HasPrefix(s, "HTTP/2 200") || !strings.Contains(s, "x-echo-x-custom: curl") || !strings.HasSuffix(s, "hello") {
		t.Fatalf("curl --http2-prior-knowledge:\n%s", s)
	}
}

// TestHTTP2ReloadAndShutdown: a reload keeps an HTTP/2 connection and its
// next stream takes the new config; on SIGTERM the connection gets a
// GOAWAY, the stream in flight finishes, and the gateway exits 0.
func TestHTTP2ReloadAndShutdown(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/slow" {
			<-release
		}
		echoHandler(w, r)
	})
	cfg := func(prefix string) string {
		return fmt.Sprintf(`
server: {listen: "LISTEN", shutdown_timeout: 10s}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
routes:
  - {name: api, match: {path_prefix: %s}, upstream: app}
`, o.addr, prefix)
	}
	g := startGateway(t, cfg("/api"))
	c := h2cClient()
	get := func(path string) (int, error) {
		resp, err := c.Get("http://" + g.addr + path)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if s, err := get("/api/a"); s != 200 {
		t.Fatalf("before the reload: %d %v", s, err)
	}
	g.writeConfig(cfg("/v2"))
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { s, _ := get("/v2/a"); return s == 200 })
	if s, _ := get("/api/a"); s != 404 {
		t.Fatalf("old route after the reload: %d, want 404", s)
	}
	if v := g.metric("tollgate_http2_connections"); v != 1 {
		t.Fatalf("HTTP/2 connections after the reload: %v, want the one kept", v)
	}
	g.writeConfig(cfg("/api"))
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { s, _ := get("/api/a"); return s == 200 })

	slow := make(chan int, 1)
	go func() { s, _ := get("/api/slow"); slow <- s }()
	waitFor(t, func() bool { return o.requests.Load() >= 1 && strings.Contains(o.last.Load().URL.Path, "slow") })
	g.signal(syscall.SIGTERM)
	// The GOAWAY reached the client while the stream is held once a new
	// request no longer goes on that connection (and the closed listener
	// refuses a new one).
	waitFor(t, func() bool { _, err := get("/api/a"); return err != nil })
	select {
	case s := <-slow:
		t.Fatalf("stream in flight at shutdown ended (%d) before the origin answered", s)
	default:
	}
	close(release)
	select {
	case s := <-slow:
		if s != 200 {
			t.Fatalf("stream in flight at shutdown: %d", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream in flight at shutdown never finished")
	}
	if code := g.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestHTTP2Disabled: with server.http2.enabled false a cleartext HTTP/2
// preface is a malformed request, and HTTP/1.1 is served as before.
func TestHTTP2Disabled(t *testing.T) {
	o := startOrigin(t, echoHandler)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", http2: {enabled: false}}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
%s`, o.addr, h2Routes))
	if _, err := h2cClient().Get(g.url("/api/x")); err == nil {
		t.Fatal("an HTTP/2 client was served with server.http2.enabled: false")
	}
	if out := rawExchange(t, g.addr, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 2*time.Second); !strings.HasPrefix(out, "HTTP/1.1 400") {
		t.Fatalf("preface answered %q, want 400", out)
	}
	if s, _, _ := fetch(t, "GET", g.url("/api/h1"), ""); s != 200 {
		t.Fatalf("HTTP/1.1: %d", s)
	}
}
