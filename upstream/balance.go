package upstream

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"tollgate/conf"
)

// balancer chooses one eligible target of u, or nil if none is eligible.
// Implementations allocate nothing.
type balancer interface {
	pick(u *Upstream, hashKey uint64, exclude []*Target) *Target
}

// newBalancer returns the balancer for a normalised policy name.
func newBalancer(policy string, n int) balancer {
	switch policy {
	case conf.BalanceLeastConn:
		return &leastConn{}
	case conf.BalanceRandom:
		return randomBalancer{}
	case conf.BalanceHash:
		return rendezvous{}
	default:
		return &smoothRoundRobin{current: make([]int64, n)}
	}
}

// smoothRoundRobin is nginx's smooth weighted round robin: each pick adds
// every eligible target's weight to its current score, takes the highest and
// subtracts the eligible total from it. Weights {5,1,1} give a a b a c a a.
// Excluded and unusable targets take no part in the round.
type smoothRoundRobin struct {
	mu      sync.Mutex
	current []int64
}

func (b *smoothRoundRobin) pick(u *Upstream, _ uint64, exclude []*Target) *Target {
	b.mu.Lock()
	defer b.mu.Unlock()
	best, total := -1, int64(0)
	for i, t := range u.targets {
		if !eligible(t, exclude) {
			continue
		}
		b.current[i] += u.weights[i]
		total += u.weights[i]
		if best < 0 || b.current[i] > b.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b.current[best] -= total
	return u.targets[best]
}

// leastConn picks the target with the fewest active connections per unit of
// weight. The scan starts one place further on each call, so ties go round
// robin.
type leastConn struct {
	next atomic.Uint64
}

func (b *leastConn) pick(u *Upstream, _ uint64, exclude []*Target) *Target {
	n := uint64(len(u.targets))
	start := b.next.Add(1)
	best, bestActive := -1, int64(0)
	for k := range n {
		i := int((start + k) % n)
		t := u.targets[i]
		if !eligible(t, exclude) {
			continue
		}
		a := t.active.Load()
		// a/w < bestActive/bestW, without division.
		if best < 0 || a*u.weights[best] < bestActive*u.weights[i] {
			best, bestActive = i, a
		}
	}
	if best < 0 {
		return nil
	}
	return u.targets[best]
}

// randomBalancer picks an eligible target with probability proportional to
// its weight, from the runtime's per-thread generator (no lock).
type randomBalancer struct{}

func (randomBalancer) pick(u *Upstream, _ uint64, exclude []*Target) *Target {
	var total int64
	for i, t := range u.targets {
		if eligible(t, exclude) {
			total += u.weights[i]
		}
	}
	if total == 0 {
		return nil
	}
	r := rand.Int64N(total)
	for i, t := range u.targets {
		if !eligible(t, exclude) {
			continue
		}
		if r < u.weights[i] {
			return t
		}
		r -= u.weights[i]
	}
	return nil // unreachable unless eligibility changed mid-pick
}

// rendezvous is weighted highest-random-weight hashing: each target scores
// the key as -w/ln(u), u uniform in (0,1) from hash(key, target address); the
// highest score wins. A key only moves when its own target goes away (or
// becomes ineligible), and then to its second choice; each target receives a
// share of keys proportional to its weight.
type rendezvous struct{}

func (rendezvous) pick(u *Upstream, hashKey uint64, exclude []*Target) *Target {
	key := mix64(hashKey)
	var best *Target
	bestScore := math.Inf(-1)
	for i, t := range u.targets {
		if !eligible(t, exclude) {
			continue
		}
		h := mix64(key ^ t.seed)
		unit := (float64(h>>11) + 0.5) / (1 << 53) // in (0,1)
		score := -float64(u.weights[i]) / math.Log(unit)
		if score > bestScore {
			best, bestScore = t, score
		}
	}
	return best
}

// mix64 is the splitmix64 finaliser: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// eligible reports whether t may be picked: usable and not already tried.
func eligible(t *Target, exclude []*Target) bool {
	if !t.usable() {
		return false
	}
	for _, x := range exclude {
		if x == t {
			return false
		}
	}
	return true
}
