package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tollgate/internal/testkit"
)

// h2cConfig routes / to the given targets of an upstream with protocol
// h2c; extra goes into the upstream's block.
func h2cConfig(extra string, targets ...string) string {
	return fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
upstreams:
  app:
    protocol: h2c
    targets: ["%s"]
    timeouts: {connect: 1s, response_header: 5s}
%s
routes:
  - {name: all, match: {path_prefix: /}, upstream: app, timeout: 20s}
`, strings.Join(targets, `", "`), extra)
}

// TestH2CUpstream: HTTP/1.1 clients reach an h2c upstream — GET and POST
// with their fields, forwarded fields and bodies intact, the requests
// multiplexed on one HTTP/2 connection, the answers' fields and framing
// back as HTTP/1.1, the access log naming the target.
func TestH2CUpstream(t *testing.T) {
	var protos sync.Map
	o := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		echoHandler(w, r)
	}), 0)
	g := startGateway(t, h2cConfig("", o.Addr))

	req, _ := http.NewRequest("GET", g.url("/v1/items?q=a%20b"), nil)
	req.Header.Set("X-Custom", "yes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for k, v := range map[string]string{"X-Origin-Path": "/v1/items?q=a%20b", "X-Origin-Method": "GET",
		"X-Echo-X-Custom": "yes", "X-Echo-X-Forwarded-For": "127.0.0.1", "X-Echo-X-Forwarded-Proto": "http"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("GET: %s = %q, want %q", k, got, v)
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET: status %d", resp.StatusCode)
	}

	body := strings.Repeat("post body ", 1000)
	resp, err = http.Post(g.url("/v1/items"), "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != body || resp.Header.Get("X-Origin-Body-Len") != strconv.Itoa(len(body)) {
		t.Fatalf("POST: status %d, %d bytes back, origin read %s", resp.StatusCode, len(got), resp.Header.Get("X-Origin-Body-Len"))
	}

	// 40 requests, 20 at a time, share the connection (or two).
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, b := getStatus(t, g.url(fmt.Sprintf("/c/%d", i))); s != 200 || b != "" {
				failed.Add(1)
			}
		}()
		if i == 19 {
			wg.Wait()
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 40 concurrent requests failed", failed.Load())
	}
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Fatal("the origin saw no HTTP/2 request")
	}
	if _, ok := protos.Load("HTTP/1.1"); ok {
		t.Fatal("the origin saw an HTTP/1.1 request")
	}
	if n := o.Conns.Load(); n > 2 {
		t.Errorf("%d TCP connections to the h2c origin for 42 requests, want at most 2", n)
	}
	testkit.Eventually(t, "access log line naming the target", func() bool {
		return strings.Contains(g.logs.String(), `"upstream_target":"`+o.Addr+`"`)
	})
}

// TestH2CUpstreamStreams: a 64 MiB download without Content-Length
// streams back chunked with the gateway's memory flat, its first bytes
// reaching the client before the origin sends the rest; a chunked upload
// reaches the origin piece by piece.
func TestH2CUpstreamStreams(t *testing.T) {
	const size = 64 << 20
	firstSeen := make(chan struct{})
	pieceSeen := make(chan struct{}, 1)
	o := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/download":
			w.Write(bytes.Repeat([]byte("x"), 1024))
			w.(http.Flusher).Flush()
			select { // the client got the first KiB before the rest exists
			case <-firstSeen:
			case <-time.After(10 * time.Second):
				return
			}
			io.Copy(w, io.LimitReader(zeros{}, size-1024))
		case "/upload":
			buf := make([]byte, 5)
			if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
				http.Error(w, "first piece", 400)
				return
			}
			pieceSeen <- struct{}{}
			rest, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got first+%d", len(rest))
		}
	}), 0)
	g := startGateway(t, h2cConfig("", o.Addr))
	if s, _ := getStatus(t, g.url("/warm")); s != 200 {
		t.Fatal("warm-up failed")
	}
	pid := g.cmd.Process.Pid
	base := peakRSS(t, pid)

	resp, err := http.Get(g.url("/download"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("download framed %v, want chunked", resp.TransferEncoding)
	}
	first := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("first KiB: %v", err)
	}
	close(firstSeen)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n+1024 != size {
		t.Fatalf("download: %d bytes, %v", n+1024, err)
	}
	if growth := peakRSS(t, pid) - base; growth > 16<<20 {
		t.Errorf("peak RSS grew by %d MiB streaming 64 MiB from an h2c upstream", growth>>20)
	}

	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "first")
		select { // the origin has the first piece while the client holds the rest
		case <-pieceSeen:
			pw.Write(bytes.Repeat([]byte("y"), 100000))
			pw.Close()
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("the first piece never reached the origin"))
		}
	}()
	req, _ := http.NewRequest("POST", g.url("/upload"), pr)
	req.ContentLength = -1 // chunked
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "got first+100000" {
		t.Fatalf("streamed upload: %d %q", resp.StatusCode, got)
	}
}

// TestH2CUpstreamRefusalsAndHealth: a target that refuses every stream
// (REFUSED_STREAM) costs a retry on the other target, even for a POST,
// counted under cause refused_stream; a GOAWAY does the same; health
// checks go over HTTP/2 and take a failing target out of rotation; a
// target that is down is a connect failure.
func TestH2CUpstreamRefusalsAndHealth(t *testing.T) {
	var refusals atomic.Int64
	refuser := testkit.StartH2Frames(t, func(fr *http2.Framer, id uint32) {
		refusals.Add(1)
		fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
	})
	var served atomic.Int64
	good := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "ok %s", body)
	}), 0)
	g := startGateway(t, h2cConfig("    retries: {attempts: 1, on: [connect_failure]}", refuser, good.Addr))
	for i := range 6 {
		resp, err := http.Post(g.url("/order"), "text/plain", strings.NewReader(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("ok %d", i) {
			t.Fatalf("POST %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if refusals.Load() == 0 || served.Load() != 6 {
		t.Fatalf("refused %d streams, served %d of 6", refusals.Load(), served.Load())
	}
	sample := fmt.Sprintf(`tollgate_upstream_errors_total{cause="refused_stream",target="%s",upstream="app"}`, refuser)
	if got := g.metric(sample); got != float64(refusals.Load()) {
		t.Errorf("%s = %v, want %d", sample, got, refusals.Load())
	}
	if !strings.Contains(g.logs.String(), "upstream refused the HTTP/2 stream before processing it") {
		t.Error("no log line for the refused stream")
	}

	// Health checks over HTTP/2: the origin fails them, and is taken out.
	var failing atomic.Bool
	var probes atomic.Int64
	checked := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if r.ProtoMajor == 2 {
				probes.Add(1)
			}
			if failing.Load() {
				w.WriteHeader(503)
			}
			return
		}
		io.WriteString(w, "checked")
	}), 0)
	down := testkit.FreeAddr(t)
	g2 := startGateway(t, h2cConfig("    health_check: {path: /healthz, interval: 100ms, unhealthy_after: 2}\n    retries: {attempts: 0}",
		checked.Addr, down))
	waitFor(t, func() bool { return strings.Contains(g2.logs.String(), "upstream target marked healthy") })
	if s, b := getStatus(t, g2.url("/x")); s != 200 || b != "checked" {
		t.Fatalf("through the healthy target: %d %q", s, b)
	}
	failing.Store(true)
	testkit.Eventually(t, "the target marked unhealthy", func() bool {
		return strings.Contains(g2.logs.String(), "upstream target marked unhealthy") &&
			strings.Contains(g2.logs.String(), checked.Addr)
	})
	if probes.Load() < 2 {
		t.Fatalf("%d health probes over HTTP/2", probes.Load())
	}
	if s, _ := getStatus(t, g2.url("/x")); s != 503 {
		t.Fatalf("with every target out of rotation: %d, want 503", s)
	}
	if !strings.Contains(g2.logs.String(), "not in rotation yet") {
		t.Error("the target that is down was not reported failing its checks")
	}
}

// TestH2CUpstreamDown: an h2c target that is down is a connect failure
// (502, cause connect), and one that speaks HTTP/1.1 only is one too,
// with a log line saying it gave no HTTP/2 answer.
func TestH2CUpstreamDown(t *testing.T) {
	down := testkit.FreeAddr(t)
	h1 := startOrigin(t, echoHandler)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  down: {protocol: h2c, targets: [%q], retries: {attempts: 0}}
  h1: {protocol: h2c, targets: [%q], retries: {attempts: 0}, timeouts: {connect: 1s}}
routes:
  - {name: down, match: {path_prefix: /down}, upstream: down}
  - {name: h1, match: {path_prefix: /h1}, upstream: h1}
`, down, h1.addr))
	if s, _ := getStatus(t, g.url("/down")); s != 502 {
		t.Fatalf("down target: %d, want 502", s)
	}
	if got := g.metric(fmt.Sprintf(`tollgate_upstream_errors_total{cause="connect",target="%s",upstream="down"}`, down)); got != 1 {
		t.Errorf("connect failures counted: %v", got)
	}
	if s, _ := getStatus(t, g.url("/h1")); s != 502 && s != 504 {
		t.Fatalf("HTTP/1.1-only target behind protocol h2c: %d, want 502", s)
	}
	testkit.Eventually(t, "a log line naming the missing HTTP/2 answer", func() bool {
		return strings.Contains(g.logs.String(), "no HTTP/2 answer from "+h1.addr)
	})
}

// TestH2UpstreamTLS: protocol h2 speaks HTTP/2 over the upstream's tls
// block (ALPN h2), health checks included; a TLS server that offers only
// HTTP/1.1 is a connect failure with a log line saying why.
func TestH2UpstreamTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "upstream-ca")
	cert := ca.Issue(t, testkit.LeafOptions{DNSNames: []string{"api.internal"}, Server: true})
	caFile := testkit.WriteFile(t, dir, "ca.pem", ca.PEM)
	var h2Requests, h2Probes, h1Requests atomic.Int64
	serve := func(h2 bool) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate(t)}},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.ProtoMajor != 2:
					h1Requests.Add(1)
				case r.URL.Path == "/healthz":
					h2Probes.Add(1)
				default:
					h2Requests.Add(1)
				}
				fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.NegotiatedProtocol)
			})}
		if !h2 {
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
		}
		go srv.ServeTLS(ln, "", "")
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	}
	h2Addr, h1Addr := serve(true), serve(false)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  h2: {protocol: h2, targets: [%q], tls: {ca_file: %q, server_name: api.internal}, health_check: {path: /healthz, interval: 200ms}}
  h1only: {protocol: h2, targets: [%q], tls: {ca_file: %q, server_name: api.internal}, retries: {attempts: 0}}
routes:
  - {name: h2, match: {path_prefix: /h2}, upstream: h2}
  - {name: h1only, match: {path_prefix: /h1only}, upstream: h1only}
`, h2Addr, caFile, h1Addr, caFile))
	waitFor(t, func() bool { return strings.Contains(g.logs.String(), "upstream target marked healthy") })
	if s, b := getStatus(t, g.url("/h2")); s != 200 || b != "HTTP/2.0 h2" {
		t.Fatalf("over h2: %d %q", s, b)
	}
	if s, _ := getStatus(t, g.url("/h1only")); s != 502 {
		t.Fatalf("a TLS server without h2 behind protocol h2: %d, want 502", s)
	}
	waitFor(t, func() bool { // Go's TLS server refuses a handshake that offers only h2
		return strings.Contains(g.logs.String(), `HTTP/2 over TLS (ALPN h2): TLS handshake with `+h1Addr) &&
			strings.Contains(g.logs.String(), "no application protocol")
	})
	if h1Requests.Load() != 0 || h2Requests.Load() != 1 || h2Probes.Load() == 0 {
		t.Errorf("requests over HTTP/1.1: %d, over HTTP/2: %d (probes %d); want 0 and 1", h1Requests.Load(), h2Requests.Load(), h2Probes.Load())
	}
}

// TestH2CUpstreamGracefulRestart: one of two h2c targets shuts down
// gracefully (GOAWAY, then its port closes) while 4 clients send GETs
// (until 100 have followed the shutdown): streams in flight finish, a stream the GOAWAY left out and the
// dials to the closed port are retried on the other target, whose
// breaker takes the gone one out (without it, the retry budget would let
// some of the connect failures through), and not one request fails.
func TestH2CUpstreamGracefulRestart(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond) // keep streams in flight across the GOAWAY
		io.WriteString(w, "ok")
	})
	a, b := testkit.StartH2C(t, handler, 0), testkit.StartH2C(t, handler, 0)
	g := startGateway(t, h2cConfig(`    retries: {attempts: 1, on: [connect_failure]}
    breaker: {consecutive_failures: 1, open_for: 60s, failure_on: [connect_failure]}`, a.Addr, b.Addr))
	var sent, after, failed atomic.Int64
	var shut, stop atomic.Bool
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for !stop.Load() && time.Now().Before(deadline) {
				sent.Add(1)
				resp, err := c.Get(g.url("/r"))
				if err != nil {
					failed.Add(1)
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(body) != "ok" {
						failed.Add(1)
					}
				}
				if shut.Load() && after.Add(1) >= 100 {
					stop.Store(true)
				}
			}
		}()
	}
	waitFor(t, func() bool { return sent.Load() > 40 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("graceful shutdown of target A: %v", err)
	}
	shut.Store(true)
	wg.Wait()
	if after.Load() < 100 {
		t.Fatalf("only %d requests after the shutdown before the deadline", after.Load())
	}
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across target A's graceful shutdown", failed.Load(), sent.Load())
	}
	var aFailures float64
	for _, cause := range []string{"connect", "refused_stream"} {
		aFailures += max(0, g.metric(fmt.Sprintf(`tollgate_upstream_errors_total{cause="%s",target="%s",upstream="app"}`, cause, a.Addr)))
	}
	if aFailures == 0 {
		t.Fatal("no failed try on the target that shut down: the test did not exercise it")
	}
	t.Logf("%d requests, %d after the shutdown; %.0f failed tries on the gone target, all retried", sent.Load(), after.Load(), aFailures)
}
