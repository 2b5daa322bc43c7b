package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
)

// ErrNoTarget is returned by Upstream.Pick when every target is excluded
// (already tried) or unusable. The proxy maps it to 503.
var ErrNoTarget = errors.New("no upstream target available")

// ErrAllUnavailable is returned by Upstream.Pick when no target may be
// picked because every one is out of rotation (breaker open, health check
// failing), as opposed to all having been tried. It wraps ErrNoTarget. The
// proxy answers 503 at once with Retry-After from Upstream.RetryAfter.
var ErrAllUnavailable = fmt.Errorf("every target is unavailable (breaker open or unhealthy): %w", ErrNoTarget)

// ErrBreakerOpen is returned by Target.Begin when the target's breaker
// refuses a try: it is open, or half-open with all its probe slots taken.
var ErrBreakerOpen = errors.New("circuit breaker open")

// ErrPoolExhausted is returned by Target.Acquire when max_conns_per_target
// connections stay in use until the deadline. The proxy maps it to 503.
var ErrPoolExhausted = errors.New("upstream connection pool exhausted")

// ErrClosed is returned by Registry.Apply after Registry.Close.
var ErrClosed = errors.New("upstream registry closed")

// DialError is a failure to open a connection to a target. Nothing was sent,
// so a retry on another target is always safe.
type DialError struct {
	// Addr is the target's address as configured.
	Addr string
	// Err is the error from the dialer (usually a *net.OpError).
	Err error
}

// Error implements error.
func (e *DialError) Error() string {
	return "upstream " + e.Addr + ": connect: " + e.Err.Error()
}

// Unwrap returns the dialer's error, so errors.Is(err, syscall.ECONNREFUSED)
// works through it.
func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the dial failed because the connect timeout or the
// caller's deadline expired (as opposed to a refusal or an unreachable host).
func (e *DialError) Timeout() bool {
	if errors.Is(e.Err, os.ErrDeadlineExceeded) || errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}
