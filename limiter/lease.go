package limiter

import (
	"math"
	"sync"
)

// lease is one instance's share of a global (Redis) bucket: tokens leased
// in batches and spent locally, so that a request never waits for Redis.
//
// A batch is a reservation: Redis grants want tokens at once and says when
// they become usable (the instant the global bucket would have held them),
// so every grant is a real token of the global bucket and instances never
// over-admit together. Tokens spent before Redis was asked (the credit a
// new key starts with) and tokens given back by idle keys travel as owed
// in the next sync.
type lease struct {
	mu     sync.Mutex
	key    string // Redis key
	tag    int    // sync batch (hash tag)
	rate   float64
	burst  float64
	avail  float64 // usable now
	pend   float64 // reserved, usable from pendAt
	pendAt int64
	owed   float64 // spent (>0) or returned (<0), not yet reported
	global float64 // Redis bucket's tokens after our last sync
	// nextAsk delays the next request for tokens when Redis said the
	// bucket is too deep in reservations.
	nextAsk int64
	lastUse int64
	queued  bool // waiting in the store's sync queue
	// returned is set when an idle lease gave its tokens back: the key
	// comes back like a new one, with its credit, instead of being
	// refused until Redis answers.
	returned bool
	// q is the lease's share of the policy's quota counter (quota_lease.go).
	q leaseQuota
}

// leaseAsk is what a lease needs to decide one request.
type leaseAsk struct {
	now, wall    int64
	rate, burst  float64
	want, credit float64
	cost         int64
	commit       bool
	// q, qw, qwant and qcredit describe the quota; q is nil without one.
	q         *quotaPolicy
	qw        *window
	qwant     int64
	qcredit   int64
	instances int64
}

// take decides one request from the lease: its cost in tokens, and in
// quota units when the policy has a quota. a.commit false is a peek. ask
// reports that the lease wants Redis and was marked queued: the caller
// enqueues it once the lock is released. a.credit is what a key coming
// back after giving its tokens back may spend before Redis answers
// (charged at the next sync), as a new key would.
func (ls *lease) take(a *leaseAsk) (v verdict, qv quotaVerdict, ask bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	now, rate, burst := a.now, a.rate, a.burst
	ls.rate, ls.burst, ls.lastUse = rate, burst, now
	if ls.pend > 0 && now >= ls.pendAt {
		ls.avail += ls.pend
		ls.pend = 0
	}
	if ls.returned {
		ls.returned = false
		if ls.avail < 1 && ls.pend == 0 {
			ls.avail += a.credit
			ls.owed += a.credit
			if !ls.queued {
				ls.queued, ask = true, true
			}
		}
	}
	qv.ok = true
	if a.q != nil {
		qv = ls.q.check(a)
	}
	interval := 1e9 / rate
	cost := float64(a.cost)
	if ls.avail >= cost {
		v.ok = true
		if a.commit && qv.ok {
			ls.avail -= cost
			if a.q != nil {
				qv.remaining = ls.q.spend(a.cost)
			}
		}
	} else {
		v.retryNs = ls.retryNs(now, interval)
	}
	have := ls.avail + max(0, ls.global)
	v.remaining = int(math.Min(burst, math.Floor(have)))
	if have < burst {
		v.nextNs = int64(interval)
	}
	if !ls.queued && ls.pend == 0 && ls.avail < a.want/2 && now >= ls.nextAsk {
		ls.queued, ask = true, true
	}
	if !ls.queued && a.q != nil && ls.q.low() {
		ls.queued, ask = true, true
	}
	return v, qv, ask
}

// retryNs estimates when a refused caller may have a token again.
func (ls *lease) retryNs(now int64, interval float64) int64 {
	if ls.pend > 0 {
		return ls.pendAt - now
	}
	return max(ls.nextAsk-now, int64(interval))
}

// idle reports whether the lease holds nothing and owes nothing, so that
// its key may be forgotten. A nil lease is idle.
func (ls *lease) idle() bool {
	if ls == nil {
		return true
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return !ls.queued && ls.avail < 1 && ls.pend == 0 && ls.owed == 0 && ls.q.idle()
}

// giveBack turns the lease's unused tokens into a return for the next
// sync when it has not been used since before idleSince. It reports
// whether the lease must be queued.
func (ls *lease) giveBack(idleSince int64) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.lastUse >= idleSince || ls.queued {
		return false
	}
	ls.returned = true
	whole := math.Floor(ls.avail)
	ls.owed -= whole + ls.pend
	ls.avail -= whole
	ls.pend = 0
	ls.q.giveBack()
	if ls.owed == 0 && ls.q.owed == 0 {
		return false
	}
	ls.queued = true
	return true
}

// request is what one lease sends in a sync: tokens to charge (negative to
// give back) and how many to lease.
type request struct {
	ls     *lease
	rate   float64 // tokens per second
	burst  float64
	charge float64
	want   float64
	q      quotaRequest
}

// prepare moves the owed tokens into a request and decides the lease size:
// only a lease used since idleSince asks for more tokens.
func (ls *lease) prepare(idleSince int64, wantFor func(rate, burst float64) float64) request {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	r := request{ls: ls, rate: ls.rate, burst: ls.burst, charge: ls.owed}
	ls.owed = 0
	if w := wantFor(ls.rate, ls.burst); ls.pend == 0 && ls.avail < w/2 && ls.lastUse >= idleSince {
		r.want = w
	}
	r.q = ls.q.prepare(ls.lastUse >= idleSince)
	return r
}

// settle applies Redis's answer: granted tokens usable after waitMs, the
// bucket's tokens left, and the reservation horizon that was applied.
func (ls *lease) settle(now int64, r request, granted, waitMs int64, global float64, horizonMs int64, qgranted, qleft int64) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.queued = false
	ls.q.settle(r.q, qgranted, qleft)
	ls.global = global
	switch {
	case granted > 0 && waitMs <= 0:
		ls.avail += float64(granted)
	case granted > 0:
		ls.pend, ls.pendAt = float64(granted), now+waitMs*1e6
	case r.want > 0:
		ls.nextAsk = now + max(0, waitMs-horizonMs)*1e6
	}
}

// fail puts a request's charge back after a failed sync.
func (ls *lease) fail(r request) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.owed += r.charge
	ls.q.fail(r.q)
	ls.queued = false
}

// unqueue clears the queued mark of a lease dropped from a stopped queue.
func (ls *lease) unqueue() {
	ls.mu.Lock()
	ls.queued = false
	ls.mu.Unlock()
}
