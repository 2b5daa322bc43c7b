//go:build !race

package upstream

import (
	"testing"
	"time"
)

// The race detector makes sync.Pool drop items, so allocation counts are
// only pinned without it.

func TestPickAllocatesNothing(t *testing.T) {
	for _, policy := range policies {
		u := balanced(t, testRegistry(t, registryOptions{}), policy, 1, 2, 3)
		exclude := []*Target{u.Targets()[0]}
		if n := testing.AllocsPerRun(1000, func() { _, _ = u.Pick(42, exclude) }); n != 0 {
			t.Errorf("%s: Pick allocates %v times", policy, n)
		}
		none := u.Targets()
		if n := testing.AllocsPerRun(1000, func() { _, _ = u.Pick(42, none) }); n != 0 {
			t.Errorf("%s: Pick returning ErrNoTarget allocates %v times", policy, n)
		}
	}
}

func TestAcquireReleaseIdleAllocatesNothing(t *testing.T) {
	srv := newServer(t)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), defaultPool, srv.addr)
	mustAcquire(t, tg).Release()
	n := testing.AllocsPerRun(1000, func() {
		c, err := tg.Acquire(time.Time{})
		if err != nil || !c.Reused {
			t.Fatalf("acquire: reused %v, %v", c != nil && c.Reused, err)
		}
		c.Release()
	})
	if n != 0 {
		t.Fatalf("Acquire+Release of an idle conn allocates %v times", n)
	}
}

func TestBeginWithoutBreakerAllocatesNothing(t *testing.T) {
	u := balanced(t, testRegistry(t, registryOptions{}), "round_robin", 1, 1)
	tg := u.Targets()[0]
	n := testing.AllocsPerRun(1000, func() {
		tr, err := tg.Begin()
		if err != nil {
			t.Fatal(err)
		}
		tr.Done(Outcome{Status: 200})
	})
	if n != 0 {
		t.Fatalf("Begin+Done without a breaker allocates %v times", n)
	}
}

func TestPickWithClosedBreakerAllocatesNothing(t *testing.T) {
	_, u := guarded(t, testRegistry(t, registryOptions{}), testBreaker(), nil, "127.0.0.1:1", "127.0.0.1:2")
	if n := testing.AllocsPerRun(1000, func() { _, _ = u.Pick(0, nil) }); n != 0 {
		t.Fatalf("Pick with closed breakers allocates %v times", n)
	}
}
