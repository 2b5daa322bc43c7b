package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

func reloadConfig(a, b string, version string) string {
	return fmt.Sprintf(`
server: {listen: "LISTEN", shutdown_timeout: 5s}
admin: {listen: "ADMIN"}
clients:
  default: {rate: 100000/s, burst: 100000}
upstreams:
  a: {targets: ["%s"]}
  b: {targets: ["%s"]}
routes:
  - name: main
    match: {path_prefix: /}
    upstream: %s
`, a, b, version)
}

// TestReloadUnderLoadLosesNothing reloads with SIGHUP (and POST /reload)
// while clients keep sending; every request succeeds and traffic moves to
// the new upstream.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	a := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	b := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	g := startGateway(t, reloadConfig(a.addr, b.addr, "a"))

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 3000; i++ { // bounded in count and by stop
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.url("/x"))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 6; i++ {
		time.Sleep(100 * time.Millisecond)
		target := "b"
		if i%2 == 1 {
			target = "a"
		}
		g.writeConfig(reloadConfig(a.addr, b.addr, target))
		if i%3 == 2 {
			resp, err := http.Post("http://"+g.admin+"/reload", "", nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST /reload: %v %v", err, resp)
			}
			resp.Body.Close()
		} else {
			g.signal(syscall.SIGHUP)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 100 {
		t.Fatalf("ok=%d failed=%d during reloads", ok.Load(), failed.Load())
	}
	if v := g.metric(`tollgate_config_reloads_total{result="ok"}`); v != 6 {
		t.Errorf("reloads ok = %v, want 6", v)
	}
	if a.requests.Load() == 0 || b.requests.Load() == 0 {
		t.Errorf("traffic did not move: a=%d b=%d", a.requests.Load(), b.requests.Load())
	}
}

func TestInvalidReloadKeepsRunningConfig(t *testing.T) {
	a := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	g := startGateway(t, reloadConfig(a.addr, a.addr, "a"))
	before := configVersion(t, g)
	g.writeConfig("server: {listen: \"LISTEN\"}\nroutes:\n  - name: x\n    upstream: nowhere\n    match: {path_prefix: /}\n    bogus: 1\n")
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return g.metric(`tollgate_config_reloads_total{result="error"}`) == 1 })
	resp, err := http.Post("http://"+g.admin+"/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Errors []string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || len(body.Errors) < 2 || !strings.Contains(strings.Join(body.Errors, "\n"), "tollgate.yaml:") {
		t.Fatalf("POST /reload with a bad file: %d %v", resp.StatusCode, body.Errors)
	}
	if s, b := getStatus(t, g.url("/")); s != 200 || b != "a" {
		t.Fatalf("old config not kept: %d %q", s, b)
	}
	if after := configVersion(t, g); after != before {
		t.Fatalf("version changed from %s to %s", before, after)
	}
	if v := g.metric(`tollgate_config_reloads_total{result="error"}`); v != 2 {
		t.Errorf("reload errors = %v, want 2", v)
	}
}

func configVersion(t *testing.T, g *gateway) string {
	t.Helper()
	resp, err := http.Get("http://" + g.admin + "/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Version  string
		LoadedAt string `json:"loaded_at"`
		Config   map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Version == "" || c.LoadedAt == "" || c.Config["routes"] == nil {
		t.Fatalf("/config incomplete: %+v", c)
	}
	return c.Version
}

// waitFor fails t unless cond holds within 5 s. It checks every 20 ms, not
// as often as testkit.Eventually: here a check is mostly a request to the
// gateway or a scrape of its /metrics.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if !testkit.Poll(5*time.Second, 20*time.Millisecond, cond) {
		t.Fatal("condition not met within 5s")
	}
}

// TestGracefulShutdown: SIGTERM while a slow request is in flight turns
// readyz 503, stops accepting, closes idle keep-alive connections, lets the
// in-flight request finish, and exits 0.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "finished")
	})
	g := startGateway(t, reloadConfig(o.addr, o.addr, "a"))
	idle, err := net.Dial("tcp", g.addr) // an idle keep-alive connection
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")
	idleR := bufio.NewReader(idle)
	if line, err := idleR.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("warm-up: %q %v", line, err)
	}
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(g.url("/slow"))
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b), nil}
	}()
	waitFor(t, func() bool { return o.requests.Load() == 2 })
	g.signal(syscall.SIGTERM)
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			t.Fatalf("readyz unreachable while draining: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	// Listeners close: new connections are refused while the in-flight
	// request is still running; the idle connection is closed by the gateway.
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", g.addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(idleR); err != nil {
		t.Fatalf("idle keep-alive connection not closed by the gateway: %v", err)
	}
	select {
	case r := <-done:
		t.Fatalf("in-flight request ended before the origin answered: %+v %v", r, r.err)
	default:
	}
	close(release)
	r := <-done
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if code := g.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.yaml")
	os.WriteFile(bad, []byte(`server:
  listen: ":8080"
  idle_timeout: forever
upstreams:
  users: {targets: ["127.0.0.1:9001"]}
routes:
  - name: a
    match: {path_prefix: /a}
    upstream: users
  - name: a
    match: {path_prefix: /b}
    upstream: userz
    colour: blue
`), 0o644)
	out, err := exec.Command(binPath, "-check", "-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	for _, want := range []string{"broken.yaml:3: server.idle_timeout", "broken.yaml:10: routes[1].name", "broken.yaml:12: routes[1].upstream: unknown upstream \"userz\"", "broken.yaml:13: routes[1].colour"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("server: {listen: \":8080\"}\n"), 0o644)
	out, err = exec.Command(binPath, "-check", "-config", good).Output() // warnings go to stderr
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("good config: %v %s", err, out)
	}
	out, err = exec.Command(binPath, "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "tollgate ") {
		t.Fatalf("-version: %v %s", err, out)
	}
}

// TestBindFailureExits2 starts on a port that is taken.
func TestBindFailureExits2(t *testing.T) {
	o := startOrigin(t, echoHandler)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("server: {listen: %q}\nadmin: {listen: \"\"}\n", o.addr)), 0o644)
	err := exec.Command(binPath, "-config", cfg).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v", err)
	}
}

// TestShippedExamples: examples/tollgate.yaml is valid and
// examples/broken.yaml reports every error with its line, as the README
// shows.
func TestShippedExamples(t *testing.T) {
	out, err := exec.Command(binPath, "-check", "-config", "../../examples/tollgate.yaml").Output() // warnings go to stderr
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("examples/tollgate.yaml: %v %s", err, out)
	}
	out, err = exec.Command(binPath, "-check", "-config", "../../examples/broken.yaml").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("broken example exit: %v", err)
	}
	want := []string{
		"broken.yaml:5: server.idle_timeout",
		"broken.yaml:9: upstreams.users.balance",
		`broken.yaml:13: routes[0].upstream: unknown upstream "userz"`,
		`broken.yaml:14: routes[1].name: duplicate route name "users"`,
		"broken.yaml:17: routes[1].timeout",
		"broken.yaml:18: routes[1].colour: unknown key",
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("missing %q in:\n%s", w, out)
		}
	}
}
