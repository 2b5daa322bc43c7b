package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// cacheShards spreads the cache over independently locked maps.
	cacheShards = 32
	// evictScan is how many entries a full shard looks at to make room.
	evictScan = 16
)

// cacheEntry is one remembered verdict: an identity, or a refusal to
// repeat (introspection's inactive tokens). until is in Unix nanoseconds.
type cacheEntry struct {
	id    Identity
	fail  *Error
	until int64
	gen   uint64
}

// tokenCache maps a token's SHA-256 to a verdict until the verdict
// expires. It is bounded: a full shard drops expired entries it finds in a
// short scan, or else a random one. Entries carry the key generation they
// were verified under; invalidate makes all older entries misses (a JWKS
// whose keys changed). A nil *tokenCache is a disabled cache.
type tokenCache struct {
	shards   [cacheShards]cacheShard
	perShard int
	gen      atomic.Uint64
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]cacheEntry
}

// newTokenCache returns a cache of about size entries, or nil when size
// is not positive.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	c := &tokenCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]cacheEntry)
	}
	return c
}

// generation is the current key generation, to stamp new entries with.
func (c *tokenCache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// invalidate makes every existing entry a miss.
func (c *tokenCache) invalidate() {
	if c != nil {
		c.gen.Add(1)
	}
}

// get returns the live entry for key.
func (c *tokenCache) get(key [32]byte, now time.Time) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	s := &c.shards[key[0]%cacheShards]
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || now.UnixNano() >= e.until || e.gen != c.gen.Load() {
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e under key, making room when the shard is full.
func (c *tokenCache) put(key [32]byte, e cacheEntry, now time.Time) {
	if c == nil || now.UnixNano() >= e.until {
		return
	}
	s := &c.shards[key[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.perShard {
		s.evict(now.UnixNano(), c.gen.Load())
	}
	s.m[key] = e
}

// evict removes the dead entries among the first evictScan (random order
// of map iteration) or, when all of those are alive, one of them.
func (s *cacheShard) evict(now int64, gen uint64) {
	var victim [32]byte
	n, removed := 0, false
	for k, e := range s.m {
		if now >= e.until || e.gen != gen {
			delete(s.m, k)
			removed = true
		} else if n == 0 {
			victim = k
		}
		if n++; n >= evictScan {
			break
		}
	}
	if !removed {
		delete(s.m, victim)
	}
}

// len returns the number of stored entries, live or not (for tests).
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
