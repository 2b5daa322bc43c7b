package upstream

import (
	"sync"
	"time"
)

// closedCounts are what a closed breaker trips on, counted when each try
// ends rather than when it begins.
//
// gobreaker counts a try in the generation it began in and drops its
// result when the generation changed before it ended; with its own
// interval that drops every slow failure that straddles an interval's end
// — with response_header: 2s and interval: 10s, five consecutive timeouts
// never land in one generation, and the breaker never opens. So gobreaker
// runs without an interval (its generation changes only with its state)
// and the breaker keeps these counts itself: consecutive failures, and
// tries and failures in fixed windows of interval by completion time.
type closedCounts struct {
	interval time.Duration // 0: the window never clears

	mu          sync.Mutex
	consecutive uint32
	requests    uint32
	failures    uint32
	windowEnd   time.Time
}

// record counts one ended try.
func (c *closedCounts) record(failed bool, now time.Time) {
	c.mu.Lock()
	if c.interval > 0 && !now.Before(c.windowEnd) {
		c.requests, c.failures = 0, 0
		c.windowEnd = now.Add(c.interval)
	}
	c.requests++
	if failed {
		c.failures++
		c.consecutive++
	} else {
		c.consecutive = 0
	}
	c.mu.Unlock()
}

// reset clears the counts, when the breaker closes.
func (c *closedCounts) reset() {
	c.mu.Lock()
	c.consecutive, c.requests, c.failures = 0, 0, 0
	c.windowEnd = time.Time{}
	c.mu.Unlock()
}

// tripped applies the trip conditions of s: consecutive_failures in a
// row, or at least min_requests in the current window with a failure
// ratio of at least failure_ratio.
func (c *closedCounts) tripped(s *breakerSettings) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.consecutive > 0 && c.consecutive >= s.consecutive {
		return true
	}
	if s.ratio <= 0 || c.requests == 0 || c.requests < s.minRequests {
		return false
	}
	return float64(c.failures) >= s.ratio*float64(c.requests)
}
