package upstream

import (
	"sync/atomic"
	"time"
)

// failureLogEvery is the least time between two log lines about failed
// tries of one target: a target that is down fails every request sent to
// it, and one line a second says as much as thousands.
const failureLogEvery = time.Second

// failureLog rate-limits the log lines of one target's failed tries and
// counts the lines it held back. The zero value is ready.
type failureLog struct {
	last    atomic.Int64 // unix ns of the last line written
	skipped atomic.Int64 // failures not logged since
}

// LogFailure reports whether a failed try of t at now should be logged
// (at most one a second per target) and, when it should, how many failures
// since the previous line were not. Safe for concurrent use; it allocates
// nothing.
func (t *Target) LogFailure(now time.Time) (log bool, suppressed int64) {
	l := &t.failLog
	n := now.UnixNano()
	last := l.last.Load()
	if n-last < int64(failureLogEvery) || !l.last.CompareAndSwap(last, n) {
		l.skipped.Add(1)
		return false, 0
	}
	return true, l.skipped.Swap(0)
}
