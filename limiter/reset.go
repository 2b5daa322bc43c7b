package limiter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// Reset refills every bucket of one caller, as an operator's "give this
// client its quota back" (POST /clients/{id}/reset): the buckets of a
// client named in clients: (base and per-route), or those an unlisted
// client id or an anonymous address holds. Each local bucket becomes
// full, this instance's Redis lease is dropped with what it held and
// owed, and with the Redis store the shared bucket is deleted, which
// Redis reads as full. Other instances keep the tokens they already
// leased (a batch at most); a sync already under way may still charge
// the tokens it carries. In-flight counts are left alone: those requests
// are real. It returns how many buckets were reset: 0 for a caller that
// is neither named nor tracked (its bucket is full already).
func (l *Limiter) Reset(ctx context.Context, id string) (int, error) {
	sn := l.snap.Load()
	if sn == nil || id == "" {
		return 0, nil
	}
	var ids []string // shared bucket ids to delete
	n := 0
	if c, named := sn.named[id]; named {
		for _, p := range c.policies() {
			p.bucket.mu.Lock()
			refill(&p.bucket.s)
			p.bucket.mu.Unlock()
			ids = append(ids, "c:"+p.name)
			n++
		}
	} else {
		ids, n = l.resetTracked(sn.deflt, id)
	}
	if st := sn.store; st != nil && n > 0 {
		if err := st.deleteBuckets(ctx, ids); err != nil {
			return n, fmt.Errorf("limiter: local buckets reset, shared ones not: %w", err)
		}
	}
	return n, nil
}

// resetTracked refills the buckets an unlisted caller holds (by address
// when id parses as one, else by client id) and returns their shared
// bucket ids.
func (l *Limiter) resetTracked(c *client, id string) (ids []string, n int) {
	addr, err := netip.ParseAddr(id)
	for _, p := range c.policies() {
		var ok bool
		if err == nil {
			k := keyOfAddr(addr, p.route)
			ok = refillTracked(l.ips, k)
			ids = append(ids, k.bucketID(p))
		} else {
			k := idKey{id: id, pol: p.route}
			ok = refillTracked(l.ids, k)
			ids = append(ids, k.bucketID(p))
		}
		if ok {
			n++
		}
	}
	if n == 0 {
		return nil, 0
	}
	return ids, n
}

// refillTracked refills k's bucket if the table holds one.
func refillTracked[K comparable](t *table[K], k K) bool {
	sh, s := t.find(k)
	if s == nil {
		return false
	}
	refill(s)
	sh.mu.Unlock()
	return true
}

// refill makes a locked bucket full and drops its lease.
func refill(s *slot) {
	s.fullAt = 0
	if s.lease != nil {
		s.lease.abandon()
		s.lease = nil
	}
}

// abandon empties a lease that its bucket no longer points at: if a sync
// still holds it queued, it reports nothing and asks for nothing.
func (ls *lease) abandon() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.avail, ls.pend, ls.owed, ls.returned = 0, 0, 0, false
	ls.lastUse = math.MinInt64
}

// deleteBuckets deletes shared buckets (one DEL each: on Redis Cluster
// they may live in different slots).
func (st *redisStore) deleteBuckets(ctx context.Context, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, usageTimeout)
	defer cancel()
	var errs []error
	for _, id := range ids {
		if err := st.client.Del(ctx, st.key(id)).Err(); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", st.key(id), err))
		}
	}
	return errors.Join(errs...)
}
