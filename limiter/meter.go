package limiter

// meter carries what one Allow needs once the policy is known.
type meter struct {
	sn   *snapshot
	p    *policy
	rate float64 // effective refill rate (adaptive factor applied)
	now  int64
	wall int64   // Unix ns, for quota periods
	cost int64   // tokens (and quota units) the request takes
	qw   *window // the quota's current period; nil without a quota
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

// bucketID names an unlisted client's (or a tenant's) global bucket.
func (k idKey) bucketID(p *policy) string {
	if k.plan&tenantBit != 0 {
		return "t:" + p.name + ":" + k.id
	}
	return "u:" + p.name + ":" + k.id
}

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

// allowNamed decides for a named client (or a shared plan): its
// concurrency counter first (atomic), then its bucket under the bucket's
// own lock.
func (m *meter) allowNamed(c *client) Decision {
	held, free := false, true
	if c.concurrency > 0 {
		free = c.state.tryAcquire(c.concurrency, m.p.shadow)
		held = free || m.p.shadow
	}
	b := m.p.bucket
	b.mu.Lock()
	if st := m.sn.store; st != nil && b.s.lease == nil && st.up.Load() {
		b.s.lease = st.newLease("c:"+m.p.key, m.now, m.rate, m.p.burst)
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

// decide combines the bucket, the quota and the concurrency bound.
// Tokens and quota units are taken only when the request passes: refused
// by concurrency, it keeps them; in shadow mode it takes them if there
// are enough.
func (m *meter) decide(s *slot, concFree bool) Decision {
	v, qv, reason := m.check(s, concFree || m.p.shadow)
	d := Decision{Allowed: true}
	d.fill(m.p, v, m.rate)
	if m.p.q != nil {
		d.fillQuota(m.p.q, qv, m.qw)
	}
	switch {
	case !concFree:
		d.refuse(ReasonConcurrency, 1e9)
	case reason == ReasonQuota:
		d.refuse(reason, qv.resetNs)
	case !v.ok:
		d.refuse(reason, v.retryNs)
	}
	return d
}

// check consults the bucket and quota behind s: the local slot, the Redis
// lease, or on_failure while Redis is unreachable (local: per-instance
// buckets and quotas of quota ÷ instances seen). reason is set for a
// refusal.
func (m *meter) check(s *slot, commit bool) (v verdict, qv quotaVerdict, reason string) {
	st := m.sn.store
	if st == nil {
		return m.checkLocal(s, 1, commit)
	}
	if st.up.Load() && s.lease != nil {
		a := m.leaseAsk(st, commit)
		v, qv, ask := s.lease.take(&a)
		if ask {
			st.enqueue(s.lease)
		}
		return v, qv, verdictReason(v, qv, m.p.q != nil)
	}
	switch st.failMode() {
	case FailAllow:
		v = verdict{ok: true, remaining: m.p.limit}
		if q := m.p.q; q != nil {
			qv = quotaVerdict{ok: true, remaining: q.limit, resetNs: m.qw.end - m.wall}
		}
		return v, qv, ""
	case FailDeny:
		return verdict{retryNs: 1e9}, quotaVerdict{ok: true}, ReasonStore
	}
	n := float64(st.instances.Load())
	if s.lease != nil && m.p.q != nil {
		// The local share starts from what Redis last said was spent.
		if spent, ok := s.lease.quotaSpent(m.qw); ok {
			if s.qEnd != m.qw.end {
				s.qEnd, s.qUsed = m.qw.end, 0
			}
			s.qUsed = max(s.qUsed, int64(float64(spent)/n))
		}
	}
	v, qv, reason = m.checkLocal(s, n, commit)
	if v.ok && qv.ok && commit && s.lease != nil && m.p.q != nil {
		s.lease.oweQuota(m.qw, m.cost) // charged to Redis when it returns
	}
	return v, qv, reason
}

// checkLocal decides from the slot alone, with the quota divided over n
// instances (1 for the local store).
func (m *meter) checkLocal(s *slot, n float64, commit bool) (verdict, quotaVerdict, string) {
	q := m.p.q
	qv := quotaVerdict{ok: true}
	if q != nil {
		limit := max(1, int64(float64(q.limit)/n))
		qv = s.takeQuota(m.qw, m.wall, limit, m.cost, false)
		commit = commit && qv.ok
	}
	v := s.take(m.now, m.rate/n, max(1, m.p.burst/n), m.cost, commit)
	if q != nil && qv.ok && v.ok && commit {
		qv = s.takeQuota(m.qw, m.wall, max(1, int64(float64(q.limit)/n)), m.cost, true)
	}
	return v, qv, verdictReason(v, qv, q != nil)
}

// verdictReason names what refused a request: the quota first (its
// Retry-After is the longer), then the bucket.
func verdictReason(v verdict, qv quotaVerdict, hasQuota bool) string {
	switch {
	case hasQuota && !qv.ok:
		return ReasonQuota
	case !v.ok:
		return ReasonRate
	}
	return ""
}

// leaseAsk bundles what a lease needs to decide one request.
func (m *meter) leaseAsk(st *redisStore, commit bool) leaseAsk {
	a := leaseAsk{
		now: m.now, rate: m.rate, burst: m.p.burst, cost: m.cost, commit: commit,
		want: st.want(m.rate, m.p.burst), credit: st.credit(m.rate, m.p.burst),
	}
	if q := m.p.q; q != nil {
		a.q, a.qw, a.wall = q, m.qw, m.wall
		a.qwant = st.quotaWant(q.limit, m.rate)
		a.qcredit = max(1, min(a.qwant, int64(a.credit)))
		a.instances = st.instances.Load()
	}
	return a
}

// charge takes n more tokens and quota units from s after the answer.
func (m *meter) charge(s *slot, n int64) {
	st := m.sn.store
	if st != nil && st.up.Load() && s.lease != nil {
		s.lease.charge(m.qw, n)
		return
	}
	div := 1.0
	if st != nil {
		div = float64(st.instances.Load())
	}
	s.charge(m.now, m.rate/div, max(1, m.p.burst/div), n)
	if m.p.q != nil {
		s.chargeQuota(m.qw, n)
		if s.lease != nil {
			s.lease.oweQuota(m.qw, n)
		}
	}
}
