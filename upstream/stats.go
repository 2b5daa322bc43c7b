package upstream

import "sync/atomic"

// tryStats counts a target's finished tries and those that failed, so an
// operator can see its error rate (the admin dashboard) whether or not it
// has a breaker. Two atomic adds per try, no allocation.
type tryStats struct {
	tries, failures atomic.Uint64
}

// count records one finished try.
func (s *tryStats) count(o Outcome) {
	s.tries.Add(1)
	if o.failed() {
		s.failures.Add(1)
	}
}

// failed reports whether the target is to blame for the try: it could not
// be connected to, did not answer in time, reset the connection or sent a
// malformed head, or answered 5xx.
func (o Outcome) failed() bool {
	return o.ConnectFailure || o.Timeout || o.Reset || o.Status >= 500
}

// TryCounts returns how many tries on the target have finished and how
// many of them failed (connect failure, timeout, reset or malformed
// answer, 5xx), since the target was created. The counts survive reloads
// with the target.
func (t *Target) TryCounts() (tries, failures uint64) {
	return t.stats.tries.Load(), t.stats.failures.Load()
}

// HealthChecked reports whether the target has active health checks.
func (t *Target) HealthChecked() bool { return t.healthEvery.Load() > 0 }
