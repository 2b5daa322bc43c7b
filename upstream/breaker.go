package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker"
)

// breaker is one target's circuit breaker: a gobreaker.TwoStepCircuitBreaker
// plus a lock-free mirror of its state, so Pick can skip an open target with
// an atomic load instead of the breaker's mutex.
//
// State changes are lazy (STYLE.md item 10): gobreaker moves open to
// half-open when asked after open_for, so there is no goroutine or timer per
// breaker. admits asks only once the mirror says open_for has passed.
type breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker
	settings breakerSettings
	log      *slog.Logger
	upstream string
	addr     string

	// state mirrors gobreaker's state; written only by onChange, which
	// gobreaker calls under its own lock right after each transition.
	state atomic.Int32
	// openUntil is when an open breaker may go half-open (unix ns).
	openUntil atomic.Int64
	// errRefused is returned by Target.Begin when the breaker says no.
	errRefused error
	// counts are what the closed breaker trips on (see closedCounts).
	counts closedCounts
}

// newBreaker returns a closed breaker for one target.
func newBreaker(s breakerSettings, upstream, addr string, log *slog.Logger) *breaker {
	b := &breaker{
		settings:   s,
		log:        log,
		upstream:   upstream,
		addr:       addr,
		errRefused: fmt.Errorf("upstream %q target %s: %w", upstream, addr, ErrBreakerOpen),
		counts:     closedCounts{interval: s.interval},
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker(gobreaker.Settings{
		Name:          upstream + "/" + addr,
		MaxRequests:   s.halfOpen,
		Timeout:       s.openFor, // no Interval: see closedCounts
		ReadyToTrip:   b.readyToTrip,
		OnStateChange: b.onChange,
	})
	return b
}

// readyToTrip is gobreaker's ReadyToTrip, called as a try fails in the
// closed state: it judges the breaker's own counts (closedCounts), which
// the failing try was added to as it ended.
func (b *breaker) readyToTrip(gobreaker.Counts) bool {
	return b.counts.tripped(&b.settings)
}

// record counts an ended try (see closedCounts) and reports it to
// gobreaker, which trips, closes or reopens.
func (b *breaker) record(done func(bool), o Outcome) {
	failed := b.settings.failure(o)
	b.counts.record(failed, time.Now())
	done(!failed)
}

// failure reports whether an outcome counts against the target under
// failure_on. A reset (or malformed response) is answered 502, so it counts
// under "5xx"; as a transport failure it also counts under
// "connect_failure". Anything else, including outcomes the target is not to
// blame for (the zero Outcome), counts as a success, as gobreaker's
// IsSuccessful would: every try must be reported, or a half-open breaker
// would wait for ever for its probes.
func (s *breakerSettings) failure(o Outcome) bool {
	switch {
	case o.ConnectFailure && s.onConnect,
		o.Timeout && s.onTimeout,
		o.Reset && (s.on5xx || s.onConnect),
		o.Status >= 500 && o.Status <= 599 && s.on5xx:
		return true
	}
	return false
}

// onChange is gobreaker's OnStateChange. It runs under the breaker's lock,
// so it must not call the breaker: it only updates the mirror and logs.
func (b *breaker) onChange(_ string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		b.openUntil.Store(time.Now().Add(b.settings.openFor).UnixNano())
	}
	if to == gobreaker.StateClosed {
		b.counts.reset()
	}
	b.state.Store(int32(to))
	level := slog.LevelInfo
	if to == gobreaker.StateOpen {
		level = slog.LevelWarn
	}
	b.log.Log(context.Background(), level, "upstream breaker state changed",
		"upstream", b.upstream, "target", b.addr, "from", from.String(), "to", to.String())
}

// admits reports whether Pick may choose the target: closed, half-open with
// probe slots left, or open with open_for elapsed (which moves it to
// half-open). A closed breaker costs one atomic load; only an open one
// reads the clock.
func (b *breaker) admits() bool {
	switch gobreaker.State(b.state.Load()) {
	case gobreaker.StateClosed:
		return true
	case gobreaker.StateOpen:
		if time.Now().UnixNano() <= b.openUntil.Load() {
			return false
		}
		if b.cb.State() == gobreaker.StateOpen { // lazily moves to half-open
			return false
		}
	}
	return b.cb.Counts().Requests < b.settings.halfOpen
}

// current returns the breaker's state, moving open to half-open when due.
func (b *breaker) current() gobreaker.State { return b.cb.State() }

// remaining returns how long the breaker keeps its target out: the rest of
// open_for when open, 0 when it admits requests now. A half-open breaker
// whose probe slots are taken answers within a request's time, so 1 s.
func (b *breaker) remaining(now time.Time) time.Duration {
	if b.admits() {
		return 0
	}
	if gobreaker.State(b.state.Load()) == gobreaker.StateOpen {
		return max(time.Duration(b.openUntil.Load()-now.UnixNano()), 0)
	}
	return time.Second
}
