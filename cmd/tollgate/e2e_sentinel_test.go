package main

// End-to-end test of the Redis store behind Sentinel: a real master, a
// replica and three sentinels (redis-server --sentinel), the master killed
// under load.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// redisProc is a redis-server process (a node or a sentinel) started by a
// test on a free loopback port, killed by PID when the test ends.
type redisProc struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	out  *testkit.LogBuffer
	once sync.Once
}

// startRedisProc runs redis-server with args (the port is added) and waits
// until it answers PING.
func startRedisProc(t *testing.T, addr string, args ...string) *redisProc {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	p := &redisProc{t: t, addr: addr, out: &testkit.LogBuffer{}, done: make(chan struct{})}
	// --dir: a replica writes the master's snapshot to disk when it syncs.
	p.cmd = exec.Command("redis-server", append(args, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	if !testkit.Poll(5*time.Second, 20*time.Millisecond, func() bool {
		v, err := redisCmd(addr, "PING")
		return err == nil && v == "+PONG"
	}) {
		t.Fatalf("redis at %s not answering:\n%s", addr, p.out.String())
	}
	return p
}

// kill stops the process with SIGKILL (its PID only) and waits for it.
func (p *redisProc) kill() {
	p.once.Do(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
}

// redisCmd sends one inline command and returns the whole first reply
// (for an array, its elements joined by spaces).
func redisCmd(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	reply := strings.TrimRight(string(buf[:n]), "\r\n")
	if !strings.HasPrefix(reply, "*") {
		return reply, nil
	}
	var items []string
	for _, line := range strings.Split(reply, "\r\n")[1:] {
		if !strings.HasPrefix(line, "$") {
			items = append(items, line)
		}
	}
	return strings.Join(items, " "), nil
}

// sentinelSet is a master, its replica and three sentinels monitoring
// them as "tgmaster".
type sentinelSet struct {
	master, replica *redisProc
	sentinels       []*redisProc
}

// startSentinelSet starts the set and waits until every sentinel knows
// the replica and the replica is in sync.
func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	s := &sentinelSet{}
	s.master = startRedisProc(t, testkit.FreeAddr(t))
	_, mport, _ := net.SplitHostPort(s.master.addr)
	s.replica = startRedisProc(t, testkit.FreeAddr(t), "--replicaof", "127.0.0.1", mport)
	for i := range 3 {
		file := filepath.Join(t.TempDir(), fmt.Sprintf("sentinel%d.conf", i))
		conf := fmt.Sprintf("sentinel monitor tgmaster 127.0.0.1 %s 2\n"+
			"sentinel down-after-milliseconds tgmaster 1000\n"+
			"sentinel failover-timeout tgmaster 5000\n", mport)
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		s.sentinels = append(s.sentinels, startRedisProc(t, testkit.FreeAddr(t), file, "--sentinel"))
	}
	if !testkit.Poll(15*time.Second, 100*time.Millisecond, func() bool {
		info, err := redisCmd(s.replica.addr, "INFO replication")
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return false
		}
		for _, sn := range s.sentinels {
			v, err := redisCmd(sn.addr, "SENTINEL replicas tgmaster")
			if err != nil || !strings.Contains(v, s.replica.addr[strings.LastIndex(s.replica.addr, ":")+1:]) {
				return false
			}
		}
		return true
	}) {
		t.Fatal("sentinels did not discover the replica")
	}
	return s
}

// masterAddr asks the first sentinel that answers which node is master.
func (s *sentinelSet) masterAddr() string {
	for _, sn := range s.sentinels {
		if v, err := redisCmd(sn.addr, "SENTINEL get-master-addr-by-name tgmaster"); err == nil {
			return strings.Replace(v, " ", ":", 1)
		}
	}
	return ""
}

// TestSentinelFailoverUnderLoad: the Redis store finds the master through
// three sentinels; a client spends its quota; the master is killed under
// load; while the failover lasts on_failure (local) applies and no
// request waits past its timeout; once a sentinel has promoted the
// replica the gateway is back on Redis by itself and the spent quota is
// enforced again.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	t.Parallel()
	set := startSentinelSet(t)
	addrs := make([]string, len(set.sentinels))
	for i, sn := range set.sentinels {
		addrs[i] = `"` + sn.addr + `"`
	}
	limits := fmt.Sprintf(`  store: redis
  headers: ietf
  redis:
    sentinel: {master_name: tgmaster, addrs: [%s]}
    sync_interval: 50ms
    on_failure: local`, strings.Join(addrs, ", "))
	clients := "  default: {rate: 1/s, burst: 1}\n  c: {rate: 1000/s, burst: 1000, quota: {limit: 300, period: day}}"
	g := startGateway(t, quotaConfig(okOrigin(t).addr, clients, "", limits, ""))

	// Load for the whole test: 2 workers, each request bounded by a 2 s
	// client timeout; the slowest answer and every failure are recorded.
	var ok, quota, other atomic.Int64
	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 2 * time.Second}
			for i := 0; i < 200000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", g.url("/all"), nil)
				req.Header.Set("X-API-Key", "key-c")
				start := time.Now()
				resp, err := c.Do(req)
				for d := int64(time.Since(start)); ; {
					cur := slowest.Load()
					if d <= cur || slowest.CompareAndSwap(cur, d) {
						break
					}
				}
				if err != nil {
					other.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); {
				case resp.StatusCode == 200:
					ok.Add(1)
				case resp.StatusCode == 429 && ra > 1:
					quota.Add(1)
				case resp.StatusCode != 429:
					other.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool { return quota.Load() > 20 }) {
		t.Fatalf("the quota was not spent: 200=%d quota 429=%d other=%d", ok.Load(), quota.Load(), other.Load())
	}
	spent := ok.Load()
	if spent < 290 || spent > 310 {
		t.Errorf("admitted %d before the failover, quota 300", spent)
	}

	old := set.master.addr
	set.master.kill()
	if !testkit.Poll(20*time.Second, 100*time.Millisecond, func() bool { return set.masterAddr() == set.replica.addr }) {
		t.Fatalf("no failover: sentinels say master is %s (was %s)", set.masterAddr(), old)
	}
	if !testkit.Poll(10*time.Second, 50*time.Millisecond, func() bool { return g.logs.Count(redisUpLog) >= 1 }) {
		t.Fatalf("the gateway did not come back to Redis after the failover:\n%s", g.logs.String())
	}
	if g.logs.Count(redisDownLog) != 1 {
		t.Errorf("%d outage warnings, want 1", g.logs.Count(redisDownLog))
	}
	// Enforced again on the new master: only quota refusals from now on.
	before, beforeQuota := ok.Load(), quota.Load()
	if !testkit.Poll(5*time.Second, 20*time.Millisecond, func() bool { return quota.Load() > beforeQuota+50 }) {
		t.Fatal("no quota refusals after the failover")
	}
	if extra := ok.Load() - before; extra != 0 {
		t.Errorf("%d admitted after the failover, the quota was spent", extra)
	}
	t.Logf("admitted %d in all (quota 300), %d refused by the quota, slowest answer %v",
		ok.Load(), quota.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	if n := ok.Load(); n > 330 {
		t.Errorf("admitted %d in all across the failover, quota 300", n)
	}
	if other.Load() != 0 {
		t.Errorf("%d requests failed or timed out", other.Load())
	}
	if d := time.Duration(slowest.Load()); d > time.Second {
		t.Errorf("slowest answer %v: a request waited for Redis", d)
	}
}
