package auth

import (
	"testing"
	"time"
)

func TestTokenCacheBoundedAndExpiring(t *testing.T) {
	c := newTokenCache(64)
	now := testEpoch
	until := now.Add(time.Minute).UnixNano()
	for i := range 1000 {
		var k [32]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), 1
		c.put(k, cacheEntry{id: Identity{ClientID: "c"}, until: until}, now)
	}
	if n := c.len(); n > 64 {
		t.Fatalf("cache of 64 holds %d entries", n)
	}
	var k [32]byte
	c.put(k, cacheEntry{until: until}, now)
	if _, ok := c.get(k, now); !ok {
		t.Fatal("fresh entry missing")
	}
	if _, ok := c.get(k, now.Add(time.Minute)); ok {
		t.Fatal("expired entry returned")
	}
	c.invalidate()
	if _, ok := c.get(k, now); ok {
		t.Fatal("entry of an old generation returned")
	}
	c.put(k, cacheEntry{until: now.UnixNano()}, now)
	if _, ok := c.get(k, now); ok {
		t.Fatal("already-expired entry stored")
	}
	var nilCache *tokenCache
	nilCache.put(k, cacheEntry{until: until}, now)
	if _, ok := nilCache.get(k, now); ok || nilCache.len() != 0 {
		t.Fatal("nil cache stored something")
	}
}
