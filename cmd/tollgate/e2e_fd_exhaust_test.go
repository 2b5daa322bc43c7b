package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// fdLimit is the descriptor limit the gateway runs under in
// TestOutOfFileDescriptors: about 50 above what it holds idle.
const fdLimit = 64

// TestOutOfFileDescriptors runs the binary under prlimit --nofile and
// fills its descriptors with idle client connections (each sent a partial
// request head). While it is full: connections wait in the listen queue,
// the accept loop backs off (it does not spin: the process uses almost no
// CPU) and says so in a log line and tollgate_fd_exhausted_total; a
// request that is accepted when one descriptor frees but cannot dial its
// upstream is answered 503 "gateway out of file descriptors", with a log
// line. Once the idle connections close, requests are served again.
func TestOutOfFileDescriptors(t *testing.T) {
	prlimit := testkit.NeedTool(t, "prlimit", "apt-get install -y util-linux")
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	g := startGatewayUnder(t, fmt.Sprintf(`
server: {listen: "LISTEN", accept_loops: 1, read_header_timeout: 60s, idle_timeout: 60s}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"], timeouts: {connect: 2s, response_header: 5s}}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, o.addr), []string{prlimit, "--nofile=" + strconv.Itoa(fdLimit)}, "-event-loops", "1")
	pid := g.cmd.Process.Pid
	if get(t, g.url("/fast")) != 200 {
		t.Fatal("not serving before the test")
	}

	fillers := fillDescriptors(t, pid, g.addr)
	defer closeAll(fillers)

	// Requests queue in the listen backlog; the accept loop fails and
	// pauses.
	probes := make([]net.Conn, 4)
	for i := range probes {
		c, send := rawClient(t, g.addr, time.Minute)
		send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		probes[i] = c
	}
	defer closeAll(probes)
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool {
		return g.logs.Count("out of file descriptors: accepting paused") > 0
	}) {
		t.Fatalf("no log line for the failing accept (descriptors in use: %d)", fdCount(t, pid))
	}
	window := 1500 * time.Millisecond
	before := cpuTime(t, pid)
	time.Sleep(window) // a measurement window, not a wait for a state
	if used := cpuTime(t, pid) - before; used > window/10 {
		t.Errorf("the process used %v of CPU in %v while accept failed: spinning", used, window)
	}
	if n := g.logs.Count("out of file descriptors: accepting paused"); n > 4 {
		t.Errorf("%d accept-failure log lines in about two seconds; want about one a second", n)
	}

	// One descriptor frees: each queued request in turn is accepted, finds
	// no descriptor for its upstream and is answered 503. Should the
	// gateway have closed a descriptor of its own meanwhile, a request may
	// be served (200), or its dial may take the last descriptor, leaving
	// none for the worker it then needs: closed unanswered, and logged.
	fillers[0].Close()
	got503 := 0
	for i, c := range probes {
		status, body := readResponse(t, c, 20*time.Second)
		c.Close()
		switch {
		case status == 503 && strings.Contains(body, `"message":"gateway out of file descriptors"`):
			got503++
		case status == 200:
		case status == 0 && testkit.Poll(5*time.Second, 20*time.Millisecond, func() bool {
			return droppedForDescriptors(g.logs.String())
		}):
		default:
			t.Errorf("probe %d: status %d body %q", i, status, body)
		}
	}
	if got503 == 0 {
		t.Fatal("no request was answered 503 out of file descriptors")
	}
	if g.logs.Count("out of file descriptors: cannot dial upstreams; answering 503") == 0 {
		t.Error("no log line for the dials that failed")
	}

	// The idle connections go: the gateway serves again.
	closeAll(fillers)
	if !testkit.Poll(15*time.Second, 50*time.Millisecond, func() bool { return get(t, g.url("/fast")) == 200 }) {
		t.Fatal("not serving after the connections closed")
	}
	if v := g.metric(`tollgate_fd_exhausted_total{op="accept"}`); v < 1 {
		t.Errorf(`tollgate_fd_exhausted_total{op="accept"} = %v`, v)
	}
	if v := g.metric(`tollgate_fd_exhausted_total{op="dial"}`); v < float64(got503) {
		t.Errorf(`tollgate_fd_exhausted_total{op="dial"} = %v; want >= %d`, v, got503)
	}
}

// fillDescriptors opens idle client connections (a partial request head
// each, so the gateway accepts and parks them) until the process pid holds
// fdLimit descriptors.
func fillDescriptors(t *testing.T, pid int, addr string) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for round := 0; round < 10; round++ {
		n := fdCount(t, pid)
		if n >= fdLimit {
			return conns
		}
		for i := n; i < fdLimit; i++ {
			c, send := rawClient(t, addr, time.Minute)
			send("GET /fast HTTP/1.1\r\n")
			conns = append(conns, c)
		}
		testkit.Poll(3*time.Second, 10*time.Millisecond, func() bool { return fdCount(t, pid) >= fdLimit })
	}
	closeAll(conns)
	t.Fatalf("the gateway holds %d descriptors; could not fill %d", fdCount(t, pid), fdLimit)
	return nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// fdCount returns how many descriptors the process pid holds.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// cpuTime returns the user and system CPU time the process pid used so
// far (utime + stime of /proc/PID/stat, in clock ticks of 10 ms).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), ") ") // the command name may hold spaces
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		t.Fatalf("unexpected /proc/%d/stat: %q", pid, raw)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14 of the whole line
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		t.Fatalf("unexpected /proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// readResponse reads one response from c within d; status 0 when c was
// closed without one.
func readResponse(t *testing.T, c net.Conn, d time.Duration) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return 0, ""
	}
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// get returns the status of a GET on a connection of its own (closed
// after), or 0 when it fails.
func get(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// droppedForDescriptors reports a log line of a client connection dropped
// for want of descriptors: its worker's net.Conn takes two (a duplicate,
// then net.FileConn's own), and either may be the one missing — "client
// socket: too many open files" or "client socket as net.Conn: ...:
// too many open files".
func droppedForDescriptors(logs string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"connection dropped","err":"client socket`) && strings.Contains(line, "too many open files") {
			return true
		}
	}
	return false
}
