package limiter

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// startRedisCluster starts three cluster-enabled redis-server processes
// (no replicas) in a temp dir, joins them with redis-cli --cluster create
// and waits for cluster_state:ok. Each is killed by PID when the test ends.
func startRedisCluster(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not in PATH")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not in PATH")
	}
	dir := t.TempDir()
	var addrs []string
	for i := 0; i < 3; i++ {
		port := testkit.FreePort(t)
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+strconv.Itoa(port)+".conf",
			"--save", "", "--appendonly", "no")
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for _, a := range addrs {
		waitPing(t, a)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	pending, info := addrs, ""
	if !testkit.Poll(10*time.Second, 50*time.Millisecond, func() bool {
		for ; len(pending) > 0; pending = pending[1:] {
			c := redis.NewClient(&redis.Options{Addr: pending[0], Protocol: 2, DisableIdentity: true})
			info, _ = c.ClusterInfo(context.Background()).Result()
			c.Close()
			if !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("cluster not ok at %s: %s", pending[0], info)
	}
	return addrs
}

func waitPing(t *testing.T, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	if !testkit.Poll(5*time.Second, 20*time.Millisecond, func() bool { return c.Ping(context.Background()).Err() == nil }) {
		t.Fatalf("redis-server at %s did not start", addr)
	}
}

// TestRedisClusterSharedQuota: two limiters sharing a quota through a real
// three-node Redis Cluster (limits.redis.addrs with several addresses)
// admit within +5%/−10% of the global quota.
func TestRedisClusterSharedQuota(t *testing.T) {
	addrs := startRedisCluster(t)
	const rate, burst = 300, 150
	clients := conf.Clients{Default: *q(10, 10), Named: map[string]*conf.Quota{"shared": q(rate, burst)}}
	limits := conf.Limits{Store: "redis", Redis: conf.Redis{Addrs: addrs, SyncInterval: 50 * time.Millisecond, OnFailure: FailDeny}}
	ls := []*Limiter{newRedisLimiter(t, clients, limits, nil), newRedisLimiter(t, clients, limits, nil)}
	waitInstances(t, ls, 2)
	start := time.Now()
	counts := hammer(ls, "shared", 2, 2*time.Second)
	elapsed := time.Since(start).Seconds()
	want := burst + rate*elapsed
	ratio := float64(sum(counts)) / want
	t.Logf("cluster, 2 instances: admitted %d %v vs quota %.0f over %.2fs = %.1f%%", sum(counts), counts, want, elapsed, 100*ratio)
	if ratio < 0.90 || ratio > 1.05 {
		t.Errorf("admitted %.1f%% of the global quota, want within +5%%/-10%%", 100*ratio)
	}
	for _, l := range ls {
		if st := l.StoreStatus(); st != "redis" {
			t.Errorf("store status %q, want redis", st)
		}
	}
}
