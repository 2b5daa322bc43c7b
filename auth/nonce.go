package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// NonceStore remembers nonces across gateways (the limiter's Redis store).
// RememberOnce reports whether key is new; ok false means no shared store
// is configured now.
type NonceStore interface {
	RememberOnce(ctx context.Context, key string, ttl time.Duration) (fresh, ok bool, err error)
	Remote() bool
}

// errNonceCacheFull refuses a new nonce when the local cache is at its
// bound: memory stays bounded, and a replay is never let through.
var errNonceCacheFull = errors.New("nonce cache full")

// nonceCache remembers signature nonces for at least span, in two
// generations: a key is looked up in both, added to the current one, and
// every span the current generation becomes the previous one (dropping
// the older). Its size is bounded by max keys.
type nonceCache struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
	rotated   time.Time
	span      time.Duration
	max       int
	now       func() time.Time
}

func newNonceCache(span time.Duration, max int, now func() time.Time) *nonceCache {
	return &nonceCache{cur: map[string]struct{}{}, prev: map[string]struct{}{}, rotated: now(),
		span: span, max: max, now: now}
}

// configure applies a reloaded config's span and bound.
func (c *nonceCache) configure(span time.Duration, max int) {
	c.mu.Lock()
	c.span, c.max = max2(c.span, span), max
	c.mu.Unlock()
}

func max2(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// remember records key and reports whether it was new.
func (c *nonceCache) remember(key string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.rotated) >= c.span {
		c.prev, c.cur = c.cur, make(map[string]struct{}, len(c.cur))
		if now.Sub(c.rotated) >= 2*c.span {
			c.prev = map[string]struct{}{}
		}
		c.rotated = now
	}
	if _, ok := c.cur[key]; ok {
		return false, nil
	}
	if _, ok := c.prev[key]; ok {
		return false, nil
	}
	if len(c.cur)+len(c.prev) >= c.max {
		return false, errNonceCacheFull
	}
	c.cur[key] = struct{}{}
	return true, nil
}
