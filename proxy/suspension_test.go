package proxy

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
	"tollgate/plugins"
)

// bodyOrigin answers every request with the body it carried.
func bodyOrigin(t *testing.T) string {
	return originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			_, body, ok := readRequestBody(r)
			if !ok {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+string(body))
		}
	})
}

// readBody reads one response (Content-Length framed) and returns its
// status and body.
func readBody(t *testing.T, r *bufio.Reader) (string, string) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 12 {
		t.Fatalf("status line %q: %v", line, err)
	}
	status := line[9:12]
	cl := 0
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if h == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(h), "content-length: "); ok {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, cl)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return status, string(body)
}

// A POST whose small body arrives with its head is served on the loop:
// head and body leave in one write, and the request is not handed off.
func TestLoopServesSmallPOST(t *testing.T) {
	e, addr := newConfEngine(t, bodyOrigin(t), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n") // pools an upstream connection
	if status, _ := readBody(t, r); status != "200" {
		t.Fatalf("warm-up: %s", status)
	}
	inline, handed := e.servedInline.Load(), e.handedOff.Load()
	for i := range 20 {
		body := `{"n":` + strconv.Itoa(i) + `,"pad":"` + strings.Repeat("x", 1000) + `"}`
		io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: "+
			strconv.Itoa(len(body))+"\r\n\r\n"+body)
		status, got := readBody(t, r)
		if status != "200" || got != body {
			t.Fatalf("POST %d: %s %q", i, status, got)
		}
	}
	if n := e.servedInline.Load() - inline; n != 20 {
		t.Errorf("%d of 20 POSTs served on the loop", n)
	}
	if n := e.handedOff.Load() - handed; n != 0 {
		t.Errorf("%d POSTs handed off", n)
	}
}

// waitingFilter decides requests for /wait and /deny only after waiting
// for release: /deny is then refused 403; /panic panics while waiting.
// Other requests are decided at once.
type waitingFilter struct {
	release chan struct{}
	entered chan struct{} // if not nil, told when a wait begins
}

func (f waitingFilter) Decide(x *plugins.Exchange) (*plugins.Reply, bool) {
	p := string(x.Path)
	return nil, p == "/wait" || p == "/deny" || p == "/panic"
}

func (f waitingFilter) Request(x *plugins.Exchange) *plugins.Reply {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	<-f.release
	switch string(x.Path) {
	case "/deny":
		return &plugins.Reply{Status: 403, Code: "forbidden", Message: "denied after waiting"}
	case "/panic":
		panic("waiting filter")
	}
	x.Request.Set("X-Waited", "yes")
	return nil
}

func (waitingFilter) Response(*plugins.Exchange) {}

// A filter that must wait suspends its exchange without holding the loop:
// other connections are served meanwhile, and when the wait ends the loop
// goes on with the chain (or sends the filter's refusal); nothing is
// handed to a worker.
func TestWaitingFilterSuspendsTheExchange(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	release := make(chan struct{})
	useChain(t, e, waitingFilter{release: release})

	other, otherR := dialT(t, addr)
	io.WriteString(other, "GET /fine HTTP/1.1\r\nHost: a\r\n\r\n") // pools an upstream connection
	if got := statusOf(t, otherR); got != "200" {
		t.Fatalf("warm-up: %s", got)
	}
	handed := e.handedOff.Load()

	waiting := map[string]*bufio.Reader{}
	conns := map[string]net.Conn{}
	for _, path := range []string{"/wait", "/deny", "/panic"} {
		c, r := dialT(t, addr)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		waiting[path], conns[path] = r, c
	}
	for i := range 5 { // the loops serve others while three exchanges wait
		io.WriteString(other, "GET /fine HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := statusOf(t, otherR); got != "200" {
			t.Fatalf("request %d while others wait: %s", i, got)
		}
	}
	for path, r := range waiting {
		conns[path].SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := r.Peek(1); err == nil {
			t.Fatalf("%s answered before its filter decided", path)
		}
		conns[path].SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	close(release)
	for path, want := range map[string]string{"/wait": "200", "/deny": "403", "/panic": "500"} {
		if got := statusOf(t, waiting[path]); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if n := e.handedOff.Load() - handed; n != 0 {
		t.Errorf("%d requests handed off to workers", n)
	}
}

// A request that finds no idle upstream connection dials off the loop and
// is then sent and answered on it; a dial that fails is answered 502.
func TestLoopDialsOffTheLoop(t *testing.T) {
	e, addr := newConfEngine(t, bodyOrigin(t), oneRoute)
	for i, req := range []string{
		"GET /first HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
	} {
		c, r := dialT(t, addr)
		io.WriteString(c, req)
		if status, _ := readBody(t, r); status != "200" {
			t.Fatalf("request %d: %s", i, status)
		}
		c.Close()
		tgt := e.Current().routes[0].up.Targets()[0]
		testkit.Eventually(t, "the connection to be pooled", func() bool { return tgt.Idle() == 1 })
		if conn, ok := tgt.AcquireIdle(0, false); ok { // the next request must dial
			conn.Close()
		}
	}
	if n := e.handedOff.Load(); n != 0 {
		t.Errorf("%d requests handed off to workers", n)
	}
	if n := e.servedInline.Load(); n != 2 {
		t.Errorf("%d of 2 requests served on the loop", n)
	}
}

// A dial that fails is answered 502, with or without a retry.
func TestLoopDialFailureIsAnswered(t *testing.T) {
	_, addr := newConfEngine(t, "127.0.0.1:1", oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := statusOf(t, r); got != "502" {
		t.Fatalf("refused dial: %s, want 502", got)
	}
}

// An exchange suspended when shutdown begins is finished by a worker once
// its wait ends (its loop has stopped), and Shutdown waits for it.
func TestSuspendedExchangeFinishesAfterShutdown(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	useChain(t, e, waitingFilter{release, entered})
	c, r := dialT(t, addr)
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the filter's wait never began")
	}
	done := startShutdown(e)
	stillShuttingDown(t, done, "an exchange suspended")
	close(release)
	if got := statusOf(t, r); got != "200" {
		t.Fatalf("suspended request: %s", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
