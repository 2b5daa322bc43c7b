package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// binPath is the tollgate binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "tollgate")
	args := []string{"build", "-o", binPath}
	if os.Getenv("TOLLGATE_E2E_RACE") != "" {
		args = append(args, "-race") // run the end-to-end tests against a race-detecting binary
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tollgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gateway is a running tollgate process.
type gateway struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	admin  string
	config string
	logs   *testkit.LogBuffer
	done   chan struct{}
	exit   int
}

// startGateway writes cfg (with LISTEN and ADMIN placeholders) to a temp
// file, starts the binary and waits until /readyz answers 200.
func startGateway(t testing.TB, cfg string) *gateway {
	t.Helper()
	g := launchGateway(t, cfg)
	g.waitReady()
	return g
}

// startGatewayUnder is startGateway with the binary run by a wrapper that
// execs it (the process keeps the wrapper's PID), e.g. prlimit; args are
// added after -config.
func startGatewayUnder(t testing.TB, cfg string, wrapper []string, args ...string) *gateway {
	t.Helper()
	g := launchGatewayUnder(t, cfg, wrapper, args...)
	g.waitReady()
	return g
}

// launchGateway is startGateway without the wait for /readyz, with extra
// command-line arguments.
func launchGateway(t testing.TB, cfg string, args ...string) *gateway {
	t.Helper()
	return launchGatewayUnder(t, cfg, nil, args...)
}

// launchGatewayUnder is launchGateway run by wrapper (see
// startGatewayUnder).
func launchGatewayUnder(t testing.TB, cfg string, wrapper []string, args ...string) *gateway {
	t.Helper()
	g := &gateway{t: t, addr: testkit.FreeAddr(t), admin: testkit.FreeAddr(t), logs: &testkit.LogBuffer{}, done: make(chan struct{})}
	g.config = filepath.Join(t.TempDir(), "tollgate.yaml")
	g.writeConfig(cfg)
	argv := append(append(append(wrapper[:len(wrapper):len(wrapper)], binPath), "-config", g.config), args...)
	g.cmd = exec.Command(argv[0], argv[1:]...)
	g.cmd.Stderr = g.logs
	g.cmd.Stdout = g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		g.cmd.Wait()
		g.exit = g.cmd.ProcessState.ExitCode()
		close(g.done)
	}()
	t.Cleanup(g.stop)
	return g
}

// writeConfig writes cfg with its placeholders filled in: LISTEN is the
// gateway's loopback address, DUALSTACK the same port on every IPv4 and
// IPv6 address ("[::]:port"), ADMIN the admin address.
func (g *gateway) writeConfig(cfg string) {
	_, port, _ := net.SplitHostPort(g.addr)
	cfg = strings.ReplaceAll(cfg, "DUALSTACK", "[::]:"+port)
	cfg = strings.ReplaceAll(cfg, "LISTEN", g.addr)
	cfg = strings.ReplaceAll(cfg, "ADMIN", g.admin)
	if err := os.WriteFile(g.config, []byte(cfg), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) waitReady() {
	g.t.Helper()
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool {
		select {
		case <-g.done:
			g.t.Fatalf("tollgate exited with %d:\n%s", g.exit, g.logs.String())
		default:
		}
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		g.t.Fatalf("tollgate not ready:\n%s", g.logs.String())
	}
}

// signal sends sig to the process.
func (g *gateway) signal(sig syscall.Signal) {
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (g *gateway) wait(d time.Duration) int {
	g.t.Helper()
	select {
	case <-g.done:
		return g.exit
	case <-time.After(d):
		g.t.Fatalf("tollgate did not exit within %v:\n%s", d, g.logs.String())
		return -1
	}
}

func (g *gateway) stop() {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
	if strings.Contains(g.logs.String(), "WARNING: DATA RACE") {
		g.t.Errorf("the race detector reported a data race in tollgate")
	}
	if g.t.Failed() {
		g.t.Logf("tollgate logs:\n%s", g.logs.String())
	}
}

func (g *gateway) url(path string) string { return "http://" + g.addr + path }

// metric returns the value of one sample line of /metrics (the full
// name with labels as printed), or -1 when absent.
func (g *gateway) metric(sample string) float64 {
	g.t.Helper()
	if v, ok := testkit.Scrape(g.t, "http://"+g.admin+"/metrics")[sample]; ok {
		return v
	}
	return -1
}

// origin is a real HTTP server on loopback that counts requests and TCP
// connections.
type origin struct {
	addr     string
	srv      *http.Server
	conns    atomic.Int64
	requests atomic.Int64
	last     atomic.Pointer[http.Request]
}

func startOrigin(t testing.TB, h http.HandlerFunc) *origin {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{addr: l.Addr().String()}
	o.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o.requests.Add(1)
			o.last.Store(r)
			h(w, r)
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				o.conns.Add(1)
			}
		},
	}
	go o.srv.Serve(l)
	t.Cleanup(func() { o.srv.Close() })
	return o
}

// echoHandler answers with the request line and headers as text.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Origin-Path", r.URL.RequestURI())
	w.Header().Set("X-Origin-Method", r.Method)
	w.Header().Set("X-Origin-Host", r.Host)
	for name, vals := range r.Header {
		w.Header()["X-Echo-"+name] = vals
	}
	w.Header().Set("X-Origin-Body-Len", fmt.Sprint(len(body)))
	w.Write(body)
}

// echoTunnel answers 101 Switching Protocols to websocket and echoes the
// tunnel's bytes until the client closes.
func echoTunnel(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	io.Copy(conn, rw)
}

// rawExchange sends raw bytes on a new connection and returns everything
// the gateway sends back until it closes or the timeout passes.
func rawExchange(t testing.TB, addr, raw string, timeout time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(c)
	return string(out)
}

// basicConfig routes everything under / to the upstream at addr.
func basicConfig(addr string, extra string) string {
	return fmt.Sprintf(`
server:
  listen: "LISTEN"
  read_header_timeout: 2s
admin:
  listen: "ADMIN"
upstreams:
  app:
    targets: ["%s"]
    timeouts: {connect: 500ms, response_header: 1s}
clients:
  default: {rate: 100000/s, burst: 100000}
routes:
  - name: all
    match: {path_prefix: /}
    upstream: app
%s`, addr, extra)
}
