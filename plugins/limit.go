package plugins

import (
	"strconv"
	"sync"

	"tollgate/conf"
	"tollgate/limiter"
)

// cachedRetries is how many Retry-After values get a preformatted reply.
const cachedRetries = 60

// reasons are the refusal reasons with preformatted replies.
var reasons = [...]string{limiter.ReasonRate, limiter.ReasonConcurrency, limiter.ReasonStore}

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
	// replies[s][i] is the shared, read-only 429 for Retry-After i+1; s is
	// the refusal's reason (see reasonIndex). The engine only reads replies.
	replies [len(reasons)][cachedRetries]*Reply
	tickets sync.Pool // *slotTicket
}

// NewLimitFilter returns the quota filter of route, or nil when the route
// is not metered (limit: false). headers is limits.headers (ietf, legacy or
// none); m counts decisions per configured client.
func NewLimitFilter(l *limiter.Limiter, route *conf.Route, headers string, m Metrics) Filter {
	if route == nil || !route.Limit || l == nil {
		return nil
	}
	f := &limitFilter{l: l, headers: headers, m: m}
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
	d := f.l.Allow(x.ClientID, x.ClientIP, x.Route, x.Upstream)
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

// Response does nothing: the engine adds the queued headers to every
// response.
func (f *limitFilter) Response(*Exchange) {}

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
	f.l.ReleaseDecision(&t.d, x.ClientID, x.ClientIP, x.Route)
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
	return limitReply(d.Reason, d.RetryAfter)
}

// limitReply builds a 429 reply with the contract's error code.
func limitReply(reason string, retryAfter int) *Reply {
	msg := "rate limit exceeded"
	switch reason {
	case limiter.ReasonConcurrency:
		msg = "too many concurrent requests"
	case limiter.ReasonStore:
		msg = "rate limit store unavailable"
	}
	return &Reply{
		Status:  429,
		Code:    "rate_limited",
		Message: msg,
		Header:  [][2]string{{limiter.HeaderRetryAfter, strconv.Itoa(retryAfter)}},
	}
}
