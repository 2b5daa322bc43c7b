package limiter

import "net/netip"

// Request is one request as the limiter sees it.
type Request struct {
	// ClientID is the verified client id; "" means anonymous (the caller
	// is keyed by ClientIP).
	ClientID string
	ClientIP netip.Addr
	// Plan and Tenant come from the caller's token or API key entry; a
	// client not named in clients: is metered by its plan (when one of
	// plans:) and, with a tenant, shares one bucket with its tenant.
	Plan   string
	Tenant string
	// Route is the route name (for per-route overrides); Upstream the
	// route's upstream (for the adaptive factor).
	Route    string
	Upstream string
	// Cost is the tokens and quota units the request takes (< 1 means 1).
	Cost int
}

// subject is who a request is metered as: the compiled client, the
// policy for its route, and where its bucket lives.
type subject struct {
	c    *client
	p    *policy
	own  bool  // the client's (or shared plan's) own buckets
	anon bool  // keyed by client IP
	key  idKey // the key in the ids table otherwise
}

// subject resolves a request: a named client; else a plan (from the
// token) that exists in this snapshot, shared or per member (or tenant);
// else the default, per client id (or tenant), or per IP when anonymous.
// It does not allocate.
func (sn *snapshot) subject(r *Request) subject {
	if r.ClientID != "" {
		if c, ok := sn.named[r.ClientID]; ok {
			return subject{c: c, p: c.forRoute(r.Route), own: true}
		}
	}
	c := sn.deflt
	if r.Plan != "" {
		if pc, ok := sn.plans[r.Plan]; ok {
			c = pc
		}
	}
	p := c.forRoute(r.Route)
	switch {
	case c.shared:
		return subject{c: c, p: p, own: true}
	case r.Tenant != "":
		return subject{c: c, p: p, key: idKey{id: r.Tenant, pol: p.route, plan: c.plan | tenantBit}}
	case r.ClientID != "":
		return subject{c: c, p: p, key: idKey{id: r.ClientID, pol: p.route, plan: c.plan}}
	}
	return subject{c: sn.deflt, p: sn.deflt.forRoute(r.Route), anon: true}
}

// Decide decides one request. When the Decision has Acquired set,
// ReleaseRequest must be called when the request ends. Decide does not
// allocate for a caller it already tracks, and never waits (with Redis,
// tokens and quota units are leased in batches in the background).
func (l *Limiter) Decide(r *Request) Decision {
	sn := l.snap.Load()
	if sn == nil {
		return Decision{Allowed: true}
	}
	sj := sn.subject(r)
	m := l.meter(sn, sj.p, r)
	var d Decision
	switch {
	case sj.own:
		d = m.allowNamed(sj.c)
	case sj.anon:
		d = allowTracked(&m, l.ips, keyOfAddr(r.ClientIP, sj.p.route), sj.c)
	default:
		d = allowTracked(&m, l.ids, sj.key, sj.c)
	}
	d.sn = sn
	return d
}

// meter prepares the measure of one request against policy p.
func (l *Limiter) meter(sn *snapshot, p *policy, r *Request) meter {
	m := meter{sn: sn, p: p, now: l.nowNs(), cost: max(1, int64(r.Cost))}
	m.wall = l.wallNs + m.now
	m.rate = l.rate(&m, r.Upstream)
	if p.q != nil {
		m.qw = p.q.cal.at(m.wall)
	}
	return m
}

// Charge takes n more tokens and quota units from the request's bucket
// after its answer (a cost header: what the upstream says the request
// cost beyond what Decide took), resolved in the current snapshot. The
// bucket may go into debt, so the caller's next requests pay for it.
// Callers no longer tracked are not charged. It does not allocate.
func (l *Limiter) Charge(r *Request, n int) {
	sn := l.snap.Load()
	if n <= 0 || sn == nil {
		return
	}
	sj := sn.subject(r)
	m := l.meter(sn, sj.p, r)
	switch {
	case sj.own:
		b := sj.p.bucket
		b.mu.Lock()
		m.charge(&b.s, int64(n))
		b.mu.Unlock()
	case sj.anon:
		chargeTracked(&m, l.ips, keyOfAddr(r.ClientIP, sj.p.route), int64(n))
	default:
		chargeTracked(&m, l.ids, sj.key, int64(n))
	}
}

// chargeTracked charges a tracked caller if it is still there.
func chargeTracked[K comparable](m *meter, t *table[K], k K, n int64) {
	sh, s := t.find(k)
	if s == nil {
		return
	}
	m.charge(s, n)
	sh.mu.Unlock()
}
