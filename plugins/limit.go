package plugins

import (
	"strconv"
	"sync"
	"sync/atomic"

	"tollgate/conf"
	"tollgate/limiter"
)

// cachedRetries is how many Retry-After values get a preformatted reply.
const cachedRetries = 60

// reasons are the refusal reasons with preformatted replies.
var reasons = [...]string{limiter.ReasonRate, limiter.ReasonConcurrency, limiter.ReasonStore, limiter.ReasonQuota}

// reasonIndex returns the index of reason in reasons (rate when unknown).
func reasonIndex(reason string) int {
	for i, r := range reasons {
		if r == reason {
			return i
		}
	}
	return 0
}

// limitFilter puts a route on the client quotas: it asks the limiter for a
// decision, queues the rate-limit headers, refuses with 429 and releases
// the concurrency slot when the exchange ends. It keeps no per-request
// state: the slot is found again from the exchange's client and route.
//
// Allocations per request: none for the decision; none with ietf headers
// (the RateLimit value is formatted in the exchange's buffer,
// RateLimit-Policy is cached per policy); with legacy headers none while
// the remaining count is below 100. A refusal uses a preformatted Reply
// for Retry-After up to 60 s.
type limitFilter struct {
	l       *limiter.Limiter
	headers string
	m       Metrics
	cost    int    // tokens a request takes (routes[].cost)
	costHdr string // upstream header with the real cost ("" = none)
	maxCost int    // bound on a cost header's value
	// replies[s][i] is the shared, read-only 429 for Retry-After i+1; s is
	// the refusal's reason (see reasonIndex). The engine only reads replies.
	replies [len(reasons)][cachedRetries]*Reply
	tickets sync.Pool // *slotTicket
	// lastLong is the latest 429 with a Retry-After beyond the cached
	// ones (a quota refused until its period ends): reused while the
	// value is the same, so a client hammering a spent quota costs one
	// allocation a second, not one per request.
	lastLong atomic.Pointer[longReply]
}

// longReply is a 429 with its reason and Retry-After.
type longReply struct {
	reason string
	retry  int
	r      *Reply
}

// defaultMaxCost bounds a cost header when no limits block says otherwise.
const defaultMaxCost = 1000

// NewLimitFilter returns the quota filter of route, or nil when the route
// is not metered (limit: false). headers is limits.headers (ietf, legacy or
// none); m counts decisions per configured client. Cost headers are
// bounded by 1000; NewQuotaFilter takes the bound from limits.
func NewLimitFilter(l *limiter.Limiter, route *conf.Route, headers string, m Metrics) Filter {
	return NewQuotaFilter(l, route, &conf.Limits{Headers: headers, MaxCost: defaultMaxCost}, m)
}

// NewQuotaFilter is NewLimitFilter with the limits block: its headers
// mode and max_cost, the bound on what a route's cost_header may charge.
func NewQuotaFilter(l *limiter.Limiter, route *conf.Route, limits *conf.Limits, m Metrics) Filter {
	if route == nil || !route.Limit || l == nil {
		return nil
	}
	f := &limitFilter{l: l, headers: limits.Headers, m: m, cost: max(1, route.Cost),
		costHdr: route.CostHeader, maxCost: max(1, limits.MaxCost)}
	f.tickets.New = func() any { return new(slotTicket) }
	for s, reason := range reasons {
		for i := range cachedRetries {
			f.replies[s][i] = limitReply(reason, i+1)
		}
	}
	return f
}

// Request decides the request, never waiting (the Redis store leases
// tokens in batches in the background), queues the rate-limit headers
// and refuses it with 429 when over quota or over concurrency.
func (f *limitFilter) Request(x *Exchange) *Reply {
	r := f.request(x)
	d := f.l.Decide(&r)
	if !d.Metered() {
		return nil
	}
	x.RateLimit = d.Outcome()
	if f.m != nil {
		f.m.RateLimitDecision(d.MetricClient, x.RateLimit)
	}
	f.queueHeaders(x, &d)
	if d.Acquired {
		t := f.tickets.Get().(*slotTicket)
		t.f, t.d = f, d
		x.OnEnd(t)
	}
	if d.Allowed {
		return nil
	}
	return f.reply(&d)
}

// request is the limiter's view of x.
func (f *limitFilter) request(x *Exchange) limiter.Request {
	return limiter.Request{ClientID: x.ClientID, ClientIP: x.ClientIP, Plan: x.Plan, Tenant: x.Tenant,
		Route: x.Route, Upstream: x.Upstream, Cost: f.cost}
}

// Response charges what the upstream's cost header says the request cost
// beyond the route's cost (bounded by max_cost), so the caller's next
// requests pay for an expensive one; the headers already queued describe
// the state before the charge. The engine adds the queued headers to
// every response.
func (f *limitFilter) Response(x *Exchange) {
	if f.costHdr == "" || x.Response == nil {
		return
	}
	v := x.Response.Get(f.costHdr)
	if len(v) == 0 {
		return
	}
	n, ok := parseCost(v)
	if !ok {
		return
	}
	if extra := min(n, f.maxCost) - f.cost; extra > 0 {
		r := f.request(x)
		f.l.Charge(&r, extra)
	}
}

// parseCost reads a cost header's value: a non-negative decimal integer
// (surrounding blanks allowed); anything else is ignored.
func parseCost(v []byte) (int, bool) {
	n, digits, after := 0, 0, false
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9' && !after:
			if n < 1<<30 {
				n = n*10 + int(c-'0')
			}
			digits++
		case c == ' ' || c == '\t':
			after = digits > 0 // blanks after the number end it
		default:
			return 0, false
		}
	}
	return n, digits > 0
}

// slotTicket remembers, for one exchange, the decision that took a
// concurrency slot, so the slot is released in the snapshot it was taken
// in even if a reload happened meanwhile. Tickets are pooled.
type slotTicket struct {
	f *limitFilter
	d limiter.Decision
}

// End releases the concurrency slot and returns the ticket to its pool.
func (t *slotTicket) End(x *Exchange) {
	f := t.f
	r := f.request(x)
	f.l.ReleaseRequest(&t.d, &r)
	*t = slotTicket{}
	f.tickets.Put(t)
}

// queueHeaders adds the configured rate-limit headers to the response.
func (f *limitFilter) queueHeaders(x *Exchange, d *limiter.Decision) {
	switch f.headers {
	case limiter.HeadersNone:
	case limiter.HeadersLegacy:
		x.AddResponseHeader(limiter.HeaderLimit, d.LimitHeader())
		x.AddResponseHeader(limiter.HeaderRemaining, d.RemainingHeader())
		x.AddResponseHeader(limiter.HeaderReset, d.ResetHeader())
	default:
		x.AddResponseHeader(limiter.HeaderPolicy, d.PolicyHeader())
		x.AddResponseHeaderFunc(limiter.HeaderRateLimit, d.AppendStateHeader)
	}
}

// reply returns the 429 for a refused decision: a cached one for common
// Retry-After values, else a new one.
func (f *limitFilter) reply(d *limiter.Decision) *Reply {
	if d.RetryAfter >= 1 && d.RetryAfter <= cachedRetries {
		return f.replies[reasonIndex(d.Reason)][d.RetryAfter-1]
	}
	if lr := f.lastLong.Load(); lr != nil && lr.retry == d.RetryAfter && lr.reason == d.Reason {
		return lr.r
	}
	lr := &longReply{reason: d.Reason, retry: d.RetryAfter, r: limitReply(d.Reason, d.RetryAfter)}
	f.lastLong.Store(lr)
	return lr.r
}

// limitReply builds a 429 reply with the contract's error code.
func limitReply(reason string, retryAfter int) *Reply {
	msg := "rate limit exceeded"
	switch reason {
	case limiter.ReasonConcurrency:
		msg = "too many concurrent requests"
	case limiter.ReasonStore:
		msg = "rate limit store unavailable"
	case limiter.ReasonQuota:
		msg = "quota for the period exhausted"
	}
	return &Reply{
		Status:  429,
		Code:    "rate_limited",
		Message: msg,
		Header:  [][2]string{{limiter.HeaderRetryAfter, strconv.Itoa(retryAfter)}},
	}
}
