package upstream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

func TestApplyCarriesPoolsOver(t *testing.T) {
	a, b := newServer(t), newServer(t)
	reg := testRegistry(t, registryOptions{})
	s1, err := reg.Apply(map[string]*conf.Upstream{"u": poolConf(defaultPool, a.addr)})
	if err != nil {
		t.Fatal(err)
	}
	t1 := s1.Get("u").Targets()[0]
	c := mustAcquire(t, t1)
	exchange(t, c)
	c.Release()

	// Reload: a new target, a new weight and a new timeout keep A's pool.
	next := poolConf(defaultPool, a.addr, b.addr)
	next.Targets[0].Weight = 3
	next.Timeouts.Connect = 2 * time.Second
	s2, err := reg.Apply(map[string]*conf.Upstream{"u": next})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Release()
	t2 := s2.Get("u").Targets()[0]
	if t2 != t1 || t2.pool != t1.pool {
		t.Fatal("an unchanged target got a new Target or pool on reload")
	}
	if s2.Get("u").Weight(0) != 3 || s1.Get("u").Weight(0) != 1 {
		t.Fatal("weights belong to each snapshot")
	}
	s1.Release()
	if t2.pool.isRetired() || t2.Idle() != 1 {
		t.Fatalf("releasing the old set retired a carried-over pool (idle %d)", t2.Idle())
	}
	c = mustAcquire(t, t2)
	if !c.Reused {
		t.Fatal("the idle conn did not survive the reload")
	}
	exchange(t, c)
	c.Release()
	if a.accepted.Load() != 1 {
		t.Fatalf("server accepted %d connections across the reload, want 1", a.accepted.Load())
	}
}

func TestChangedPoolSettingsBuildANewPool(t *testing.T) {
	srv := newServer(t)
	reg := testRegistry(t, registryOptions{})
	s1, t1 := singleTarget(t, reg, defaultPool, srv.addr)
	c := mustAcquire(t, t1)
	c.Release()
	p := defaultPool
	p.MaxIdlePerTarget = 7
	_, t2 := singleTarget(t, reg, p, srv.addr)
	if t2 == t1 {
		t.Fatal("changed pool settings kept the old Target")
	}
	s1.Release()
	testkit.Eventually(t, "old pool's idle conn closed", func() bool { return srv.ended.Load() == 1 })
}

func TestDroppedTargetClosedAfterRelease(t *testing.T) {
	a, b := newServer(t), newServer(t)
	reg := testRegistry(t, registryOptions{})
	s1, err := reg.Apply(map[string]*conf.Upstream{"u": poolConf(defaultPool, a.addr, b.addr)})
	if err != nil {
		t.Fatal(err)
	}
	tb := s1.Get("u").Targets()[1]
	inFlight, idle := mustAcquire(t, tb), mustAcquire(t, tb)
	exchange(t, idle)
	idle.Release()

	s2, err := reg.Apply(map[string]*conf.Upstream{"u": poolConf(defaultPool, a.addr)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Release()
	if b.ended.Load() != 0 || tb.Idle() != 1 {
		t.Fatal("a dropped target was closed before the old set was released")
	}

	s1.Release()
	testkit.Eventually(t, "dropped target's idle conn closed", func() bool { return b.ended.Load() == 1 })
	exchange(t, inFlight) // in-flight work finishes on the old target
	inFlight.Release()
	testkit.Eventually(t, "in-flight conn closed on release", func() bool { return b.ended.Load() == 2 })
	if tb.Idle() != 0 || tb.Active() != 0 {
		t.Fatalf("retired target holds idle %d active %d", tb.Idle(), tb.Active())
	}
	s1.Release() // twice is harmless
	if s1.Get("u") == nil {
		t.Fatal("a released set must keep answering Get for in-flight requests")
	}
}

func TestSharedTargetSurvivesEitherRelease(t *testing.T) {
	srv := newServer(t)
	reg := testRegistry(t, registryOptions{})
	s1, t1 := singleTarget(t, reg, defaultPool, srv.addr)
	s2, t2 := singleTarget(t, reg, defaultPool, srv.addr)
	s3, t3 := singleTarget(t, reg, defaultPool, srv.addr)
	if t1 != t2 || t2 != t3 {
		t.Fatal("identical snapshots do not share targets")
	}
	s2.Release()
	s1.Release()
	if t3.pool.isRetired() {
		t.Fatal("target retired while s3 still names it")
	}
	s3.Release()
	if !t3.pool.isRetired() {
		t.Fatal("target not retired after its last set was released")
	}
}

func TestApplyErrorsChangeNothing(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	bad := map[string]string{
		"balance":   "unknown policy",
		"targets":   "no targets",
		"duplicate": "duplicate address",
		"port":      "missing port",
	}
	for name, want := range bad {
		c := poolConf(defaultPool, "127.0.0.1:1")
		switch name {
		case "balance":
			c.Balance = "fastest"
		case "targets":
			c.Targets = nil
		case "duplicate":
			c.Targets = append(c.Targets, c.Targets[0])
		case "port":
			c.Targets[0].Addr = "127.0.0.1"
		}
		good := poolConf(defaultPool, "127.0.0.1:2")
		_, err := reg.Apply(map[string]*conf.Upstream{"good": good, name: c})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `upstream "`+name+`"`) {
			t.Errorf("%s: error %v, want one naming the upstream and %q", name, err, want)
		}
	}
	if counts, _ := reg.scrape(); len(counts) != 0 {
		n := len(counts)
		t.Fatalf("failed applies left %d upstreams behind", n)
	}
}

func TestCloseRetiresEverything(t *testing.T) {
	srv := newServer(t)
	reg := newRegistry(nil, registryOptions{})
	s, tg := singleTarget(t, reg, defaultPool, srv.addr)
	active, idle := mustAcquire(t, tg), mustAcquire(t, tg)
	idle.Release()
	reg.Close()
	reg.Close()
	testkit.Eventually(t, "idle conn closed", func() bool { return srv.ended.Load() == 1 })
	active.Release()
	testkit.Eventually(t, "active conn closed on release", func() bool { return srv.ended.Load() == 2 })
	if _, err := reg.Apply(map[string]*conf.Upstream{"u": poolConf(defaultPool, srv.addr)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after Close = %v, want ErrClosed", err)
	}
	s.Release()
}

func TestMetrics(t *testing.T) {
	srv := newServer(t)
	reg := testRegistry(t, registryOptions{})
	_, tg := singleTarget(t, reg, defaultPool, srv.addr)
	held := []*Conn{mustAcquire(t, tg), mustAcquire(t, tg), mustAcquire(t, tg)}
	held[0].Release()

	got := testkit.Gather(t, reg).Family("tollgate_upstream_connections")
	if got[`tollgate_upstream_connections{state="idle",upstream="u"}`] != 1 ||
		got[`tollgate_upstream_connections{state="active",upstream="u"}`] != 2 {
		t.Fatalf("gauges %v, want u/idle 1, u/active 2", got)
	}
	held[1].Release()
	held[2].Close()

	// A target without breaker or health check: breaker state 0 (so a
	// dashboard lists every target) and healthy; unhealthy once marked so.
	samples := testkit.Gather(t, reg)
	state := fmt.Sprintf(`tollgate_breaker_state{target="%s",upstream="u"}`, srv.addr)
	healthy := fmt.Sprintf(`tollgate_upstream_target_healthy{target="%s",upstream="u"}`, srv.addr)
	if v, ok := samples[state]; !ok || v != 0 || samples[healthy] != 1 {
		t.Fatalf("without a breaker: %v", samples)
	}
	tg.SetHealthy(false)
	if v := testkit.Gather(t, reg)[healthy]; v != 0 {
		t.Fatalf("%s = %v after SetHealthy(false)", healthy, v)
	}
}
