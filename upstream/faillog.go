package upstream

import "time"

// failureLogEvery is the least time between two log lines about failed
// tries of one target: a target that is down fails every request sent to
// it, and one line a second says as much as thousands.
const failureLogEvery = time.Second

// LogFailure reports whether a failed try of t at now should be logged
// (at most one a second per target) and, when it should, how many failures
// since the previous line were not. Safe for concurrent use; it allocates
// nothing.
func (t *Target) LogFailure(now time.Time) (log bool, suppressed int64) {
	return t.failLog.Allow(now, failureLogEvery)
}
