package limiter

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Usage reads what callers have left without taking a token: the admin
// quota API (GET /clients, GET /clients/{id}) and the dashboard. Every
// figure is the one the next request on this instance would start from,
// so the next response's rate-limit headers show it minus the token that
// request takes. With the Redis store the shared bucket can be read too
// (UsageOptions.Global): the tokens Redis holds now, by Redis's clock.

// UsageOptions say how much a usage read may cost.
type UsageOptions struct {
	// Global reads the shared buckets in Redis (one script call per hash
	// tag) when the Redis store is in use. Off, only local state is read.
	Global bool
}

// Overview is the usage of every configured client.
type Overview struct {
	// Store is "local", "redis" or "redis-down" (on_failure in force).
	Store string `json:"store"`
	// Instances is the number of gateways sharing the Redis store (1 local).
	Instances int `json:"instances"`
	// Clients are the clients named in clients:, by name.
	Clients []ClientUsage `json:"clients"`
	// Default describes the quota of everyone else; its figures are per
	// caller, so only the configuration and the number of tracked callers.
	Default DefaultUsage `json:"default"`
}

// DefaultUsage is the default policy: its quota and how many callers (by
// client id or address) currently hold a bucket.
type DefaultUsage struct {
	Limit       int     `json:"limit"`
	Rate        float64 `json:"rate"`
	Concurrency int     `json:"concurrency"`
	Mode        string  `json:"mode"`
	Tracked     int     `json:"tracked"`
}

// ClientUsage is one caller's quotas: a named client, an unlisted client
// id, or an anonymous address, each under its policies.
type ClientUsage struct {
	// Client is the id asked for (the name in clients:, the client id, or
	// the address).
	Client string `json:"client"`
	// Kind is "named" (in clients:), "client_id" (an authenticated id not
	// named, on the default quota) or "address" (an anonymous caller).
	Kind string `json:"kind"`
	// Concurrency is the client's in-flight bound; 0 means none.
	Concurrency int `json:"concurrency"`
	// InFlight is the number of requests holding a concurrency slot; nil
	// when the client has no concurrency bound (then nothing counts them).
	InFlight *int `json:"in_flight"`
	// Policies are the base quota and each per-route override.
	Policies []PolicyUsage `json:"policies"`
}

// PolicyUsage is one bucket's state.
type PolicyUsage struct {
	// Policy is the RateLimit policy name ("partner-x", "partner-x/search").
	Policy string `json:"policy"`
	// Route is the route of a per-route override, "" for the base quota.
	Route string `json:"route,omitempty"`
	// Mode is "enforce" or "shadow".
	Mode string `json:"mode"`
	// Limit is the burst (RateLimit-Policy q).
	Limit int `json:"limit"`
	// Rate is the refill rate in tokens per second (as last applied: the
	// adaptive factor may have scaled the configured rate).
	Rate float64 `json:"rate"`
	// Remaining is the whole tokens the next request finds (its RateLimit
	// r is this minus the one it takes).
	Remaining int `json:"remaining"`
	// ResetSeconds is the time until the next whole token, rounded up
	// (RateLimit t); 0 when the bucket is full.
	ResetSeconds int `json:"reset_seconds"`
	// FullAt is when the bucket is full again (now when it is full).
	FullAt time.Time `json:"full_at"`
	// Source says where the figures come from: "local" (this instance's
	// bucket), "redis" (this instance's lease plus the shared bucket as of
	// the last sync), "fallback" (Redis down: on_failure's buckets).
	Source string `json:"source"`
	// Global is the shared bucket in Redis, read now; nil with the local
	// store or when not asked for.
	Global *GlobalUsage `json:"global,omitempty"`
}

// GlobalUsage is a shared bucket as Redis holds it.
type GlobalUsage struct {
	// Tokens are the tokens in Redis now, not leased by any instance
	// (negative while instances owe it tokens spent on credit).
	Tokens float64 `json:"tokens"`
	// Leased are the tokens this instance has leased and not spent yet.
	Leased float64 `json:"leased"`
	// Unreported are the tokens this instance spent (positive) or gave
	// back (negative) that the next sync will report.
	Unreported float64 `json:"unreported"`
	// Error says why Redis could not be read ("" when it was).
	Error string `json:"error,omitempty"`
}

// Kinds of ClientUsage.
const (
	KindNamed    = "named"
	KindClientID = "client_id"
	KindAddress  = "address"
)

// Overview returns the usage of every named client and a summary of the
// default quota. It takes no token and changes no bucket.
func (l *Limiter) Overview(ctx context.Context, o UsageOptions) Overview {
	sn := l.snap.Load()
	ov := Overview{Store: l.StoreStatus(), Instances: l.Instances(), Clients: []ClientUsage{}}
	if sn == nil {
		return ov
	}
	names := make([]string, 0, len(sn.named))
	for name := range sn.named {
		names = append(names, name)
	}
	slices.Sort(names)
	r := l.newUsageReader(sn)
	for _, name := range names {
		ov.Clients = append(ov.Clients, r.named(name, sn.named[name]))
	}
	r.fillGlobal(ctx, o)
	ov.Default = DefaultUsage{
		Limit: sn.deflt.base.limit, Rate: sn.deflt.base.rate, Concurrency: int(sn.deflt.concurrency),
		Mode: modeName(sn.deflt.base.shadow), Tracked: l.Tracked(),
	}
	return ov
}

// Client returns the usage of one caller: a client named in clients:, an
// unlisted client id that holds a bucket, or an anonymous address that
// holds one. ok is false for anyone else (whose bucket, if any, is full).
func (l *Limiter) Client(ctx context.Context, id string, o UsageOptions) (cu ClientUsage, ok bool) {
	sn := l.snap.Load()
	if sn == nil || id == "" {
		return ClientUsage{}, false
	}
	r := l.newUsageReader(sn)
	if c, named := sn.named[id]; named {
		cu = r.named(id, c)
	} else if cu, ok = l.tracked(r, id); !ok {
		return ClientUsage{}, false
	}
	r.fillGlobal(ctx, o)
	return cu, true
}

// tracked returns the usage of an unlisted caller that holds a bucket:
// by client id, or by address when id parses as one.
func (l *Limiter) tracked(r *usageReader, id string) (ClientUsage, bool) {
	c := r.sn.deflt
	cu := ClientUsage{Client: id, Kind: KindClientID, Concurrency: int(c.concurrency)}
	addr, err := netip.ParseAddr(id)
	isAddr := err == nil
	if isAddr {
		cu.Kind = KindAddress
	}
	inflight, found := 0, false
	for _, p := range c.policies() {
		var s slot
		var ok bool
		var bucketID string
		if isAddr {
			k := keyOfAddr(addr, p.route)
			s, ok = peekTracked(l.ips, k)
			bucketID = k.bucketID(p)
		} else {
			k := idKey{id: id, pol: p.route}
			s, ok = peekTracked(l.ids, k)
			bucketID = k.bucketID(p)
		}
		if !ok {
			continue
		}
		found = true
		inflight += int(s.inflight)
		r.add(&cu, p, &s, bucketID)
	}
	r.bind(&cu)
	if c.concurrency > 0 {
		cu.InFlight = &inflight
	}
	return cu, found
}

// peekTracked copies k's slot, if the table holds one.
func peekTracked[K comparable](t *table[K], k K) (slot, bool) {
	sh, s := t.find(k)
	if s == nil {
		return slot{}, false
	}
	cp := *s
	sh.mu.Unlock()
	return cp, true
}

// policies returns the client's base policy then its overrides, by route.
func (c *client) policies() []*policy {
	out := []*policy{c.base}
	routes := make([]string, 0, len(c.routes))
	for r := range c.routes {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		out = append(out, c.routes[r])
	}
	return out
}

// modeName is a policy's mode as configured.
func modeName(shadow bool) string {
	if shadow {
		return "shadow"
	}
	return "enforce"
}

// usageReader reads buckets of one snapshot at one instant, collecting
// the Redis keys whose global figures are wanted.
type usageReader struct {
	l       *Limiter
	sn      *snapshot
	now     int64
	pending []globalWant // of the client being read, by policy index
	wanted  []globalWant // bound to their PolicyUsage
}

// globalWant is a PolicyUsage waiting for its shared bucket's figures.
type globalWant struct {
	idx int
	pu  *PolicyUsage
	key string // Redis key
	ls  *lease // this instance's lease, nil when none
}

func (l *Limiter) newUsageReader(sn *snapshot) *usageReader {
	return &usageReader{l: l, sn: sn, now: l.nowNs()}
}

// named reads a named client's buckets.
func (r *usageReader) named(name string, c *client) ClientUsage {
	cu := ClientUsage{Client: name, Kind: KindNamed, Concurrency: int(c.concurrency)}
	if c.concurrency > 0 {
		n := int(c.state.inflight.Load())
		cu.InFlight = &n
	}
	for _, p := range c.policies() {
		p.bucket.mu.Lock()
		s := p.bucket.s
		p.bucket.mu.Unlock()
		r.add(&cu, p, &s, "c:"+p.name)
	}
	r.bind(&cu)
	return cu
}

// add appends the usage of one bucket to cu and, with the Redis store,
// notes its shared bucket (bucketID as the lease names it) for fillGlobal.
func (r *usageReader) add(cu *ClientUsage, p *policy, s *slot, bucketID string) {
	cu.Policies = append(cu.Policies, r.policy(p, s))
	if st := r.sn.store; st != nil {
		r.pending = append(r.pending, globalWant{idx: len(cu.Policies) - 1, key: st.key(bucketID), ls: s.lease})
	}
}

// bind points the noted shared buckets at cu's policies, once cu.Policies
// has stopped growing.
func (r *usageReader) bind(cu *ClientUsage) {
	for _, w := range r.pending {
		w.pu = &cu.Policies[w.idx]
		r.wanted = append(r.wanted, w)
	}
	r.pending = r.pending[:0]
}

// policy reads one bucket (a copy of its slot) the way the next request
// would find it.
func (r *usageReader) policy(p *policy, s *slot) PolicyUsage {
	pu := PolicyUsage{Policy: p.name, Mode: modeName(p.shadow), Limit: p.limit, Rate: p.rate, Source: "local"}
	if i := indexByte(p.name, '/'); i >= 0 {
		pu.Route = p.name[i+1:]
	}
	if s.rate > 0 && s.rate != float32(p.rate) { // scaled by the adaptive factor
		pu.Rate = float64(s.rate)
	}
	st := r.sn.store
	switch {
	case st == nil:
		r.fromSlot(&pu, s, pu.Rate, p.burst)
	case st.up.Load():
		pu.Source = "redis"
		r.fromLease(&pu, s.lease, st, p)
	default:
		pu.Source = "fallback"
		r.fromFallback(&pu, s, st, p)
	}
	return pu
}

// fromSlot fills remaining and reset from a local bucket (a copy: the
// peek rescales it to the policy's burst as the next request would).
func (r *usageReader) fromSlot(pu *PolicyUsage, s *slot, rate, burst float64) {
	cp := *s
	v := cp.take(r.now, rate, burst, false)
	pu.Remaining = v.remaining
	pu.ResetSeconds = ceilSeconds(v.nextNs)
	pu.FullAt = r.instant(max(cp.fullAt, r.now))
}

// fromLease fills the figures of the Redis store: this instance's lease
// plus the shared bucket as of its last sync, as the header shows them.
// A key without a lease here would start with its credit.
func (r *usageReader) fromLease(pu *PolicyUsage, ls *lease, st *redisStore, p *policy) {
	credit := st.credit(pu.Rate, p.burst)
	have := credit
	if ls != nil {
		have = ls.peek(r.now, credit)
	}
	pu.Remaining = int(math.Min(p.burst, math.Floor(have+1e-9)))
	if have < p.burst {
		interval := 1e9 / pu.Rate
		pu.ResetSeconds = ceilSeconds(int64(interval))
		pu.FullAt = r.instant(r.now + int64((p.burst-have)*interval))
	} else {
		pu.FullAt = r.instant(r.now)
	}
}

// fromFallback fills the figures on_failure gives while Redis is down.
func (r *usageReader) fromFallback(pu *PolicyUsage, s *slot, st *redisStore, p *policy) {
	switch st.failMode() {
	case FailAllow:
		pu.Remaining, pu.FullAt = p.limit, r.instant(r.now)
	case FailDeny:
		pu.FullAt = r.instant(r.now)
	default:
		n := float64(st.instances.Load())
		r.fromSlot(pu, s, pu.Rate/n, max(1, p.burst/n))
	}
}

// instant converts limiter nanoseconds to wall time.
func (r *usageReader) instant(ns int64) time.Time {
	return r.l.epoch.Add(time.Duration(ns)).UTC()
}

// indexByte returns the index of the first c in s, or -1.
func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
