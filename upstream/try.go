package upstream

// Outcome is how one try on a target ended, as the breaker judges it. The
// zero Outcome is a success: use it for a response whose status is unknown
// or irrelevant, and for failures the target is not to blame for (the
// client went away, the pool was exhausted).
type Outcome struct {
	// ConnectFailure: the connection could not be opened (refused,
	// unreachable, or the connect timeout; set Timeout too for the latter).
	ConnectFailure bool
	// Timeout: the target did not connect or answer in time.
	Timeout bool
	// Reset: the connection was reset or closed before a complete response
	// head, or the head was malformed.
	Reset bool
	// Status is the response status, 0 when there was no response.
	Status int
}

// Try is one try on a target, begun by Target.Begin and ended by exactly one
// call to Done, which counts it on the target (TryCounts) and reports it to
// the breaker, if any. The zero Try does nothing. A Try is a small value:
// passing it around allocates nothing.
type Try struct {
	t    *Target
	b    *breaker
	done func(success bool)
}

// Begin asks the target's breaker whether a try may go ahead. It returns an
// error wrapping ErrBreakerOpen when the breaker is open or half-open with
// all its probe slots taken; the caller should then pick another target.
// Without a breaker it allocates nothing; with one, gobreaker's callback.
func (t *Target) Begin() (Try, error) {
	b := t.breaker.Load()
	if b == nil {
		return Try{t: t}, nil
	}
	done, err := b.cb.Allow()
	if err != nil {
		return Try{}, b.errRefused
	}
	return Try{t: t, b: b, done: done}, nil
}

// Done reports the try's outcome to the breaker it began on (even if a
// reload has replaced that breaker since: gobreaker's generations ignore
// results from before a state change). Call it exactly once.
func (tr Try) Done(o Outcome) {
	if tr.t != nil {
		tr.t.stats.count(o)
	}
	if tr.done != nil {
		tr.b.record(tr.done, o)
	}
}
