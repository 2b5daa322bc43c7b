package upstream

import (
	"sync/atomic"
	"time"
)

// Retry budget parameters (Finagle's RetryBudget shape: a percentage of
// recent requests plus a floor, over a time window).
const (
	// budgetBuckets one-second buckets make the sliding window.
	budgetBuckets = 10
	// budgetRatio is the share of requests that may be retried.
	budgetRatio = 0.2
	// budgetFloor retries per window are allowed whatever the traffic, so
	// a quiet upstream can still retry its occasional failure.
	budgetFloor = 5
)

// retryBudget bounds an upstream's retries to budgetRatio of its requests
// over the last budgetBuckets seconds, plus budgetFloor. Counting is a few
// atomic operations and allocates nothing; concurrent bucket roll-overs may
// lose a count or two, which only makes the budget approximate. It belongs
// to the Registry, keyed by upstream name, so it survives reloads.
type retryBudget struct {
	now     func() time.Time
	buckets [budgetBuckets]budgetBucket
}

// budgetBucket counts one second's requests and retries.
type budgetBucket struct {
	sec      atomic.Int64 // the unix second counted, 0 = never used
	requests atomic.Int64
	retries  atomic.Int64
}

func newRetryBudget(now func() time.Time) *retryBudget {
	return &retryBudget{now: now}
}

// bucket returns the bucket for unix second sec, clearing it first if it
// still holds an older second.
func (b *retryBudget) bucket(sec int64) *budgetBucket {
	k := &b.buckets[uint64(sec)%budgetBuckets]
	if s := k.sec.Load(); s < sec && k.sec.CompareAndSwap(s, sec) {
		k.requests.Store(0)
		k.retries.Store(0)
	}
	return k
}

// countRequest records one request.
func (b *retryBudget) countRequest() {
	b.bucket(b.now().Unix()).requests.Add(1)
}

// allowRetry records a retry if the window has room for it. The retry is
// added before the check and taken back on refusal, so concurrent callers
// cannot all squeeze through the last slot.
func (b *retryBudget) allowRetry() bool {
	sec := b.now().Unix()
	k := b.bucket(sec)
	k.retries.Add(1)
	requests, retries := b.window(sec)
	if float64(retries) > budgetRatio*float64(requests)+budgetFloor {
		k.retries.Add(-1)
		return false
	}
	return true
}

// window sums the buckets of the last budgetBuckets seconds up to sec.
func (b *retryBudget) window(sec int64) (requests, retries int64) {
	for i := range b.buckets {
		k := &b.buckets[i]
		if s := k.sec.Load(); s > sec-budgetBuckets && s <= sec {
			requests += k.requests.Load()
			retries += k.retries.Load()
		}
	}
	return requests, retries
}
