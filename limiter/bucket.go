package limiter

import (
	"math"
	"sync"
)

// slot is the state of one token bucket, kept as a GCRA "theoretical
// arrival time": fullAt is the instant (nanoseconds since the limiter's
// epoch) at which the bucket is full again. A zero slot is a full bucket.
//
// rate and burst record the quota fullAt was computed against, so that a
// bucket can be rescaled lazily when its quota changes (reload) or its
// refill rate is scaled (adaptive factor): adjust converts the deficit
// without a pass over every bucket.
type slot struct {
	fullAt   int64
	rate     float32 // tokens per second
	burst    float32
	inflight int32  // concurrency slots held (tracked callers only)
	_        uint32 // explicit padding
	lease    *lease // Redis store only; nil with the local store
	// qEnd and qUsed count the long-window quota locally (local store, or
	// on_failure local): qUsed units spent in the period ending at qEnd
	// (wall-clock ns). Zero when the policy has no quota.
	qEnd  int64
	qUsed int64
}

// verdict is what a bucket says about one request.
type verdict struct {
	ok        bool
	remaining int   // whole tokens left after this request
	nextNs    int64 // until the next whole token; 0 when full
	retryNs   int64 // until one token is available (denied requests)
}

// bucket is a named client's bucket: one slot behind its own mutex, so
// that distinct clients never contend.
type bucket struct {
	mu sync.Mutex
	s  slot
}

// adjust rescales the bucket to a new quota. A refill rate change keeps the
// tokens owed; a burst change keeps the spent fraction, so a reload is
// never a way to get a full bucket.
func (s *slot) adjust(now int64, rate, burst float64) {
	r, b := float32(rate), float32(burst)
	if s.rate == r && s.burst == b {
		return
	}
	if s.fullAt > now && s.rate > 0 && s.burst > 0 {
		owed := float64(s.fullAt-now) * float64(s.rate) / 1e9
		owed *= float64(b) / float64(s.burst)
		s.fullAt = now + int64(owed/float64(r)*1e9)
	}
	s.rate, s.burst = r, b
}

// take decides one request of cost tokens against the bucket at time now
// (ns), taking them when commit is true and they are available. With
// commit false it is a peek: remaining counts the tokens there are, none
// is taken.
func (s *slot) take(now int64, rate, burst float64, cost int64, commit bool) verdict {
	s.adjust(now, rate, burst)
	interval := 1e9 / float64(s.rate)
	b := float64(s.burst)
	tat := max(s.fullAt, now)
	owed := float64(tat-now) / interval
	avail := b - owed
	n := float64(cost)
	if avail < n-1e-9 {
		return verdict{
			remaining: max(0, int(math.Floor(avail+1e-9))),
			nextNs:    nextToken(owed, interval),
			retryNs:   int64(math.Ceil((n - avail) * interval)),
		}
	}
	if commit {
		s.fullAt = tat + int64(n*interval)
		owed += n
	}
	return verdict{
		ok:        true,
		remaining: int(math.Floor(b - owed + 1e-9)),
		nextNs:    nextToken(owed, interval),
	}
}

// full reports whether the bucket has refilled completely at now, which
// makes it indistinguishable from a bucket that was never created.
func (s *slot) full(now int64) bool { return s.fullAt <= now }

// nextToken returns the nanoseconds until the bucket, owing owed tokens,
// gains its next whole token (0 when it owes nothing).
func nextToken(owed, interval float64) int64 {
	if owed <= 1e-9 {
		return 0
	}
	frac := owed - math.Floor(owed)
	if frac < 1e-9 {
		frac = 1
	}
	return int64(math.Ceil(frac * interval))
}

// ceilSeconds rounds nanoseconds up to whole seconds.
func ceilSeconds(ns int64) int {
	if ns <= 0 {
		return 0
	}
	return int((ns + 1e9 - 1) / 1e9)
}

// charge takes n more tokens after the fact (a cost header), driving the
// bucket into debt if need be: the caller's next requests wait for it.
func (s *slot) charge(now int64, rate, burst float64, n int64) {
	s.adjust(now, rate, burst)
	s.fullAt = max(s.fullAt, now) + int64(float64(n)*1e9/float64(s.rate))
}
