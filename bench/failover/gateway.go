package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"tollgate/internal/testkit"
)

// gateway is a running tollgate process.
type gateway struct {
	cmd   *exec.Cmd
	addr  string
	admin string
	dir   string
	logs  *testkit.LogBuffer // the child's output
}

// gatewayBinary returns bin, or builds ./cmd/tollgate into a temporary
// directory when bin is empty.
func gatewayBinary(bin string) (string, func(), error) {
	if bin != "" {
		return bin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "failover-bin")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	bin = filepath.Join(dir, "tollgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tollgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building tollgate (run from the module root or pass -bin): %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// gatewayConfig is the scenario's config: one upstream of the origins with
// a breaker, health checks and (optionally) retries. LISTEN and ADMIN are
// filled in by startGateway.
func gatewayConfig(origins []*origin, retries bool) string {
	addrs := make([]string, len(origins))
	for i, o := range origins {
		addrs[i] = `"` + o.addr + `"`
	}
	retry := `{attempts: 0}`
	if retries {
		retry = `{attempts: 1, on: [connect_failure, reset, "500"]}`
	}
	return fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app:
    targets: [%s]
    timeouts: {connect: 500ms, response_header: 2s}
    retries: %s
    health_check: {path: /healthz, interval: 1s, timeout: 500ms, unhealthy_after: 2, healthy_after: 2}
    breaker: {min_requests: 20, failure_ratio: 0.5, consecutive_failures: 5, interval: 10s, open_for: 2s, half_open_requests: 3, failure_on: ["5xx", timeout, connect_failure]}
clients:
  default: {rate: 1000000/s, burst: 1000000}
routes:
  - {name: all, match: {path_prefix: /}, upstream: app, timeout: 5s}
`, strings.Join(addrs, ", "), retry)
}

// startGateway writes cfg, starts bin and waits for /readyz.
func startGateway(bin, cfg string) (*gateway, error) {
	dir, err := os.MkdirTemp("", "failover")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	g := &gateway{addr: freeAddr(), admin: freeAddr(), dir: dir, logs: &testkit.LogBuffer{}}
	cfg = strings.ReplaceAll(strings.ReplaceAll(cfg, "LISTEN", g.addr), "ADMIN", g.admin)
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	g.cmd = exec.Command(bin, "-config", path)
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	if err := g.waitReady(10 * time.Second); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

func (g *gateway) waitReady(limit time.Duration) error {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
	}
	return fmt.Errorf("tollgate not ready after %v:\n%s", limit, g.logs.String())
}

// stop sends SIGTERM and waits (SIGKILL after 10 s). Calling it again does
// nothing.
func (g *gateway) stop() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
	g.cmd = nil
	os.RemoveAll(g.dir)
}

// freeAddr returns a loopback address whose port was free just now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
