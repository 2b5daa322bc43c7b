package limiter

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"tollgate/conf"
)

// Quotas (long windows): beside its bucket, a policy may carry a number of
// cost units per calendar period (day, week, month in limits.time_zone;
// a fixed duration for tests). The count is kept in the slot (local
// store) or leased in chunks from a counter in Redis (redis store, see
// quota_lease.go), reset when the period ends. A request is admitted only
// when both the bucket and the quota have room for its cost.

// quotaPolicy is a compiled quota: immutable, shared by the snapshot.
type quotaPolicy struct {
	limit  int64
	period string // as configured: "day", "week", "month", "10s"
	cal    *calendar
	quoted string // `"gold:month"`, the quota's name in the ietf headers
}

// newQuotaPolicy compiles a quota block of policy name; nil for none.
func newQuotaPolicy(name string, pq *conf.PeriodQuota, loc *time.Location) (*quotaPolicy, error) {
	if pq == nil {
		return nil, nil
	}
	if pq.Limit < 1 {
		return nil, fmt.Errorf("policy %q: quota limit must be at least 1, got %d", name, pq.Limit)
	}
	cal, err := newCalendar(pq, loc)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", name, err)
	}
	return &quotaPolicy{limit: pq.Limit, period: pq.Period, cal: cal, quoted: strconv.Quote(name + ":" + pq.Period)}, nil
}

// calendar cuts wall-clock time into a quota's periods.
type calendar struct {
	kind  string
	fixed int64 // ns, for test periods
	loc   *time.Location
	cur   atomic.Pointer[window]
}

// window is one period: [start, end) in Unix nanoseconds.
type window struct{ start, end int64 }

// newCalendar returns the calendar of a quota's period.
func newCalendar(pq *conf.PeriodQuota, loc *time.Location) (*calendar, error) {
	c := &calendar{kind: pq.Period, loc: loc}
	switch pq.Period {
	case conf.PeriodDay, conf.PeriodWeek, conf.PeriodMonth:
	default:
		d := pq.Fixed()
		if d < time.Second {
			return nil, fmt.Errorf("quota period %q: want day, week, month or a duration of at least 1s", pq.Period)
		}
		c.fixed = int64(d)
	}
	if c.loc == nil {
		c.loc = time.UTC
	}
	return c, nil
}

// at returns the period holding wall (Unix ns). It allocates only when a
// period ends (the new window is cached).
func (c *calendar) at(wall int64) *window {
	if w := c.cur.Load(); w != nil && wall >= w.start && wall < w.end {
		return w
	}
	w := c.compute(wall)
	c.cur.Store(w)
	return w
}

// compute finds the period holding wall: calendar periods start at
// midnight (weeks on Monday, months on the 1st) in the calendar's zone;
// fixed ones at multiples of their length since the Unix epoch.
func (c *calendar) compute(wall int64) *window {
	if c.fixed > 0 {
		start := wall - wall%c.fixed
		return &window{start: start, end: start + c.fixed}
	}
	t := time.Unix(0, wall).In(c.loc)
	y, m, d := t.Date()
	var start, end time.Time
	switch c.kind {
	case conf.PeriodDay:
		start = time.Date(y, m, d, 0, 0, 0, 0, c.loc)
		end = start.AddDate(0, 0, 1)
	case conf.PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(y, m, d-back, 0, 0, 0, 0, c.loc)
		end = start.AddDate(0, 0, 7)
	default:
		start = time.Date(y, m, 1, 0, 0, 0, 0, c.loc)
		end = start.AddDate(0, 1, 0)
	}
	return &window{start: start.UnixNano(), end: end.UnixNano()}
}

// quotaVerdict is what the quota says about one request.
type quotaVerdict struct {
	ok        bool
	remaining int64 // units left after this request
	resetNs   int64 // until the period ends
}

// takeQuota decides cost units against a slot's local count for the
// period w, with limit (the quota's, or its share per instance in a
// Redis outage); commit spends them.
func (s *slot) takeQuota(w *window, wall, limit, cost int64, commit bool) quotaVerdict {
	if s.qEnd != w.end {
		s.qEnd, s.qUsed = w.end, 0
	}
	v := quotaVerdict{resetNs: w.end - wall}
	if s.qUsed+cost > limit {
		v.remaining = max(0, limit-s.qUsed)
		return v
	}
	if commit {
		s.qUsed += cost
	}
	v.ok, v.remaining = true, limit-s.qUsed
	return v
}

// chargeQuota adds cost units after the fact (a cost header).
func (s *slot) chargeQuota(w *window, n int64) {
	if s.qEnd != w.end {
		s.qEnd, s.qUsed = w.end, 0
	}
	s.qUsed += n
}

// quotaLive reports whether the slot holds a quota count for a period
// that has not ended: dropping it would forget spent units.
func (s *slot) quotaLive(wall int64) bool { return s.qUsed > 0 && wall < s.qEnd }
