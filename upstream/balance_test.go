package upstream

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"tollgate/conf"
)

// balanced applies one upstream "u" with the given policy and weighted
// targets (no server needed: Pick never dials).
func balanced(t testing.TB, r *Registry, policy string, weights ...int) *Upstream {
	t.Helper()
	u := &conf.Upstream{Balance: policy, Pool: defaultPool}
	for i, w := range weights {
		u.Targets = append(u.Targets, conf.Target{Addr: "127.0.0.1:" + strconv.Itoa(10000+i), Weight: w})
	}
	s, err := r.Apply(map[string]*conf.Upstream{"u": u})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(s.Release)
	return s.Get("u")
}

// counts picks n times and returns how often each target index was chosen.
func counts(t testing.TB, u *Upstream, n int, key func(i int) uint64) []int {
	t.Helper()
	index := map[*Target]int{}
	for i, tg := range u.Targets() {
		index[tg] = i
	}
	got := make([]int, len(u.Targets()))
	for i := range n {
		tg, err := u.Pick(key(i), nil)
		if err != nil {
			t.Fatalf("pick: %v", err)
		}
		got[index[tg]]++
	}
	return got
}

// assertShares checks that got is proportional to weights within tol
// (absolute difference of fractions).
func assertShares(t *testing.T, got []int, weights []int, tol float64) {
	t.Helper()
	var n, w int
	for i := range got {
		n += got[i]
		w += weights[i]
	}
	for i := range got {
		want, have := float64(weights[i])/float64(w), float64(got[i])/float64(n)
		if math.Abs(want-have) > tol {
			t.Fatalf("target %d got share %.3f, want %.3f±%.3f (counts %v)", i, have, want, tol, got)
		}
	}
}

func TestRoundRobinIsSmoothAndWeighted(t *testing.T) {
	u := balanced(t, testRegistry(t, registryOptions{}), conf.BalanceRoundRobin, 5, 1, 1)
	var seq strings.Builder
	for range 7 {
		tg, _ := u.Pick(0, nil)
		seq.WriteByte("abc"[indexOf(u, tg)])
	}
	if seq.String() != "aabacaa" {
		t.Fatalf("sequence %q, want nginx's aabacaa", seq.String())
	}
	u = balanced(t, testRegistry(t, registryOptions{}), "", 1, 2, 3)
	got := counts(t, u, 600, func(int) uint64 { return 0 })
	if got[0] != 100 || got[1] != 200 || got[2] != 300 {
		t.Fatalf("600 picks with weights 1,2,3 gave %v, want exactly 100,200,300", got)
	}
}

func TestRandomIsWeighted(t *testing.T) {
	weights := []int{1, 2, 3, 4}
	u := balanced(t, testRegistry(t, registryOptions{}), conf.BalanceRandom, weights...)
	assertShares(t, counts(t, u, 100000, func(int) uint64 { return 0 }), weights, 0.01)
}

func TestHashIsWeightedAndStable(t *testing.T) {
	weights := []int{1, 2, 3, 4}
	reg := testRegistry(t, registryOptions{})
	u := balanced(t, reg, conf.BalanceHash, weights...)
	key := func(i int) uint64 { return HashString("client-" + strconv.Itoa(i)) }
	assertShares(t, counts(t, u, 100000, func(i int) uint64 { return uint64(i) }), weights, 0.01)

	// Same key, same target, every time.
	for i := range 1000 {
		a, _ := u.Pick(key(i), nil)
		b, _ := u.Pick(key(i), nil)
		if a != b {
			t.Fatalf("key %d moved between picks", i)
		}
	}

	// Remove target 2: only its own keys move.
	cut := &conf.Upstream{Balance: conf.BalanceHash, Pool: defaultPool}
	for i, tg := range u.Targets() {
		if i != 2 {
			cut.Targets = append(cut.Targets, conf.Target{Addr: tg.Addr, Weight: weights[i]})
		}
	}
	s, err := reg.Apply(map[string]*conf.Upstream{"u": cut})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	u2 := s.Get("u")
	moved := 0
	for i := range 10000 {
		before, _ := u.Pick(key(i), nil)
		after, _ := u2.Pick(key(i), nil)
		if before.Addr != u.Targets()[2].Addr && before.Addr != after.Addr {
			t.Fatalf("key %d moved from %s to %s though its target stayed", i, before.Addr, after.Addr)
		}
		if before.Addr != after.Addr {
			moved++
		}
	}
	if share := float64(moved) / 10000; math.Abs(share-0.3) > 0.03 {
		t.Fatalf("%.3f of keys moved, want about the removed target's 0.3", share)
	}
}

func TestHashFallsBackToSecondChoice(t *testing.T) {
	u := balanced(t, testRegistry(t, registryOptions{}), conf.BalanceHash, 1, 1, 1, 1)
	for i := range 100 {
		first, _ := u.Pick(uint64(i), nil)
		second, _ := u.Pick(uint64(i), []*Target{first})
		again, _ := u.Pick(uint64(i), []*Target{first})
		if second == first || second != again {
			t.Fatalf("key %d: retry target %p (again %p), first %p", i, second, again, first)
		}
	}
}

func TestLeastConnPrefersFewestActivePerWeight(t *testing.T) {
	a, b := newServer(t), newServer(t)
	reg := testRegistry(t, registryOptions{})
	c := &conf.Upstream{Balance: conf.BalanceLeastConn, Pool: defaultPool,
		Targets: []conf.Target{{Addr: a.addr, Weight: 1}, {Addr: b.addr, Weight: 1}}}
	s, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	u := s.Get("u")
	ta, tb := u.Targets()[0], u.Targets()[1]

	// No load: ties go round robin.
	got := counts(t, u, 100, func(int) uint64 { return 0 })
	if got[0] != 50 || got[1] != 50 {
		t.Fatalf("idle least_conn picks %v, want 50/50", got)
	}

	held := []*Conn{mustAcquire(t, ta)}
	for range 10 {
		if tg, _ := u.Pick(0, nil); tg != tb {
			t.Fatalf("picked %s with 1 active over %s with 0", tg.Addr, tb.Addr)
		}
	}
	held = append(held, mustAcquire(t, tb), mustAcquire(t, tb))
	if tg, _ := u.Pick(0, nil); tg != ta {
		t.Fatalf("picked %s (2 active) over %s (1 active)", tg.Addr, ta.Addr)
	}
	for _, h := range held {
		h.Release()
	}
}

func TestLeastConnHonoursWeight(t *testing.T) {
	a, b := newServer(t), newServer(t)
	reg := testRegistry(t, registryOptions{})
	c := &conf.Upstream{Balance: conf.BalanceLeastConn, Pool: defaultPool,
		Targets: []conf.Target{{Addr: a.addr, Weight: 3}, {Addr: b.addr, Weight: 1}}}
	s, err := reg.Apply(map[string]*conf.Upstream{"u": c})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	u := s.Get("u")
	ta, tb := u.Targets()[0], u.Targets()[1]
	held := []*Conn{mustAcquire(t, ta), mustAcquire(t, ta), mustAcquire(t, tb)}
	defer func() {
		for _, h := range held {
			h.Release()
		}
	}()
	if tg, _ := u.Pick(0, nil); tg != ta { // 2/3 < 1/1
		t.Fatalf("picked %s, want the weight-3 target with 2 active", tg.Addr)
	}
}

func TestPickSkipsExcludedAndUnhealthy(t *testing.T) {
	for _, policy := range []string{conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceRandom, conf.BalanceHash} {
		t.Run(policy, func(t *testing.T) {
			u := balanced(t, testRegistry(t, registryOptions{}), policy, 1, 5, 1)
			ts := u.Targets()
			ts[2].SetHealthy(false)
			for i := range 50 {
				tg, err := u.Pick(uint64(i), []*Target{ts[1]})
				if err != nil || tg != ts[0] {
					t.Fatalf("pick = %v, %v; want the only eligible target", tg, err)
				}
			}
			_, err := u.Pick(1, []*Target{ts[0], ts[1]})
			if !errors.Is(err, ErrNoTarget) || !strings.Contains(err.Error(), `"u"`) {
				t.Fatalf("all ineligible: %v, want ErrNoTarget naming the upstream", err)
			}
			ts[2].SetHealthy(true)
			if tg, _ := u.Pick(1, []*Target{ts[0], ts[1]}); tg != ts[2] {
				t.Fatal("a target marked healthy again is not picked")
			}
		})
	}
}

func indexOf(u *Upstream, tg *Target) int {
	for i, x := range u.Targets() {
		if x == tg {
			return i
		}
	}
	return -1
}
