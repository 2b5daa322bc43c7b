package limiter

import (
	"sync"
)

// ghostSlots is the size of each shard's summary of recently evicted,
// still-spent buckets.
const ghostSlots = 64

// sampleSize is how many entries an eviction looks at.
const sampleSize = 8

// table holds the buckets of callers not named in clients: (anonymous IPs
// and unlisted client ids), sharded so that cores do not contend, bounded
// by a per-shard capacity.
//
// What happens at the cap: a new key first evicts a bucket that is full
// (which loses nothing: a full bucket and a missing one are the same). If
// the sampled buckets are all spent — every tracked caller is hammering —
// the most refilled one is evicted and the instant it would have been full
// again is written into the shard's ghost summary, indexed by the key's
// hash. A key created while its ghost entry lies in the future starts with
// that debt, so an evicted caller that comes back while still hammering
// does not get a full bucket. Ghost collisions keep the larger debt, which
// errs on the side of the quota; the debt expires at the refill rate.
type table[K comparable] struct {
	hash   func(K) uint64
	shards []shard[K]
	mask   uint64
	// onEvict is told about buckets dropped while holding a lease, so the
	// Redis store can report what they owe. May be nil.
	onEvict func(*lease)
}

// shard is one lock's worth of the table: a map from key to an index in a
// slab of slots, with a free list.
type shard[K comparable] struct {
	mu    sync.Mutex
	m     map[K]uint32
	slots []slot
	free  []uint32
	limit int
	ghost [ghostSlots]int64
	_     [64]byte // keeps neighbouring shards' locks off one cache line
}

// newTable returns a table of n shards (a power of two).
func newTable[K comparable](n int, hash func(K) uint64) *table[K] {
	t := &table[K]{hash: hash, shards: make([]shard[K], n), mask: uint64(n - 1)}
	for i := range t.shards {
		t.shards[i].m = make(map[K]uint32)
		t.shards[i].limit = 1
	}
	return t
}

// setLimit bounds the table to keys: each shard holds at most
// keys/shards (and at least one, so the bound is never below the shard
// count).
func (t *table[K]) setLimit(keys int) {
	per := max(1, keys/len(t.shards))
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.limit = per
		sh.mu.Unlock()
	}
}

// lock returns k's slot with its shard locked, creating the slot (with
// the given quota) when absent. The caller must unlock the shard.
func (t *table[K]) lock(k K, now int64, rate, burst float64) (*shard[K], *slot) {
	h := t.hash(k)
	sh := &t.shards[h&t.mask]
	sh.mu.Lock()
	if i, ok := sh.m[k]; ok {
		return sh, &sh.slots[i]
	}
	i := t.insert(sh, k, h, now, rate, burst)
	return sh, &sh.slots[i]
}

// find returns k's slot with its shard locked, or nil (shard unlocked).
func (t *table[K]) find(k K) (*shard[K], *slot) {
	sh := &t.shards[t.hash(k)&t.mask]
	sh.mu.Lock()
	if i, ok := sh.m[k]; ok {
		return sh, &sh.slots[i]
	}
	sh.mu.Unlock()
	return nil, nil
}

// insert adds k to a locked shard, evicting first when it is at its cap,
// and seeds the new bucket from the ghost summary.
func (t *table[K]) insert(sh *shard[K], k K, h uint64, now int64, rate, burst float64) uint32 {
	if len(sh.m) >= sh.limit {
		t.evictOne(sh, now)
	}
	s := slot{rate: float32(rate), burst: float32(burst)}
	if g := sh.ghost[ghostIndex(h)]; g > now {
		s.fullAt = g
	}
	var i uint32
	if n := len(sh.free); n > 0 {
		i = sh.free[n-1]
		sh.free = sh.free[:n-1]
		sh.slots[i] = s
	} else {
		i = uint32(len(sh.slots))
		sh.slots = append(sh.slots, s)
	}
	sh.m[k] = i
	return i
}

// evictOne drops one key of a locked shard: a full idle bucket if the
// sample holds one, else the most refilled one without a request in
// flight, remembered as a ghost; none when all sampled are in flight.
func (t *table[K]) evictOne(sh *shard[K], now int64) {
	var victim K
	var vi uint32
	found := false
	n := 0
	for k, i := range sh.m {
		s := &sh.slots[i]
		if s.full(now) && s.inflight == 0 && s.lease.idle() {
			t.remove(sh, k, i)
			return
		}
		if s.inflight == 0 && (!found || better(s, &sh.slots[vi])) {
			victim, vi, found = k, i, true
		}
		if n++; n >= sampleSize {
			break
		}
	}
	if !found {
		// Every sampled caller has requests in flight: evicting one would
		// lose its concurrency count, so the shard goes over its cap for
		// now (bounded by the requests in flight).
		return
	}
	g := &sh.ghost[ghostIndex(t.hash(victim))]
	*g = max(*g, sh.slots[vi].fullAt)
	t.remove(sh, victim, vi)
}

// better reports whether a is a better eviction victim than b (neither
// has a request in flight): the most refilled.
func better(a, b *slot) bool { return a.fullAt < b.fullAt }

// remove deletes k (at slab index i) from a locked shard.
func (t *table[K]) remove(sh *shard[K], k K, i uint32) {
	if l := sh.slots[i].lease; l != nil && t.onEvict != nil {
		t.onEvict(l)
	}
	delete(sh.m, k)
	sh.slots[i] = slot{}
	sh.free = append(sh.free, i)
}

// sweep drops every bucket gone says may go (full, no concurrency slot,
// no lease state): idle callers expire. It locks one shard at a time.
func (t *table[K]) sweep(gone func(*slot) bool) (removed int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, j := range sh.m {
			if gone(&sh.slots[j]) {
				t.remove(sh, k, j)
				removed++
			}
		}
		sh.mu.Unlock()
	}
	return removed
}

// each calls fn for every slot, one shard locked at a time.
func (t *table[K]) each(fn func(*slot)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, j := range sh.m {
			fn(&sh.slots[j])
		}
		sh.mu.Unlock()
	}
}

// eachEntry calls fn with every key and its slot, one shard locked at a
// time; fn returning false stops the walk.
func (t *table[K]) eachEntry(fn func(K, *slot) bool) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, j := range sh.m {
			if !fn(k, &sh.slots[j]) {
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}

// len returns the number of tracked keys.
func (t *table[K]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// ghostIndex maps a key hash to a ghost slot, using bits the shard index
// does not.
func ghostIndex(h uint64) int { return int((h >> 32) % ghostSlots) }
