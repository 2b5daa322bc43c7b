package upstream

import (
	"sync"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

func TestRetryBudgetRatioAndFloor(t *testing.T) {
	clock := testkit.NewClock(testkit.Epoch)
	b := newRetryBudget(clock.Now)
	// No traffic: the floor alone.
	for i := range budgetFloor {
		if !b.allowRetry() {
			t.Fatalf("retry %d refused within the floor", i)
		}
	}
	if b.allowRetry() {
		t.Fatal("retry beyond the floor allowed with no requests")
	}
	// 100 requests: 20% more.
	for range 100 {
		b.countRequest()
	}
	allowed := 0
	for range 100 {
		if b.allowRetry() {
			allowed++
		}
	}
	if allowed != 20 {
		t.Fatalf("%d retries allowed after 100 requests, want 20 (floor already spent)", allowed)
	}
}

func TestRetryBudgetSlides(t *testing.T) {
	clock := testkit.NewClock(testkit.Epoch)
	b := newRetryBudget(clock.Now)
	// 50 requests a second for 10 s: 500 in the window → 100 + floor.
	for range 10 {
		for range 50 {
			b.countRequest()
		}
		clock.Advance(time.Second)
	}
	clock.Advance(-time.Second) // still inside the 10th second
	allowed := 0
	for range 200 {
		if b.allowRetry() {
			allowed++
		}
	}
	if want := int(budgetRatio*500) + budgetFloor; allowed != want {
		t.Fatalf("%d retries allowed, want %d", allowed, want)
	}
	// Five seconds later half the requests have left the window, and all
	// the retries (made in the last second) are still in it.
	clock.Advance(5 * time.Second)
	if b.allowRetry() {
		t.Fatal("retry allowed while over budget")
	}
	// Ten seconds on, the window is empty again: the floor.
	clock.Advance(10 * time.Second)
	allowed = 0
	for range 20 {
		if b.allowRetry() {
			allowed++
		}
	}
	if allowed != budgetFloor {
		t.Fatalf("%d retries after the window emptied, want the floor %d", allowed, budgetFloor)
	}
}

func TestRetryBudgetConcurrentNeverOvershoots(t *testing.T) {
	clock := testkit.NewClock(testkit.Epoch)
	b := newRetryBudget(clock.Now)
	for range 1000 {
		b.countRequest()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for range 200 {
				if b.allowRetry() {
					n++
				}
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if want := int(budgetRatio*1000) + budgetFloor; allowed != want {
		t.Fatalf("%d retries allowed by concurrent callers, want exactly %d", allowed, want)
	}
}

func TestUpstreamBudgetFollowsAttemptsAndSurvivesReload(t *testing.T) {
	clock := testkit.NewClock(testkit.Epoch)
	reg := testRegistry(t, registryOptions{now: clock.Now})
	c := poolConf(defaultPool, "127.0.0.1:1")
	s0, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Release()
	if u := s0.Get("u"); u.AllowRetry() {
		t.Fatal("retry allowed with retries.attempts 0")
	} else {
		u.CountRequest() // no budget: a no-op
	}

	c1 := poolConf(defaultPool, "127.0.0.1:1")
	c1.Retries.Attempts = 1
	s1, err := reg.Apply(map[string]*conf.Upstream{"u": c1})
	if err != nil {
		t.Fatal(err)
	}
	for range budgetFloor {
		if !s1.Get("u").AllowRetry() {
			t.Fatal("floor refused")
		}
	}
	s2, err := reg.Apply(map[string]*conf.Upstream{"u": c1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Release()
	s1.Release()
	if s2.Get("u").AllowRetry() {
		t.Fatal("a reload reset the retry budget")
	}
}

func TestCountRequestAllocatesNothing(t *testing.T) {
	b := newRetryBudget(time.Now)
	if n := testing.AllocsPerRun(1000, func() { b.countRequest(); b.allowRetry() }); n != 0 {
		t.Fatalf("budget allocates %v times", n)
	}
}
