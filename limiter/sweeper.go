package limiter

import "time"

// sweeper is the Limiter's background goroutine: every SweepInterval it
// drops idle caller buckets and has idle Redis leases give tokens back.
// It is owned by the Limiter and stopped (and waited for) by Close.
func (l *Limiter) sweeper() {
	defer l.wg.Done()
	t := time.NewTicker(l.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.safeSweep()
		}
	}
}

// safeSweep runs Sweep, logging a panic instead of dying.
func (l *Limiter) safeSweep() {
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("limiter: sweep panicked", "panic", r)
		}
	}()
	l.Sweep()
}

// Sweep drops the buckets of callers not named in clients: that are full
// (idle long enough to have refilled) and hold no concurrency slot or
// lease; with Redis, idle leases give their unused tokens back first. It
// returns the number of buckets dropped. The sweeper calls it; tests may.
func (l *Limiter) Sweep() int {
	now := l.nowNs()
	var st *redisStore
	if sn := l.snap.Load(); sn != nil {
		st = sn.store
	}
	wall := now + l.wallNs
	gone := func(s *slot) bool {
		if !s.full(now) || s.inflight != 0 {
			return false
		}
		if st == nil && s.quotaLive(wall) {
			return false // the local quota count lives only here
		}
		if st != nil && s.lease != nil {
			return st.reclaim(s.lease, now)
		}
		return s.lease.idle()
	}
	n := l.ips.sweep(gone) + l.ids.sweep(gone)
	if st != nil {
		l.reclaimNamed(st, now)
	}
	return n
}

// reclaimNamed has named clients' idle leases give tokens back.
func (l *Limiter) reclaimNamed(st *redisStore, now int64) {
	sn := l.snap.Load()
	for _, cs := range [...]map[string]*client{sn.named, sn.plans} {
		for _, c := range cs {
			if c.base.bucket == nil {
				continue
			}
			l.reclaimPolicy(st, c.base, now)
			for _, p := range c.routes {
				l.reclaimPolicy(st, p, now)
			}
		}
	}
}

// reclaimPolicy has one named bucket's idle lease give tokens back.
func (l *Limiter) reclaimPolicy(st *redisStore, p *policy, now int64) {
	p.bucket.mu.Lock()
	ls := p.bucket.s.lease
	p.bucket.mu.Unlock()
	if ls != nil {
		st.reclaim(ls, now)
	}
}

// evicted is the tables' eviction hook: a dropped lease reports what it
// holds or owes to the current store.
func (l *Limiter) evicted(ls *lease) {
	if sn := l.snap.Load(); sn != nil && sn.store != nil {
		sn.store.evicted(ls)
	}
}
