package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// isolationConfig is a gateway whose upstream pool holds 16 connections
// per target (max_conns_share 0.5: 8 per client), with API keys for two
// clients: partner-key (partner-x) plays the hostile client and other-key
// (other-co) the normal one. extra is appended to the upstream.
func isolationConfig(origin, upstreamExtra, routeTimeout string) string {
	return fmt.Sprintf(`
server:
  listen: "LISTEN"
  read_header_timeout: 2s
  idle_timeout: 5s
  shutdown_timeout: 1s
admin:
  listen: "ADMIN"
auth:
  api_keys:
    keys:
      - {sha256: "%s", client_id: partner-x}
      - {sha256: "%s", client_id: other-co}
upstreams:
  app:
    targets: ["%s"]
    pool: {max_conns_per_target: 16, max_idle_per_target: 16}
    timeouts: {connect: 500ms, response_header: 5s}
%s
clients:
  default: {rate: 100000/s, burst: 100000}
routes:
  - {name: keyed, match: {path_prefix: /}, upstream: app, auth: [api_key], timeout: %s}
`, keyHash("partner-key"), keyHash("other-key"), origin, upstreamExtra, routeTimeout)
}

// normalClient requests /fast as other-co n times, one after another, and
// returns the statuses and the slowest answer.
func normalClient(t *testing.T, g *gateway, n int) (map[int]int, time.Duration) {
	t.Helper()
	c := newClient()
	statuses := map[int]int{}
	var slowest time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		r := send(t, c, g.url("/fast"), "X-API-Key: other-key")
		slowest = max(slowest, time.Since(start))
		statuses[r.status]++
		time.Sleep(20 * time.Millisecond)
	}
	return statuses, slowest
}

// slowConns opens n connections as partner-x, each sending head (with
// the key) and then nothing more; the caller trickles on them. They are
// closed at the end of the test.
func slowConns(t *testing.T, g *gateway, n int, head string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// attackHolds waits until the attacking client's requests reached the
// origin (held, its share) and the rest were refused for its share.
func attackHolds(t *testing.T, g *gateway, o *origin, held int64, refused float64) {
	t.Helper()
	waitFor(t, func() bool {
		return o.requests.Load() >= held &&
			g.metric(`tollgate_upstream_share_refusals_total{upstream="app"}`) >= refused
	})
}

// TestSlowBodiesHoldOnlyTheirShare: one client opens 40 connections, each
// sending a 100 kB POST body a byte at a time, against a pool of 16. It
// holds at most its share (8) of upstream connections; its other requests
// are refused 429 with Retry-After, and another client is served at once
// throughout. The route timeout (3 s) ends every trickled body, however
// steadily it moves.
func TestSlowBodiesHoldOnlyTheirShare(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	g := startGateway(t, isolationConfig(o.addr, "", "3s"))
	head := "POST /upload HTTP/1.1\r\nHost: x\r\nX-API-Key: partner-key\r\nContent-Length: 100000\r\n\r\n"
	conns := slowConns(t, g, 40, head)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // one byte per connection every 250 ms, for at most 10 s
		defer wg.Done()
		for i := 0; i < 40; i++ {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			for _, c := range conns {
				c.Write([]byte{'x'})
			}
		}
	}()
	// Read what each slow connection gets back, and when.
	type outcome struct {
		status string
		after  time.Duration
	}
	outcomes := make(chan outcome, len(conns))
	start := time.Now()
	for _, c := range conns {
		go func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(8 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			outcomes <- outcome{strings.TrimSpace(line), time.Since(start)}
		}(c)
	}
	attackHolds(t, g, o, 8, 40-8) // the slow requests took their share, the rest were refused
	statuses, slowest := normalClient(t, g, 20)
	if statuses[200] != 20 || slowest > time.Second {
		t.Errorf("normal client during the attack: statuses %v, slowest %v; want 20×200, each within 1 s", statuses, slowest)
	}
	refused := 0
	var longest time.Duration
	for range conns {
		oc := <-outcomes
		longest = max(longest, oc.after)
		if strings.HasPrefix(oc.status, "HTTP/1.1 429") {
			refused++
		}
	}
	close(stop)
	wg.Wait()
	if refused < 40-8 {
		t.Errorf("%d slow requests refused 429, want at least %d (40 minus the share of 8)", refused, 40-8)
	}
	if longest > 5*time.Second {
		t.Errorf("a trickled body was still open after %v; the route timeout is 3 s", longest)
	}
	if v := g.metric(`tollgate_upstream_share_refusals_total{upstream="app"}`); v < float64(40-8) {
		t.Errorf("tollgate_upstream_share_refusals_total = %v, want at least %d", v, 40-8)
	}
}

// TestSlowReadersHoldOnlyTheirShare: one client opens 40 connections that
// ask for a 16 MiB answer and never read it, against a pool of 16. Its
// share (8) of the upstream's connections stays held; the rest of its
// requests are refused 429, and another client is served at once.
func TestSlowReadersHoldOnlyTheirShare(t *testing.T) {
	big := strings.Repeat("z", 16<<20)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "ok")
	})
	g := startGateway(t, isolationConfig(o.addr, "", "3s"))
	slowConns(t, g, 40, "GET /big HTTP/1.1\r\nHost: x\r\nX-API-Key: partner-key\r\n\r\n")
	attackHolds(t, g, o, 8, 40-8)
	statuses, slowest := normalClient(t, g, 20)
	if statuses[200] != 20 || slowest > time.Second {
		t.Errorf("normal client while 40 readers stall: statuses %v, slowest %v; want 20×200, each within 1 s", statuses, slowest)
	}
	if v := g.metric(`tollgate_upstream_share_refusals_total{upstream="app"}`); v < float64(40-8) {
		t.Errorf("tollgate_upstream_share_refusals_total = %v, want at least %d", v, 40-8)
	}
}

// TestShareOverridePerClient: a client given max_conns_share 1 may hold
// more than the upstream's share (here 12 of 16 connections).
func TestShareOverridePerClient(t *testing.T) {
	hold := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-hold
		}
		io.WriteString(w, "ok")
	})
	cfg := isolationConfig(o.addr, "", "5s")
	cfg = strings.Replace(cfg, "  default: {rate: 100000/s, burst: 100000}",
		"  default: {rate: 100000/s, burst: 100000}\n  partner-x: {rate: 100000/s, burst: 100000, max_conns_share: 1}", 1)
	g := startGateway(t, cfg)
	var wg sync.WaitGroup
	codes := make(chan int, 12)
	for i := 0; i < 12; i++ { // 12 > the default share of 8
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", g.url("/hold"), nil)
			req.Header.Set("X-API-Key", "partner-key")
			resp, err := newClient().Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	waitFor(t, func() bool { return o.requests.Load() == 12 }) // all 12 held at the origin at once
	close(hold)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("partner-x with max_conns_share 1 got %d", c)
		}
	}
}

// TestUploadTimeIsNotResponseHeaderTime: a healthy origin behind a 600 kB
// upload sent over 2 s answers as soon as it has the body; with
// response_header: 1s the gateway relays that answer, for a body with a
// length (spliced) and a chunked one (streamed on the loop): the wait
// for the head starts when the request has been sent.
func TestUploadTimeIsNotResponseHeaderTime(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "got %d", n)
	})
	cfg := strings.Replace(isolationConfig(o.addr, "", "10s"), "response_header: 5s", "response_header: 1s", 1)
	g := startGateway(t, cfg)
	const pieces, size = 20, 30_000
	for _, chunked := range []bool{false, true} {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nX-API-Key: other-key\r\nContent-Length: %d\r\n\r\n", pieces*size)
		if chunked {
			head = "POST /upload HTTP/1.1\r\nHost: x\r\nX-API-Key: other-key\r\nTransfer-Encoding: chunked\r\n\r\n"
		}
		io.WriteString(c, head)
		piece := strings.Repeat("u", size)
		start := time.Now()
		for i := 0; i < pieces; i++ {
			if chunked {
				fmt.Fprintf(c, "%x\r\n%s\r\n", size, piece)
			} else {
				io.WriteString(c, piece)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if chunked {
			io.WriteString(c, "0\r\n\r\n")
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("chunked=%v: no answer after a %v upload: %v", chunked, time.Since(start), err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != fmt.Sprintf("got %d", pieces*size) {
			t.Fatalf("chunked=%v: %d %q after %v; want 200 with the whole body (response_header counts from the end of the upload)",
				chunked, resp.StatusCode, body, time.Since(start))
		}
	}
}

// TestSlowReaderFreesItsUpstreamConnection: with a pool of one connection,
// a client that asks for a 7 MiB answer (under buffers.response_body:
// 8 MiB; more than the socket buffers hold) and does not read it holds
// memory, not the connection: the
// gateway reads the answer whole, the connection goes back to the pool,
// and the next client is served at once. The slow client still gets every
// byte when it reads.
func TestSlowReaderFreesItsUpstreamConnection(t *testing.T) {
	big := strings.Repeat("b", 7<<20)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "ok")
	})
	cfg := isolationConfig(o.addr, "", "3s")
	cfg = strings.Replace(cfg, "max_conns_per_target: 16, max_idle_per_target: 16", "max_conns_per_target: 1, max_idle_per_target: 1, max_conns_share: 1", 1)
	cfg = strings.Replace(cfg, "  shutdown_timeout: 1s", "  shutdown_timeout: 1s\n  buffers: {response_body: 8388608}", 1)
	g := startGateway(t, cfg)
	slow := slowConns(t, g, 1, "GET /big HTTP/1.1\r\nHost: x\r\nX-API-Key: partner-key\r\n\r\n")[0]
	waitFor(t, func() bool { return o.requests.Load() == 1 }) // the slow reader's answer is under way
	statuses, slowest := normalClient(t, g, 5)
	if statuses[200] != 5 || slowest > time.Second {
		t.Errorf("next client while the slow reader holds its answer: statuses %v, slowest %v; want 5×200 at once", statuses, slowest)
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != int64(len(big)) {
		t.Fatalf("slow reader got %d of %d bytes: %v", n, len(big), err)
	}
}

// TestPipelinedCompleteRequestAnsweredAtOnce: a complete GET followed, in
// the same write, by the first bytes of a second request is answered at
// once, not after the second head completes or read_header_timeout (2 s)
// passes.
func TestPipelinedCompleteRequestAnsweredAtOnce(t *testing.T) {
	o := okOrigin(t)
	g := startGateway(t, basicConfig(o.addr, ""))
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHo")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to the complete request: %v", err)
	}
	resp.Body.Close()
	if d := time.Since(start); resp.StatusCode != 200 || d > time.Second {
		t.Fatalf("first request: %d after %v, want 200 at once", resp.StatusCode, d)
	}
}
