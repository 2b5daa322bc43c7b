package limiter

// meter carries what one Allow needs once the policy is known.
type meter struct {
	sn   *snapshot
	p    *policy
	rate float64 // effective refill rate (adaptive factor applied)
	now  int64
}

// tableKey is a caller key that can name its Redis bucket.
type tableKey interface {
	comparable
	bucketID(p *policy) string
}

// bucketID names an anonymous caller's global bucket.
func (k ipKey) bucketID(p *policy) string {
	return "a:" + p.name + ":" + ipOf(k).String()
}

// bucketID names an unlisted client's global bucket.
func (k idKey) bucketID(p *policy) string { return "u:" + p.name + ":" + k.id }

// allowTracked decides for a caller not named in clients:, under its
// shard's lock.
func allowTracked[K tableKey](m *meter, t *table[K], k K, c *client) Decision {
	sh, s := t.lock(k, m.now, m.rate, m.p.burst)
	if st := m.sn.store; st != nil && s.lease == nil && st.up.Load() {
		s.lease = st.newLease(k.bucketID(m.p), m.now, m.rate, m.p.burst)
	}
	d := m.decide(s, s.slotFree(c.concurrency))
	if c.concurrency > 0 && d.Allowed {
		s.inflight++
		d.Acquired = true
	}
	sh.mu.Unlock()
	return d
}

// allowNamed decides for a named client: its concurrency counter first
// (atomic), then its bucket under the bucket's own lock.
func (m *meter) allowNamed(c *client) Decision {
	held, free := false, true
	if c.concurrency > 0 {
		free = c.state.tryAcquire(c.concurrency, m.p.shadow)
		held = free || m.p.shadow
	}
	b := m.p.bucket
	b.mu.Lock()
	if st := m.sn.store; st != nil && b.s.lease == nil && st.up.Load() {
		b.s.lease = st.newLease("c:"+m.p.name, m.now, m.rate, m.p.burst)
	}
	d := m.decide(&b.s, free)
	b.mu.Unlock()
	if held && !d.Allowed {
		c.state.release()
		held = false
	}
	d.Acquired = held
	return d
}

// decide combines the bucket and the concurrency bound. A token is taken
// only when the request passes: refused by concurrency, it keeps its
// tokens; in shadow mode it takes one if there is one.
func (m *meter) decide(s *slot, concFree bool) Decision {
	v, reason := m.check(s, concFree || m.p.shadow)
	d := Decision{Allowed: true}
	d.fill(m.p, v, m.rate)
	switch {
	case !concFree:
		d.refuse(ReasonConcurrency, 1e9)
	case !v.ok:
		d.refuse(reason, v.retryNs)
	}
	return d
}

// check consults the bucket behind s: the local slot, the Redis lease, or
// on_failure while Redis is unreachable (local: per-instance buckets of
// quota ÷ instances seen). reason is set for a refusal.
func (m *meter) check(s *slot, commit bool) (v verdict, reason string) {
	st := m.sn.store
	if st == nil {
		return s.take(m.now, m.rate, m.p.burst, commit), ReasonRate
	}
	if st.up.Load() && s.lease != nil {
		v, ask := s.lease.take(m.now, m.rate, m.p.burst, st.want(m.rate, m.p.burst), st.credit(m.rate, m.p.burst), commit)
		if ask {
			st.enqueue(s.lease)
		}
		return v, ReasonRate
	}
	switch st.failMode() {
	case FailAllow:
		return verdict{ok: true, remaining: m.p.limit}, ""
	case FailDeny:
		return verdict{retryNs: 1e9}, ReasonStore
	}
	n := float64(st.instances.Load())
	return s.take(m.now, m.rate/n, max(1, m.p.burst/n), commit), ReasonRate
}
