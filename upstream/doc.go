// Package upstream owns tollgate's connections to the services behind it:
// one pool of keep-alive connections per target, the balancing policies that
// choose a target for each try, a circuit breaker and an active health
// checker per target, a retry budget per upstream, and a Registry that keeps
// all of that across config reloads.
//
// The shape follows STYLE.md item 6: state that outlives a config snapshot
// (pools, active-connection counts, breakers, health flags and checkers)
// lives in Targets owned by the Registry and keyed by stable identity
// (upstream name, address, pool settings, TLS setup, protocol); retry budgets are keyed by
// upstream name; each snapshot's Set only holds pointers into it. A Target
// stays alive while at least one unreleased Set references it. A reload
// that changes a target's breaker settings resets its breaker; one that
// changes only its pool settings builds a new Target that inherits the
// breaker and health flag. A target new to the registry with health_check
// set is out of rotation until its first check (run at once) passes.
//
// One request on the request path looks like:
//
//	u := set.Get(route.Upstream)
//	u.CountRequest()                          // retry budget denominator
//	t, err := u.Pick(clientHash, tried)       // ErrAllUnavailable → 503 + u.RetryAfter()
//	                                          // ErrNoTarget → every target tried
//	try, err := t.Begin()                     // ErrBreakerOpen: pick another target
//	c, err := t.Acquire(deadline)             // *DialError, ErrPoolExhausted
//	... write the request to c, read the response head from c.R ...
//	try.Done(upstream.Outcome{Status: 200})   // or {ConnectFailure|Timeout|Reset: true};
//	                                          // counted in t.TryCounts() (the error rate)
//	c.Release()                               // or c.Close() after any error
//	... on failure: if allowed by retries: and u.AllowRetry(), Pick again ...
//
// Breakers (github.com/sony/gobreaker, two-step) trip on consecutive_failures
// or on failure_ratio over at least min_requests in one interval, stay open
// for open_for, then let half_open_requests probes through; failure_on
// decides which Outcomes count. Pick skips a target whose breaker is open
// (an atomic load; the move to half-open is lazy, no timer) or whose health
// check failed. Every transition is logged, and tollgate_breaker_state is
// exported by the Registry's collector.
//
// A target of an upstream with protocol h2c or h2 (h2target.go) lends
// Bridges instead of sockets: Conns whose net.Conn carries the exchange's
// HTTP/1.1 as one stream on the target's few multiplexed HTTP/2
// connections (package upstream/h2). A stream the server refused
// unprocessed reads as an error matching ErrStreamRefused.
//
// Goroutines: the Registry's idle reaper, and one health checker per target
// with health_check, each with a recover around its probes. Apply and
// release start and stop checkers; Registry.Close stops the reaper and every
// checker and waits for them.
package upstream
