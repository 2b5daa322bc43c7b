package limiter

import "strconv"

// leaseQuota is a lease's share of a quota counter in Redis: units granted
// in chunks (quota want) and spent locally, so a quota costs no round trip
// per request either. Grants never exceed what is left of the limit, so
// instances together admit at most the limit plus what they spent before
// Redis answered: a key new to an instance (or back from idle) may spend
// up to its credit before its first grant, and a cost header charges
// after the answer. Once Redis says the period is spent (done), nothing
// is admitted without a grant until the period ends.
type leaseQuota struct {
	start, end int64 // the period (Unix ns) the state belongs to; 0 = none yet
	limit      int64
	want       int64 // chunk size
	avail      int64 // granted, not yet spent
	owed       int64 // spent beyond grants (>0) or given back (<0), not yet reported
	debt       int64 // spent before a grant, not yet acknowledged by Redis
	credit     int64 // bound on debt
	left       int64 // units left in Redis after the last sync
	synced     bool  // left comes from Redis (a sync answered this period)
	done       bool  // Redis has nothing left for this period
	instances  int64 // gateways sharing the counter, as last seen
}

// quotaRequest is what one lease sends about its quota in a sync.
type quotaRequest struct {
	start, end int64
	limit      int64
	charge     int64
	want       int64
	debt       int64 // of the charge, what was spent before a grant
}

// roll starts a new period's state when a's period is not the lease's.
func (lq *leaseQuota) roll(a *leaseAsk) {
	if lq.end != a.qw.end {
		*lq = leaseQuota{start: a.qw.start, end: a.qw.end, left: a.q.limit}
	}
	lq.want, lq.limit, lq.instances = a.qwant, a.q.limit, max(1, a.instances)
	lq.credit = a.qcredit
	if lq.synced {
		// Far from the end, spending up to half of what is left (split
		// between the instances) before Redis hears of it, plus the
		// chunks the others may be granted meanwhile, cannot take the
		// count past the limit. In the endgame (less than two chunks per
		// instance left) only granted units are spent.
		lq.credit = 0
		if lq.left >= 2*lq.instances*lq.want {
			lq.credit = lq.left / (2 * lq.instances)
		}
	}
}

// check says whether a.cost units may be spent now (without spending).
func (lq *leaseQuota) check(a *leaseAsk) quotaVerdict {
	lq.roll(a)
	qv := quotaVerdict{resetNs: lq.end - a.wall, remaining: lq.remaining()}
	switch {
	case lq.avail >= a.cost:
		qv.ok = true
	case !lq.done && lq.debt+a.cost-lq.avail <= lq.credit:
		qv.ok = true
	case !lq.done:
		qv.resetNs = 1e9 // a grant is on its way: try again in a second
	}
	return qv
}

// spend takes n units (check said yes) and returns the units left.
func (lq *leaseQuota) spend(n int64) int64 {
	if lq.avail >= n {
		lq.avail -= n
	} else {
		d := n - lq.avail
		lq.avail = 0
		lq.debt += d
		lq.owed += d
	}
	return lq.remaining()
}

// remaining estimates the units left: Redis's count after the last sync
// plus what this instance holds.
func (lq *leaseQuota) remaining() int64 {
	return max(0, lq.left+lq.avail-lq.debt)
}

// low reports that the lease should ask Redis for a chunk.
func (lq *leaseQuota) low() bool {
	return lq.end != 0 && !lq.done && lq.avail < (lq.want+1)/2
}

// idle reports that the quota share holds and owes nothing.
func (lq *leaseQuota) idle() bool { return lq.avail == 0 && lq.owed == 0 }

// giveBack returns the unspent grant at the next sync.
func (lq *leaseQuota) giveBack() {
	lq.owed -= lq.avail
	lq.avail = 0
}

// prepare moves the owed units into a request and asks for a chunk when
// the lease is in use and low.
func (lq *leaseQuota) prepare(used bool) quotaRequest {
	if lq.end == 0 {
		return quotaRequest{}
	}
	r := quotaRequest{start: lq.start, end: lq.end, limit: lq.limit, charge: lq.owed, debt: lq.debt}
	lq.owed = 0
	if used && lq.low() {
		r.want = lq.want
	}
	return r
}

// settle applies Redis's answer for the period r was sent for.
func (lq *leaseQuota) settle(r quotaRequest, granted, left int64) {
	if r.end == 0 || r.end != lq.end {
		return // no quota, or a period that has ended meanwhile
	}
	lq.avail += granted
	lq.debt = max(0, lq.debt-r.debt)
	lq.left, lq.synced = left, true
	if r.want > 0 && granted < r.want {
		lq.done = true
	}
}

// fail puts a request's charge back after a failed sync.
func (lq *leaseQuota) fail(r quotaRequest) {
	if r.end != 0 && r.end == lq.end {
		lq.owed += r.charge
	}
}

// oweQuota records units spent while Redis was unreachable (on_failure
// local) or charged by a cost header, for the next sync.
func (ls *lease) oweQuota(w *window, n int64) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.q.end == w.end {
		ls.q.owed += n
		ls.q.debt += n
	}
}

// charge takes n tokens and quota units after the answer (a cost
// header); the lease may go into debt, repaid from its next grants.
func (ls *lease) charge(w *window, n int64) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.avail -= float64(n)
	if w != nil && ls.q.end == w.end {
		take := min(ls.q.avail, n)
		ls.q.avail -= take
		ls.q.owed += n - take
	}
}

// quotaKey names a period's counter in Redis: beside the bucket's key
// (same hash tag), one key per period.
func quotaKey(bucketKey string, start int64) string {
	return bucketKey + "|q|" + strconv.FormatInt(start/1e6, 10)
}

// quotaSpent returns the units of period w spent as far as this lease
// knows (the limit less what Redis last said was left, less what the lease
// holds), for the on_failure local share; ok is false before any answer.
func (ls *lease) quotaSpent(w *window) (spent int64, ok bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !ls.q.synced || ls.q.end != w.end {
		return 0, false
	}
	return ls.q.limit - ls.q.remaining(), true
}
