package main

// End-to-end tests of the Redis store (limits.store: redis): several
// gateway processes sharing one quota through a real redis-server, and
// Redis killed and restarted under each on_failure mode.

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// redisServer is a redis-server process started by a test on loopback.
type redisServer struct {
	t    testing.TB
	addr string
	port string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *testkit.LogBuffer
}

// startRedis starts redis-server on a free port, without persistence; it
// is killed (by PID) when the test ends.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found in PATH (.ci/run installs it)")
	}
	addr := testkit.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	r := &redisServer{t: t, addr: addr, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// start runs the server on its port and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = &testkit.LogBuffer{}
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	r.done = done
	go func(c *exec.Cmd) { c.Wait(); close(done) }(r.cmd)
	if !testkit.Poll(5*time.Second, 10*time.Millisecond, func() bool {
		if r.ping() {
			return true
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited:\n%s", r.out.String())
		default:
		}
		return false
	}) {
		r.t.Fatalf("redis-server not answering:\n%s", r.out.String())
	}
}

// kill stops the server with SIGKILL (its PID only) and waits for it.
func (r *redisServer) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// ping reports whether the server answers PING.
func (r *redisServer) ping() bool {
	line, err := r.do("PING")
	return err == nil && line == "+PONG"
}

// do sends one inline command and returns the first reply line.
func (r *redisServer) do(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// redisLimits is a limits: block with the Redis store.
func redisLimits(addr, onFailure string) string {
	return fmt.Sprintf(`  store: redis
  headers: ietf
  redis: {addrs: ["%s"], sync_interval: 50ms, on_failure: %s}`, addr, onFailure)
}

// startGateways starts n gateways with the same config and waits until
// all n have announced themselves in Redis; then one more heartbeat period
// (1 s) lets every instance read the full count, so that credits and the
// local fallback see n instances.
func startGateways(t *testing.T, rs *redisServer, n int, cfg string) []*gateway {
	gs := make([]*gateway, n)
	for i := range gs {
		gs[i] = startGateway(t, cfg)
	}
	want := ":" + strconv.Itoa(n)
	waitFor(t, func() bool {
		line, err := rs.do("ZCARD tollgate:rl:instances")
		return err == nil && line == want
	})
	time.Sleep(1100 * time.Millisecond)
	return gs
}

// hammerAll loads every gateway at once with workers each, as partner-x;
// it returns the per-gateway tallies and the longest run.
func hammerAll(t *testing.T, gs []*gateway, workers int, dur time.Duration) ([]*tally, time.Duration) {
	tallies := make([]*tally, len(gs))
	var longest time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl, d := hammer(t, workers, dur, 2*time.Millisecond, 5000, g.url("/keyed/q"), "X-API-Key: partner-key")
			mu.Lock()
			tallies[i] = tl
			longest = max(longest, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return tallies, longest
}

// admitted sums the 200s and fails on answers other than 200 and 429.
func admitted(t *testing.T, tallies []*tally) float64 {
	t.Helper()
	var sum int64
	for i, tl := range tallies {
		t.Logf("gateway %d: %s", i, tl)
		if tl.other.Load() != 0 {
			t.Errorf("gateway %d: unexpected answers: %s", i, tl)
		}
		sum += tl.ok.Load()
	}
	return float64(sum)
}

// TestRedisSharedQuota: two and three gateway processes sharing one
// quota through one redis-server admit within +5%/−10% of it.
func TestRedisSharedQuota(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d_instances", n), func(t *testing.T) {
			t.Parallel()
			rs := startRedis(t)
			const rate, burst = 100.0, 200.0
			clients := "  default: {rate: 1/s, burst: 1}\n  partner-x: {rate: 100/s, burst: 200}"
			gs := startGateways(t, rs, n, limitsConfig(o.addr, clients, redisLimits(rs.addr, "local"), ""))
			tallies, d := hammerAll(t, gs, 1, 3*time.Second)
			got := admitted(t, tallies)
			within(t, fmt.Sprintf("%d instances, admitted over %v", n, d.Round(time.Millisecond)), got, burst+rate*d.Seconds(), 0.10, 0.05)
			for i, tl := range tallies {
				if tl.limited.Load() == 0 {
					t.Errorf("gateway %d was never limited", i)
				}
			}
		})
	}
}

// logCount counts lines of g's log containing s.
func logCount(g *gateway, s string) int { return g.logs.Count(s) }

const (
	redisDownLog = "limiter: redis unavailable"
	redisUpLog   = "limiter: redis reachable again"
)

// TestRedisOutage kills redis-server under two gateways and restarts it,
// for each on_failure mode: local keeps limiting at quota ÷ instances,
// allow admits everything, deny refuses everything; the warning is logged
// once per outage; the shared quota comes back without restarting the
// gateways.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	const rate, burst = 40.0, 20.0
	clients := "  default: {rate: 1/s, burst: 1}\n  partner-x: {rate: 40/s, burst: 20}"
	for _, mode := range []string{"local", "allow", "deny"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			rs := startRedis(t)
			gs := startGateways(t, rs, 2, limitsConfig(o.addr, clients, redisLimits(rs.addr, mode), ""))
			c := newClient()
			// Shared quota while Redis is up: spend it.
			tallies, _ := hammerAll(t, gs, 1, 700*time.Millisecond)
			if up := admitted(t, tallies); up > (burst+rate*0.7)*1.05+1 || tallies[0].limited.Load()+tallies[1].limited.Load() == 0 {
				t.Errorf("before the outage: %v admitted, quota %v", up, burst+rate*0.7)
			}

			rs.kill()
			for _, g := range gs {
				// No traffic while waiting: the heartbeat (every second)
				// notices, and the fallback buckets stay untouched.
				waitFor(t, func() bool { return logCount(g, redisDownLog) >= 1 })
			}
			tallies, d := hammerAll(t, gs, 1, 2*time.Second)
			switch mode {
			case "local":
				for i, tl := range tallies {
					within(t, fmt.Sprintf("local fallback, gateway %d over %v", i, d.Round(time.Millisecond)),
						float64(tl.ok.Load()), burst/2+rate/2*d.Seconds(), 0.15, 0.10)
				}
			case "allow":
				for i, tl := range tallies {
					if tl.limited.Load() != 0 || tl.ok.Load() < 100 {
						t.Errorf("allow: gateway %d: %s", i, tl)
					}
				}
			case "deny":
				for i, tl := range tallies {
					if tl.ok.Load() != 0 || tl.limited.Load() < 100 {
						t.Errorf("deny: gateway %d: %s", i, tl)
					}
				}
				r := send(t, c, gs[0].url("/keyed/q"), "X-API-Key: partner-key")
				if eb := check429(t, r, "1"); eb.Message != "rate limit store unavailable" {
					t.Errorf("deny: message %q", eb.Message)
				}
			}
			admitted(t, tallies)

			rs.start()
			for _, g := range gs {
				waitFor(t, func() bool { return logCount(g, redisUpLog) >= 1 })
			}
			time.Sleep(200 * time.Millisecond) // leases settle with the fresh Redis
			tallies, d = hammerAll(t, gs, 1, 2*time.Second)
			got := admitted(t, tallies)
			// A fresh Redis holds a full bucket: one shared quota again. Each
			// instance may also still hold what is left of a batch leased
			// from the Redis that died (a batch is rate × 200ms = 8 tokens):
			// Redis lost its state, so it cannot charge them.
			quota := burst + rate*d.Seconds()
			within(t, fmt.Sprintf("after recovery over %v", d.Round(time.Millisecond)), got, quota, 0.15, (2*8)/quota+0.05)
			for i, g := range gs {
				if n := logCount(g, redisDownLog); n != 1 {
					t.Errorf("gateway %d: outage warning logged %d times, want once", i, n)
				}
			}
		})
	}
}
