package proxy

import (
	"context"
	"time"
)

// keepAliveGrace is how long a draining engine keeps keep-alive
// connections that wait for their next request before closing them.
//
// Closing an idle keep-alive connection races with a client sending its
// next request on it: the request is lost (a reset, or an EOF before any
// answer) and a client that does not retry — wrk, most load balancers'
// health checks, a POST — counts a failure. A busy client sends its next
// request within microseconds of the last answer; given that request, the
// engine answers it with Connection: close, and the client reconnects to
// whichever process now accepts (the new one, after a binary upgrade)
// knowing the connection ended. Only connections idle for the whole grace
// are closed without a word, as HTTP/1.1 allows.
const keepAliveGrace = time.Second

// lingerIdle waits, with draining set, until no keep-alive connection
// waits for a request, grace has passed, or ctx ends. Connections whose
// request arrives meanwhile are served and closed after their answer.
func (e *Engine) lingerIdle(ctx context.Context, grace time.Duration) {
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for e.waitingForRequest() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// waitingForRequest returns how many connections wait for their next (or
// first) request: parked in an event loop, or idle in a worker (TLS).
func (e *Engine) waitingForRequest() int {
	n := 0
	if e.reactor != nil {
		n = e.reactor.parkedCount()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.sessions {
		if !s.parkable() && s.state.Load() == stateIdle {
			n++
		}
	}
	return n
}
