package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// forbiddenTrailers are fields the trailers origin sends in its trailer
// section that the gateway must not pass on (framing, routing,
// hop-by-hop).
var forbiddenTrailers = []string{"Host", "Content-Length", "Connection", "Keep-Alive", "Upgrade", "Te", "Trailer", "Proxy-Authorization"}

// trailersOrigin is a net/http origin whose answers end with trailer
// fields, a chunked body of ?n= bytes (default 64) before them: /announced
// names its trailers in a Trailer field before the body, /unannounced
// sets them with http.TrailerPrefix after it, /forbidden adds fields a
// trailer must not carry. Every answer's trailers say how many request
// body bytes the origin read (X-Got, unannounced).
func trailersOrigin(t *testing.T) *origin {
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.Copy(io.Discard, r.Body)
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			n = 64
		}
		if r.URL.Path == "/announced" {
			w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bytes.Repeat([]byte("t"), n))
		w.(http.Flusher).Flush() // the head goes out without a length: chunked
		switch r.URL.Path {
		case "/announced":
			w.Header().Set("Grpc-Status", "0")
			w.Header().Set("Grpc-Message", "announced ok")
		default:
			w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
			w.Header().Set(http.TrailerPrefix+"Grpc-Message", "unannounced ok")
		}
		w.Header().Set(http.TrailerPrefix+"X-Got", strconv.FormatInt(got, 10))
		if r.URL.Path == "/forbidden" {
			for _, name := range forbiddenTrailers {
				w.Header().Set(http.TrailerPrefix+name, "x")
			}
		}
	})
}

// trailerAnswer is what a Go HTTP/1.1 client read: the trailer fields
// announced before the body, and those it had once the body was read.
type trailerAnswer struct {
	announced []string
	trailer   http.Header
	chunked   bool
	bodyLen   int
}

// getTrailers sends method url (with a body of up bytes when up > 0)
// with Go's HTTP/1.1 client and reads the answer to its end.
func getTrailers(t *testing.T, client *http.Client, method, url string, up int) trailerAnswer {
	t.Helper()
	var body io.Reader
	if up > 0 {
		body = bytes.NewReader(bytes.Repeat([]byte("u"), up))
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a trailerAnswer
	for k := range resp.Trailer { // before the body: the announced names
		a.announced = append(a.announced, k)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d, %d bytes, %v", method, url, resp.StatusCode, len(b), err)
	}
	if strings.Trim(string(b), "t") != "" {
		t.Fatalf("%s %s: body is not the origin's: %.40q", method, url, b)
	}
	a.trailer, a.bodyLen = resp.Trailer, len(b)
	a.chunked = len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
	return a
}

// TestTrailersReachTheClient: the trailer fields a net/http origin sends
// after a chunked body reach a Go HTTP/1.1 client (resp.Trailer once the
// body is read), announced or not, relayed on the event loop (small and
// 1 MiB bodies) and by a worker (the request carries a body large enough
// to be spliced, so a worker serves the exchange); fields a trailer must
// not carry are dropped; an HTTP/1.0 client gets the body without them.
func TestTrailersReachTheClient(t *testing.T) {
	o := trailersOrigin(t)
	g := startGateway(t, basicConfig(o.addr, ""))
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	// The origin does send the forbidden fields: a Go client talking to it
	// directly sees them.
	direct := getTrailers(t, client, "GET", "http://"+o.addr+"/forbidden", 0)
	for _, name := range forbiddenTrailers {
		if direct.trailer.Get(name) != "x" {
			t.Fatalf("the origin did not send trailer %s: %v", name, direct.trailer)
		}
	}

	const big = 256 << 10 // over server.buffers.request_body and the splice threshold
	splicedBefore := g.metric(`tollgate_spliced_bytes_total{direction="request"}`)
	for _, tc := range []struct {
		name, method, path string
		up, bodyLen        int
		message            string
		announced          bool
	}{
		{"loop, announced", "GET", "/announced", 0, 64, "announced ok", true},
		{"loop, unannounced", "GET", "/unannounced", 0, 64, "unannounced ok", false},
		{"loop, 1 MiB body", "GET", "/announced?n=1048576", 0, 1 << 20, "announced ok", true},
		{"loop, forbidden fields", "GET", "/forbidden", 0, 64, "unannounced ok", false},
		{"worker, announced", "POST", "/announced", big, 64, "announced ok", true},
		{"worker, unannounced", "POST", "/unannounced?n=200000", big, 200000, "unannounced ok", false},
		{"worker, forbidden fields", "POST", "/forbidden", big, 64, "unannounced ok", false},
	} {
		a := getTrailers(t, client, tc.method, g.url(tc.path), tc.up)
		if !a.chunked || a.bodyLen != tc.bodyLen {
			t.Errorf("%s: chunked %v, %d body bytes, want chunked, %d", tc.name, a.chunked, a.bodyLen, tc.bodyLen)
		}
		want := http.Header{"Grpc-Status": {"0"}, "Grpc-Message": {tc.message}, "X-Got": {strconv.Itoa(tc.up)}}
		if fmt.Sprint(a.trailer) != fmt.Sprint(want) {
			t.Errorf("%s: trailers %v, want %v", tc.name, a.trailer, want)
		}
		announced := strings.Join(slices.Sorted(slices.Values(a.announced)), ",")
		if wantAnn := map[bool]string{true: "Grpc-Message,Grpc-Status", false: ""}[tc.announced]; announced != wantAnn {
			t.Errorf("%s: announced %q before the body, want %q", tc.name, announced, wantAnn)
		}
	}
	if spliced := g.metric(`tollgate_spliced_bytes_total{direction="request"}`) - splicedBefore; spliced < 3*(big-64<<10) {
		t.Errorf("%.0f request bytes spliced: the POSTs were not served by a worker", spliced)
	}

	// An HTTP/1.0 client gets the body delimited by the close, no trailers.
	raw := rawExchange(t, g.addr, "GET /announced HTTP/1.0\r\nHost: a\r\n\r\n", 10*time.Second)
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200") || body != strings.Repeat("t", 64) ||
		strings.Contains(strings.ToLower(head), "transfer-encoding") || strings.Contains(strings.ToLower(head), "trailer") {
		t.Errorf("HTTP/1.0 client got %q", raw)
	}
}
