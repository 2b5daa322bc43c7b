package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// upgradeKey is the API key of the named client "partner" in upgradeConfig.
const upgradeKey = "partner-upgrade-key"

// upgradeConfig: a metered anonymous route (a per-route quota of the
// default client), a route for the named client "partner" (API key), and
// everything else generously metered. Both quotas refill one token per
// 10 s, so a test sees whether an upgrade reset them.
func upgradeConfig(origin string) string {
	sum := sha256.Sum256([]byte(upgradeKey))
	return fmt.Sprintf(`
server: {listen: "LISTEN", shutdown_timeout: 25s}
admin: {listen: "ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "%s", client_id: partner}]
upstreams:
  app: {targets: ["%s"], timeouts: {connect: 1s, response_header: 10s}}
clients:
  default:
    rate: 100000/s
    burst: 100000
    routes: {quota: {rate: 6/m, burst: 40}}
  partner: {rate: 6/m, burst: 40}
limits: {headers: legacy}
routes:
  - {name: quota, match: {path_prefix: /quota}, upstream: app}
  - {name: partner, match: {path_prefix: /partner}, upstream: app, auth: [api_key]}
  - {name: all, match: {path_prefix: /}, upstream: app}
`, hex.EncodeToString(sum[:]), origin)
}

// upgradeOrigin answers /ws with a WebSocket-style echo tunnel, /upload
// with the byte count of the body (counting uploads in progress), and
// everything else with "ok".
type upgradeOrigin struct {
	uploading atomic.Int64
}

func (o *upgradeOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ws":
		echoTunnel(w, r)
	case "/upload":
		o.uploading.Add(1)
		defer o.uploading.Add(-1)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	default:
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}
}

// TestBinaryUpgradeUnderLoad upgrades the binary three times in a row
// (twice with `tollgate -upgrade`, once with SIGUSR2) while clients keep
// sending over keep-alive and fresh connections, an upload is in flight
// across each upgrade, and a WebSocket opened on the first process stays
// open through all three: no request fails, no connection is refused,
// every upload completes, the WebSocket keeps echoing until the test
// closes it (then its process exits 0), and quotas go on from where they
// were instead of starting full.
func TestBinaryUpgradeUnderLoad(t *testing.T) {
	origin := &upgradeOrigin{}
	o := startOrigin(t, origin.ServeHTTP)
	u := startUpgradable(t, upgradeConfig(o.addr))
	first := u.servingPID()

	quota := u.url("/quota/x")
	partner := u.url("/partner/x")
	remQuota, remPartner := 0, 0
	for i := 0; i < 10; i++ {
		remQuota = remaining(t, quota, "")
		remPartner = remaining(t, partner, upgradeKey)
	}
	if remQuota < 29 || remPartner < 29 { // 30 left, one token refilled at most
		t.Fatalf("quotas before the upgrades: %d and %d left of 40, want 30", remQuota, remPartner)
	}
	ws := openTunnel(t, u.addr)
	ws.echo(t, "before the upgrades")

	load := startLoad(u.url("/load"), 6, 2)
	defer load.halt()
	waitFor(t, func() bool { return load.ok.Load() >= 200 })
	for i := 0; i < 3; i++ {
		upload := slowUpload(u.url("/upload"), 1<<20, time.Second, i == 1)
		waitFor(t, func() bool { return origin.uploading.Load() == 1 })
		before := load.ok.Load()
		old, cur := u.upgrade(i == 1)
		t.Logf("upgrade %d: pid %d -> %d", i+1, old, cur)
		ws.echo(t, fmt.Sprintf("after upgrade %d", i+1))
		select {
		case res := <-upload:
			if res.err != nil || res.status != 200 || res.body != strconv.Itoa(1<<20) {
				t.Fatalf("upload across upgrade %d: %+v", i+1, res)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("upload across upgrade %d did not finish", i+1)
		}
		remQuota = quotaContinues(t, quota, "", remQuota, i)
		remPartner = quotaContinues(t, partner, upgradeKey, remPartner, i)
		waitFor(t, func() bool { return load.ok.Load() >= before+200 }) // the new process serves the load
		if old != first {
			u.waitGone(old, 15*time.Second) // drained and exited
		}
	}
	if !alive(first) {
		t.Fatal("the first process exited while a WebSocket it carries was open")
	}
	ws.echo(t, "still open after three upgrades")
	ok, failed, errs := load.halt()
	ws.c.Close()
	if code := u.wait(10 * time.Second); code != 0 {
		t.Fatalf("first process exit code %d", code)
	}
	t.Logf("load: %d requests ok, %d failed", ok, failed)
	if failed != 0 {
		t.Fatalf("%d requests failed across the upgrades, e.g. %v", failed, errs)
	}
	testkit.Eventually(t, "every old process logged its exit", func() bool { return u.logs.Count(`"msg":"tollgate stopped"`) == 3 })
	for _, line := range []string{"adopted the listening sockets of the previous process", `"msg":"limiter state handed over"`} {
		if n := u.logs.Count(line); n != 3 {
			t.Errorf("log %q %d times, want 3", line, n)
		}
	}
	if v := u.metric(`tollgate_upgrades_total{result="ok"}`); v != 1 {
		t.Errorf(`tollgate_upgrades_total{result="ok"} = %v in the serving process, want 1`, v)
	}
}

// quotaContinues spends one token after an upgrade and checks that the
// bucket went on from prev (one token spent; one or two refilled on a slow
// machine; an off-by-one when the old process served a request after its
// export) instead of starting full (39 left).
func quotaContinues(t *testing.T, url, key string, prev, upgrade int) int {
	t.Helper()
	rem := remaining(t, url, key)
	if rem > prev+1 || rem < prev-2 {
		t.Fatalf("upgrade %d: %s has %d tokens left, had %d before (a fresh bucket has 39)", upgrade+1, url, rem, prev)
	}
	return rem
}

// remaining sends one GET (with the API key when key is set) and returns
// its X-RateLimit-Remaining; the answer must be 200.
func remaining(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	n, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET %s: %d, X-RateLimit-Remaining %q", url, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	}
	return n
}

// loadGen sends requests from several workers until halted, each bounded
// in count. Keep-alive workers alternate a GET and a small POST (which no
// HTTP client retries by itself, so a connection closed under a request
// is a failure here); fresh workers open a connection per request (a
// refused connection is a failure). Any error or non-200 answer counts.
type loadGen struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
	once     sync.Once
}

// loadRequests bounds each worker.
const loadRequests = 100_000

func startLoad(url string, keepAlive, fresh int) *loadGen {
	l := &loadGen{stop: make(chan struct{})}
	for i := 0; i < keepAlive+fresh; i++ {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: i >= keepAlive}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		l.wg.Add(1)
		go l.worker(client, url, i < keepAlive)
	}
	return l
}

func (l *loadGen) worker(client *http.Client, url string, posts bool) {
	defer l.wg.Done()
	defer client.CloseIdleConnections()
	for i := 0; i < loadRequests; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		var resp *http.Response
		var err error
		if posts && i%2 == 1 {
			resp, err = client.Post(url, "application/json", strings.NewReader(`{"n":`+strconv.Itoa(i)+`}`))
		} else {
			resp, err = client.Get(url)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if err != nil {
			l.fail.Add(1)
			l.mu.Lock()
			if len(l.errs) < 5 {
				l.errs = append(l.errs, err.Error())
			}
			l.mu.Unlock()
			continue
		}
		l.ok.Add(1)
	}
}

// halt stops the workers and returns what they saw.
func (l *loadGen) halt() (ok, failed int64, errs []string) {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok.Load(), l.fail.Load(), append([]string(nil), l.errs...)
}

// uploadResult is the answer to a slowUpload.
type uploadResult struct {
	status int
	body   string
	err    error
}

// slowUpload POSTs size bytes in 32 pieces spread over d, with a
// Content-Length or chunked, and sends the answer on the channel.
func slowUpload(url string, size int, d time.Duration, chunked bool) <-chan uploadResult {
	out := make(chan uploadResult, 1)
	pr, pw := io.Pipe()
	go func() {
		piece := bytes.Repeat([]byte("u"), size/32)
		for i := 0; i < 32; i++ {
			if _, err := pw.Write(piece); err != nil {
				return
			}
			time.Sleep(d / 32)
		}
		pw.Close()
	}()
	go func() {
		req, _ := http.NewRequest("POST", url, pr)
		req.ContentLength = int64(size)
		if chunked {
			req.ContentLength = -1
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			pr.CloseWithError(err)
			out <- uploadResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- uploadResult{status: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

// tunnel is a WebSocket-style tunnel through the gateway to the origin's
// echo.
type tunnel struct {
	c net.Conn
	r *bufio.Reader
}

// openTunnel sends an Upgrade request and reads the 101 head.
func openTunnel(t *testing.T, addr string) *tunnel {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n")
	r := bufio.NewReader(c)
	if status, _ := r.ReadString('\n'); !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("tunnel: status %q", status)
	}
	for line, _ := r.ReadString('\n'); line != "\r\n"; line, _ = r.ReadString('\n') {
		if line == "" {
			t.Fatal("tunnel: head cut short")
		}
	}
	return &tunnel{c: c, r: r}
}

// echo sends msg through the tunnel and wants it back.
func (tu *tunnel) echo(t *testing.T, msg string) {
	t.Helper()
	tu.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(tu.c, msg); err != nil {
		t.Fatalf("tunnel write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(tu.r, buf); err != nil || string(buf) != msg {
		t.Fatalf("tunnel echo of %q: %q %v", msg, buf, err)
	}
}

// TestFailedUpgradeKeepsServing: a new process that refuses its config,
// a binary that exits at once, and one that never becomes ready (killed at
// -upgrade-timeout) each leave the old process serving, with the reason
// logged, `tollgate -upgrade` exiting 1 and the failure counted; then the
// real binary upgrades, and a second SIGUSR2 during that attempt starts
// no second one.
func TestFailedUpgradeKeepsServing(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// The spare upstream's target is down: a new process waits for its first
	// health check (timeout + 1 s) before it is ready, which holds the last
	// attempt open long enough to send it a second SIGUSR2.
	good := fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app: {targets: ["%s"]}
  spare:
    targets: ["%s"]
    health_check: {path: /, interval: 10s, timeout: 300ms}
routes:
  - {name: all, match: {path_prefix: /}, upstream: app}
`, o.addr, testkit.FreeAddr(t))
	u := startUpgradable(t, good, "-upgrade-timeout", "4s")
	first := u.servingPID()
	failedUpgrade := func(what, logged string) {
		t.Helper()
		out, err := exec.Command(binPath, "-upgrade", "-pid-file", u.pidPath).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "upgrade failed: pid "+strconv.Itoa(first)+" keeps serving") {
			t.Fatalf("%s: tollgate -upgrade: %v\n%s", what, err, out)
		}
		if pid := u.servingPID(); pid != first {
			t.Fatalf("%s: the PID file names %d, want %d", what, pid, first)
		}
		if s, b := getStatus(t, u.url("/")); s != 200 || b != "ok" || !u.readyz() {
			t.Fatalf("%s: the old process does not serve: %d %q", what, s, b)
		}
		if !strings.Contains(u.logs.String(), logged) {
			t.Fatalf("%s: the log does not say %q:\n%s", what, logged, u.logs.String())
		}
	}

	u.writeConfig(good + "bogus: 1\n")
	failedUpgrade("bad config", "bogus: unknown key")
	u.writeConfig(good)

	u.installExecutable([]byte("#!/bin/sh\necho broken build >&2\nexit 3\n"))
	failedUpgrade("binary that exits", "exited before it was ready (exit status 3)")

	u.installExecutable([]byte("#!/bin/sh\nexec sleep 60\n"))
	failedUpgrade("binary that hangs", "was not ready within 4s (-upgrade-timeout); it was killed")
	m := regexp.MustCompile(`the new process \(pid (\d+)\) was not ready`).FindStringSubmatch(u.logs.String())
	if m == nil {
		t.Fatal("no PID in the log line of the killed process")
	}
	hung, _ := strconv.Atoi(m[1])
	u.waitGone(hung, 5*time.Second)
	if v := u.metric(`tollgate_upgrades_total{result="error"}`); v != 3 {
		t.Errorf(`tollgate_upgrades_total{result="error"} = %v, want 3`, v)
	}

	u.installBinary(binPath)
	u.signal(syscall.SIGUSR2)
	testkit.Eventually(t, "the fourth attempt starts", func() bool {
		return u.logs.Count("binary upgrade: starting the new process") == 4
	})
	u.signal(syscall.SIGUSR2)
	testkit.Eventually(t, "the second SIGUSR2 is refused", func() bool {
		return u.logs.Count("binary upgrade ignored: one is already under way") == 1
	})
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool { return u.servingPID() != first }) {
		t.Fatalf("the real binary did not take over:\n%s", u.logs.String())
	}
	u.mu.Lock()
	u.pids = append(u.pids, u.servingPID())
	u.mu.Unlock()
	if code := u.wait(10 * time.Second); code != 0 {
		t.Fatalf("old process exit code %d", code)
	}
	if !testkit.Poll(5*time.Second, 10*time.Millisecond, u.readyz) {
		t.Fatal("the new process is not ready")
	}
	if s, b := getStatus(t, u.url("/")); s != 200 || b != "ok" {
		t.Fatalf("after the upgrade: %d %q", s, b)
	}
	if n := u.logs.Count("binary upgrade: starting the new process"); n != 4 {
		t.Errorf("%d upgrade attempts started, want 4", n)
	}
	if !strings.Contains(u.logs.String(), "binary upgrade: serving before these targets passed a health check") {
		t.Error("the new process did not say it served before the spare target passed a health check")
	}
}

// TestBrokenHandoverIsRefused: a process told it inherits something it
// cannot trust (garbled description, another version, descriptors that
// are not open or not listening sockets) exits 1 with a clear message
// instead of serving; `-upgrade` without a usable PID file says why.
func TestBrokenHandoverIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/tollgate.yaml"
	os.WriteFile(cfg, []byte("server: {listen: \"127.0.0.1:0\"}\nadmin: {listen: \"\"}\nupstreams: {a: {targets: [\"127.0.0.1:1\"]}}\nroutes: [{name: r, match: {path_prefix: /}, upstream: a}]\n"), 0o644)
	regular, err := os.Create(dir + "/not-a-socket")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	cases := []struct{ name, env, want string }{
		{"garbled", `{"version":1,`, "TOLLGATE_HANDOVER: unexpected EOF"},
		{"unknown field", `{"version":1,"sockets":[3]}`, `unknown field \"sockets\"`}, // as the JSON log line escapes it
		{"other version", `{"version":2,"clients":[3],"admin":-1,"state":4,"ctl":5}`, "version 2, this build reads 1"},
		{"not open", `{"version":1,"clients":[40],"admin":-1,"state":41,"ctl":42}`, "descriptor 40: bad file descriptor"},
		{"stdin", `{"version":1,"clients":[0],"admin":-1,"state":4,"ctl":5}`, "descriptor 0 out of range or repeated"},
		{"not a socket", `{"version":1,"clients":[3],"admin":-1,"state":4,"ctl":5}`, "inherited descriptor client socket 3: socket operation on non-socket"},
	}
	for _, c := range cases {
		cmd := exec.Command(binPath, "-config", cfg)
		cmd.Env = append(os.Environ(), "TOLLGATE_HANDOVER="+c.env)
		cmd.ExtraFiles = []*os.File{regular, regular, regular}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 ||
			!strings.Contains(string(out), "binary upgrade: refusing what the old process handed over") || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %v, want exit 1 and %q:\n%s", c.name, err, c.want, out)
		}
	}
	for _, args := range [][]string{{"-upgrade"}, {"-upgrade", "-pid-file", dir + "/missing.pid"}} {
		out, err := exec.Command(binPath, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "-upgrade:") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}
