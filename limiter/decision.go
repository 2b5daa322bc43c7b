package limiter

// Reasons a request was refused (Decision.Reason).
const (
	// ReasonRate: the caller's bucket is empty.
	ReasonRate = "rate"
	// ReasonConcurrency: the caller already has its maximum of requests in
	// flight.
	ReasonConcurrency = "concurrency"
	// ReasonStore: the Redis store is unreachable and on_failure is deny.
	ReasonStore = "store"
	// ReasonQuota: the caller's quota for the period is spent.
	ReasonQuota = "quota"
)

// Outcomes, the decision label of tollgate_ratelimit_decisions_total.
const (
	OutcomeAllow      = "allow"
	OutcomeDeny       = "deny"
	OutcomeShadowDeny = "shadow_deny"
)

// Decision is the limiter's answer for one request. The zero Decision
// (returned before the first Apply) allows and carries no policy, so no
// rate-limit header is produced for it.
type Decision struct {
	// Allowed is true when the request may proceed (also for shadow denials).
	Allowed bool
	// Shadow is true when the quota refused the request but the client is in
	// shadow mode, so it passes anyway.
	Shadow bool
	// Acquired is true when a concurrency slot is held: the caller must call
	// ReleaseDecision (or Release) once, with the same arguments as Allow,
	// when the request ends.
	Acquired bool
	// Policy names the quota: the client's name in clients:, "default" for
	// others, suffixed "/<route>" for a per-route override.
	Policy string
	// MetricClient is the client label for metrics: the configured name or
	// "default", so label cardinality is bounded by the config.
	MetricClient string
	// Reason says why a request was refused ("rate", "concurrency", "store");
	// empty when allowed.
	Reason string
	// Limit is the policy's burst.
	Limit int
	// Remaining is the number of whole tokens left after this request.
	Remaining int
	// ResetSeconds is the time until the next token, rounded up (0 when the
	// bucket is full).
	ResetSeconds int
	// WindowSeconds is the time to refill the whole burst at the current
	// (possibly adaptively scaled) rate, rounded up.
	WindowSeconds int
	// RetryAfter is the number of seconds a refused caller should wait
	// (at least 1); 0 when allowed. A request refused by the quota waits
	// until the period ends.
	RetryAfter int
	// QuotaLimit is the policy's long-window quota in cost units (0 when
	// the policy has none); QuotaRemaining the units left in the period,
	// QuotaResetSeconds the time until it ends and QuotaWindowSeconds its
	// length, rounded up.
	QuotaLimit         int64
	QuotaRemaining     int64
	QuotaResetSeconds  int
	QuotaWindowSeconds int

	pol *policy
	sn  *snapshot // the snapshot Allow decided with; Release uses the same
}

// Outcome returns the decision's metric label: "allow", "deny" or
// "shadow_deny".
func (d *Decision) Outcome() string {
	switch {
	case d.Shadow:
		return OutcomeShadowDeny
	case d.Allowed:
		return OutcomeAllow
	}
	return OutcomeDeny
}

// Metered reports whether the decision came from a policy, which is when
// rate-limit headers describe it.
func (d *Decision) Metered() bool { return d.pol != nil }

// fill copies a bucket verdict and the policy into the decision.
func (d *Decision) fill(p *policy, v verdict, rate float64) {
	d.pol = p
	d.Policy = p.name
	d.MetricClient = p.client
	d.Limit = p.limit
	d.Remaining = max(0, v.remaining)
	d.ResetSeconds = ceilSeconds(v.nextNs)
	d.WindowSeconds = windowSeconds(p.burst, rate)
}

// refuse marks the decision refused for reason, honouring shadow mode.
func (d *Decision) refuse(reason string, retryNs int64) {
	d.Reason = reason
	d.RetryAfter = max(1, ceilSeconds(retryNs))
	if d.pol != nil && d.pol.shadow {
		d.Allowed, d.Shadow = true, true
		return
	}
	d.Allowed = false
}

// fillQuota copies a quota verdict into the decision.
func (d *Decision) fillQuota(q *quotaPolicy, v quotaVerdict, w *window) {
	d.QuotaLimit = q.limit
	d.QuotaRemaining = min(q.limit, max(0, v.remaining))
	d.QuotaResetSeconds = ceilSeconds(v.resetNs)
	if w != nil {
		d.QuotaWindowSeconds = ceilSeconds(w.end - w.start)
	}
}
