// Package lograte keeps a failure that can happen for every request or
// connection (an upstream that is down, descriptors exhausted, an exporter
// that cannot reach its collector) from flooding the log: a Limiter lets
// one line per interval through, from any number of goroutines, and
// counts the lines it held back so the next one can say how many.
package lograte

import (
	"sync/atomic"
	"time"
)

// Limiter lets at most one line per interval through. The zero value
// lets the first line through. It allocates nothing.
type Limiter struct {
	last    atomic.Int64 // unix ns of the last line let through
	skipped atomic.Int64 // lines held back since
}

// Allow reports whether a line may be logged at now, at most one per
// every; when it may, suppressed is how many were held back since the
// previous one.
func (l *Limiter) Allow(now time.Time, every time.Duration) (ok bool, suppressed int64) {
	n, last := now.UnixNano(), l.last.Load()
	if n-last < int64(every) || !l.last.CompareAndSwap(last, n) {
		l.skipped.Add(1)
		return false, 0
	}
	return true, l.skipped.Swap(0)
}
