package limiter

// Concurrency: a client's in-flight requests are counted when Allow admits
// them and uncounted by Release. A client at its bound is refused at once
// (429, Reason "concurrency"); nothing is queued. Named clients count per
// client across routes, in a counter that survives reloads; other callers
// count per bucket (caller and policy).

// tryAcquire takes a slot of a named client's counter, bounded by limit.
// In shadow mode the slot is taken even over the limit (so Release stays
// balanced) and ok reports whether the bound was respected.
func (s *clientState) tryAcquire(limit int32, shadow bool) (ok bool) {
	for {
		n := s.inflight.Load()
		if n >= limit && !shadow {
			return false
		}
		if s.inflight.CompareAndSwap(n, n+1) {
			return n < limit
		}
	}
}

// release gives a named client's slot back, never below zero (a reload may
// have replaced the client between Allow and Release).
func (s *clientState) release() {
	for {
		n := s.inflight.Load()
		if n <= 0 || s.inflight.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// slotFree reports whether a tracked bucket has a free concurrency slot.
func (s *slot) slotFree(limit int32) bool { return limit <= 0 || s.inflight < limit }

// releaseSlot gives a tracked bucket's slot back, never below zero.
func (s *slot) releaseSlot() {
	if s.inflight > 0 {
		s.inflight--
	}
}
