package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStreamedAnswerFlowsAndOutlivesIdleTimeout: a chunked answer that an
// origin (a net/http server) writes a piece at a time reaches the client
// piece by piece — the first while the origin still holds the rest — and
// one that keeps moving for longer than server.idle_timeout is delivered
// whole, with its last chunk.
func TestStreamedAnswerFlowsAndOutlivesIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		if r.URL.Path == "/held" {
			io.WriteString(w, "first")
			f.Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "-last")
			return
		}
		for i := range 8 { // 8 pieces 250 ms apart: 2 s, twice idle_timeout
			io.WriteString(w, strings.Repeat(string(rune('a'+i)), 100))
			f.Flush()
			time.Sleep(250 * time.Millisecond)
		}
	})
	cfg := strings.Replace(basicConfig(o.addr, ""), "  read_header_timeout: 2s", "  read_header_timeout: 2s\n  idle_timeout: 1s", 1)
	g := startGateway(t, cfg)

	resp, err := http.Get(g.url("/held"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 5)
	got := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, first); got <- err }()
	select {
	case err := <-got:
		if err != nil || string(first) != "first" {
			t.Fatalf("first piece: %q %v", first, err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first piece did not reach the client while the origin held the rest")
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "-last" {
		t.Fatalf("rest: %q %v", rest, err)
	}

	start := time.Now()
	resp2, err := http.Get(g.url("/slow"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(bufio.NewReader(resp2.Body))
	resp2.Body.Close()
	if err != nil || len(body) != 800 || body[799] != 'h' {
		t.Fatalf("slow stream: %d bytes, %v (cut at idle_timeout?)", len(body), err)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("slow stream took %v: the origin paces it over 2 s", d)
	}
}

// TestStreamsOutliveIdleTimeoutOnEveryPath: a chunked answer that sends
// 100 bytes every 100 ms for 4× server.idle_timeout (1 s) is delivered
// whole with its last chunk, for GET and POST, to a plain client (relayed
// on the event loop) and a TLS client (relayed by a worker): inactivity
// counts from the last byte that moved, not from the start.
func TestStreamsOutliveIdleTimeoutOnEveryPath(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		f := w.(http.Flusher)
		for i := range 40 {
			io.WriteString(w, strings.Repeat(string(rune('a'+i%26)), 100))
			f.Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	cert, key := writeSelfSigned(t, t.TempDir())
	plain := strings.Replace(basicConfig(o.addr, ""), "  read_header_timeout: 2s", "  read_header_timeout: 2s\n  idle_timeout: 1s", 1)
	tlsCfg := strings.Replace(plain, "  idle_timeout: 1s", fmt.Sprintf("  idle_timeout: 1s\n  tls: {cert_file: %q, key_file: %q}", cert, key), 1)
	tlsCfg = strings.Replace(tlsCfg, "response_header: 1s", "response_header: 2s", 1)
	plain = strings.Replace(plain, "response_header: 1s", "response_header: 2s", 1)
	for _, tc := range []struct {
		name, cfg, scheme string
	}{{"loop", plain, "http"}, {"worker", tlsCfg, "https"}} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, tc.cfg)
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			for _, method := range []string{"GET", "POST"} {
				var body io.Reader
				if method == "POST" {
					body = strings.NewReader("payload")
				}
				req, _ := http.NewRequest(method, tc.scheme+"://"+g.addr+"/stream", body)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(got) != 4000 {
					t.Fatalf("%s: %d of 4000 bytes after %v, err %v (cut at idle_timeout?)", method, len(got), time.Since(start), err)
				}
				if d := time.Since(start); d < 3500*time.Millisecond {
					t.Fatalf("%s: the stream took %v; the origin paces it over 4 s", method, d)
				}
			}
		})
	}
}
