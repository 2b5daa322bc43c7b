package limiter

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// redisServer is a real redis-server on a loopback port, owned by a test.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

// startRedis starts redis-server from PATH on a free port; it is killed
// (by PID) when the test ends.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not in PATH")
	}
	s := &redisServer{t: t, port: testkit.FreePort(t)}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := s.client()
	defer c.Close()
	if !testkit.Poll(5*time.Second, 20*time.Millisecond, func() bool { return c.Ping(context.Background()).Err() == nil }) {
		s.t.Fatal("redis-server did not start")
	}
}

// kill stops the server started by this test, by PID.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
}

// commandStats returns calls per command from INFO commandstats.
func (s *redisServer) commandStats(t *testing.T) map[string]int {
	c := s.client()
	defer c.Close()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		out[name] = n
	}
	return out
}

func (s *redisServer) resetStats(t *testing.T) {
	c := s.client()
	defer c.Close()
	if err := c.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// redisLimits returns limits for the Redis store at addr.
func redisLimits(addr, onFailure string) conf.Limits {
	return conf.Limits{Store: "redis", Redis: conf.Redis{Addrs: []string{addr}, SyncInterval: 50 * time.Millisecond, OnFailure: onFailure}}
}

// newRedisLimiter returns a limiter (real clock) sharing quotas in Redis.
func newRedisLimiter(t *testing.T, clients conf.Clients, limits conf.Limits, log *slog.Logger) *Limiter {
	t.Helper()
	l := New(Options{SweepInterval: -1, Logger: log})
	if err := l.Apply(clients, limits, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// hammer runs workers goroutines per limiter calling Allow for client
// until the deadline (and at most maxCalls each), returning admitted counts
// per limiter.
func hammer(ls []*Limiter, client string, workers int, d time.Duration) []int64 {
	counts := make([]int64, len(ls))
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for i, l := range ls {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 200_000 && time.Now().Before(deadline); n++ {
					if d := l.Allow(client, ipA, "r", "u"); d.Allowed {
						atomic.AddInt64(&counts[i], 1)
					}
					time.Sleep(250 * time.Microsecond)
				}
			}()
		}
	}
	wg.Wait()
	return counts
}

func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += x
	}
	return n
}

// TestRedisSharedQuota runs two and three limiters (each with its own
// Redis client) against one redis-server and one global quota.
func TestRedisSharedQuota(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) {
			srv := startRedis(t)
			const rate, burst = 300, 150
			clients := conf.Clients{Default: *q(10, 10), Named: map[string]*conf.Quota{"shared": q(rate, burst)}}
			ls := make([]*Limiter, n)
			for i := range ls {
				ls[i] = newRedisLimiter(t, clients, redisLimits(srv.addr(), FailLocal), nil)
			}
			waitInstances(t, ls, n) // heartbeats: every instance sees the others
			srv.resetStats(t)
			const dur = 3 * time.Second
			start := time.Now()
			counts := hammer(ls, "shared", 2, dur)
			elapsed := time.Since(start).Seconds()
			stats := srv.commandStats(t)
			admitted := sum(counts)
			want := burst + rate*elapsed
			ratio := float64(admitted) / want
			evals := stats["evalsha"] + stats["eval"]
			all := 0
			for _, c := range stats {
				all += c
			}
			all -= stats["config|resetstat"] + stats["info"] + stats["config"]
			t.Logf("%d instances: admitted %d (per instance %v) vs quota %.0f over %.2fs = %.1f%%; "+
				"script calls %d = %.4f per admitted; all commands incl. inside scripts %d = %.3f per admitted; instances seen %d",
				n, admitted, counts, want, elapsed, 100*ratio, evals, float64(evals)/float64(admitted),
				all, float64(all)/float64(admitted), ls[0].Instances())
			// Over the quota by more than the documented overshoot is a
			// defect; under it, on a machine loaded enough to slow Redis's
			// round trips (shares refill late), is not: the floor is loose.
			if ratio < 0.85 || ratio > 1.05 {
				t.Errorf("admitted %.1f%% of the global quota, want within +5%%/-15%%", 100*ratio)
			}
			if per := float64(evals) / float64(admitted); per > 0.1 {
				t.Errorf("%.3f script calls per admitted request", per)
			}
			for i, c := range counts {
				if c == 0 {
					t.Errorf("instance %d admitted nothing", i)
				}
			}
		})
	}
}

// TestRedisManyKeysBatched shows that keys share script calls: 200
// distinct anonymous callers on two instances.
func TestRedisManyKeysBatched(t *testing.T) {
	srv := startRedis(t)
	clients := conf.Clients{Default: *q(20, 20)}
	ls := []*Limiter{
		newRedisLimiter(t, clients, redisLimits(srv.addr(), FailLocal), nil),
		newRedisLimiter(t, clients, redisLimits(srv.addr(), FailLocal), nil),
	}
	srv.resetStats(t)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(1500 * time.Millisecond)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100_000 && time.Now().Before(deadline); i++ {
				ip := ipA.Next()
				for j := 0; j < (i+w)%200; j++ {
					ip = ip.Next()
				}
				if ls[i%2].Allow("", ip, "r", "u").Allowed {
					admitted.Add(1)
				}
				time.Sleep(50 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	stats := srv.commandStats(t)
	evals := stats["evalsha"] + stats["eval"]
	t.Logf("200 callers × 2 instances: admitted %d, script calls %d = %.4f per admitted",
		admitted.Load(), evals, float64(evals)/float64(admitted.Load()))
	if float64(evals)/float64(admitted.Load()) > 0.1 {
		t.Errorf("too many script calls")
	}
}

// TestRedisOutage kills redis-server mid-test and restarts it, for each
// on_failure mode.
func TestRedisOutage(t *testing.T) {
	for _, mode := range []string{FailLocal, FailAllow, FailDeny} {
		t.Run(mode, func(t *testing.T) {
			srv := startRedis(t)
			var logs testkit.LogBuffer
			log := logs.Logger()
			const rate, burst = 40, 20
			clients := conf.Clients{Default: *q(10, 10), Named: map[string]*conf.Quota{"c": q(rate, burst)}}
			ls := []*Limiter{
				newRedisLimiter(t, clients, redisLimits(srv.addr(), mode), log),
				newRedisLimiter(t, clients, redisLimits(srv.addr(), mode), nil),
			}
			waitInstances(t, ls, 2)
			if s := ls[0].StoreStatus(); s != "redis" || ls[0].Instances() != 2 {
				t.Fatalf("before: %s, %d instances", s, ls[0].Instances())
			}
			hammer(ls, "c", 1, 300*time.Millisecond)

			srv.kill()
			waitStatus(t, ls[0], "redis-down")
			time.Sleep(200 * time.Millisecond) // several failing syncs
			l := ls[0]
			start := time.Now()
			got := hammer(ls[:1], "c", 1, time.Second)[0]
			elapsed := time.Since(start).Seconds()
			d := l.Allow("c", ipA, "r", "u")
			t.Logf("%s: during the outage instance 0 admitted %d in %.2fs (status %s)", mode, got, elapsed, l.StoreStatus())
			switch mode {
			case FailAllow:
				if !d.Allowed || got < 3*(burst+rate) {
					t.Errorf("allow: admitted %d", got)
				}
			case FailDeny:
				if d.Allowed || d.Reason != ReasonStore || got != 0 {
					t.Errorf("deny: admitted %d, last %+v", got, d)
				}
			case FailLocal:
				// quota ÷ 2 instances: burst 10, 20/s.
				want := burst/2 + rate/2*elapsed
				if r := float64(got) / want; r < 0.8 || r > 1.2 {
					t.Errorf("local: admitted %d, want about %.0f (quota ÷ instances)", got, want)
				}
			}
			if n := logs.Count("redis unavailable"); n != 1 {
				t.Errorf("outage warning logged %d times, want once", n)
			}

			srv.start()
			waitStatus(t, l, "redis")
			if n := logs.Count("reachable again"); n != 1 {
				t.Errorf("recovery logged %d times", n)
			}
			time.Sleep(100 * time.Millisecond)
			got = hammer(ls[:1], "c", 1, 500*time.Millisecond)[0]
			t.Logf("%s: after recovery admitted %d in 0.5s", mode, got)
			// The restarted Redis starts with a full bucket: at most the burst
			// plus 0.5 s of refill, plus one lease batch (rate × 200 ms) this
			// instance may still hold from before (README: known slack).
			if max := int64(burst + rate/2 + rate/5); got < 10 || got > max {
				t.Errorf("after recovery admitted %d in 0.5s, want 10..%d", got, max)
			}
			if n := logs.Count("redis unavailable"); n != 1 {
				t.Errorf("outage warning logged %d times in total", n)
			}
		})
	}
}

// waitInstances waits (bounded) until every limiter has seen n instances
// in Redis.
func waitInstances(t *testing.T, ls []*Limiter, n int) {
	t.Helper()
	if !testkit.Poll(10*time.Second, 10*time.Millisecond, func() bool {
		for _, l := range ls {
			if l.Instances() != n {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("instances not seen: %d", ls[0].Instances())
	}
}

// waitStatus waits (bounded) for the limiter's store status, calling Allow
// meanwhile so that leases sync.
func waitStatus(t *testing.T, l *Limiter, want string) {
	t.Helper()
	if !testkit.Poll(10*time.Second, 10*time.Millisecond, func() bool {
		if l.StoreStatus() == want {
			return true
		}
		l.Allow("c", ipA, "r", "u")
		return false
	}) {
		t.Fatalf("store status %s, want %s", l.StoreStatus(), want)
	}
}

// TestRedisReloadKeepsClient: a reload with unchanged Redis settings keeps
// the store; changed settings replace it.
func TestRedisReloadKeepsClient(t *testing.T) {
	srv := startRedis(t)
	clients := conf.Clients{Default: *q(10, 10)}
	l := newRedisLimiter(t, clients, redisLimits(srv.addr(), FailLocal), nil)
	st := l.snap.Load().store
	lim := redisLimits(srv.addr(), FailDeny)
	if err := l.Apply(clients, lim, nil); err != nil {
		t.Fatal(err)
	}
	if l.snap.Load().store != st || st.failMode() != FailDeny {
		t.Fatal("store replaced on unchanged settings")
	}
	lim.Redis.Username = "other"
	if err := l.Apply(clients, lim, nil); err != nil {
		t.Fatal(err)
	}
	if l.snap.Load().store == st {
		t.Fatal("store kept on changed settings")
	}
	if err := l.Apply(clients, conf.Limits{}, nil); err != nil || l.StoreStatus() != "local" {
		t.Fatalf("back to local: %v %s", err, l.StoreStatus())
	}
}
