package proxy

import (
	"sync/atomic"
	"time"
)

// logThrottle lets about one log line a second through, from any number of
// goroutines: a failure that can happen for every connection or request
// (out of file descriptors, say) must not flood the log. The zero value
// lets the first line through.
type logThrottle struct {
	last atomic.Int64 // unix ns of the last line let through
}

// allow reports whether a line may be logged at now; at most one caller a
// second gets true.
func (l *logThrottle) allow(now time.Time) bool {
	n, last := now.UnixNano(), l.last.Load()
	return n-last >= int64(time.Second) && l.last.CompareAndSwap(last, n)
}
