package h2stream

import (
	"sync"
	"time"
)

// deadline is a stream's read or write deadline, kept here and handed to
// the HTTP/2 server only when it passes. The exchange moves its idle
// deadline forward on every read and write; setting the server's each
// time would cost a message to the connection's goroutine and a new timer
// per call. Here a call stores the time, and one timer per stream,
// re-armed only when a deadline comes earlier than the armed one, checks
// it when it fires: a deadline that has passed goes to the server (which
// ends the blocked read or write); one moved forward re-arms the timer.
type deadline struct {
	set func(time.Time) error // the server's deadline setter

	mu     sync.Mutex
	at     time.Time // zero: none
	armed  time.Time // when the timer fires; zero when it is not armed
	timer  *time.Timer
	closed bool
}

// open readies the deadline for a new stream whose server deadline
// setter is set. A timer kept from an earlier stream that fires late finds
// no deadline, or the new stream's, and goes by it.
func (d *deadline) open(set func(time.Time) error) {
	d.mu.Lock()
	d.set, d.at, d.armed, d.closed = set, time.Time{}, time.Time{}, false
	d.mu.Unlock()
}

// setTo sets the deadline to t (zero: none).
func (d *deadline) setTo(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.at = t
	if t.IsZero() || !d.armed.IsZero() && !t.Before(d.armed) {
		return nil // none, or the armed timer fires first and re-checks
	}
	d.armed = t
	if d.timer == nil {
		d.timer = time.AfterFunc(time.Until(t), d.fire)
	} else {
		d.timer.Reset(time.Until(t))
	}
	return nil
}

// fire checks the deadline when the timer fires.
func (d *deadline) fire() {
	d.mu.Lock()
	at := d.at
	d.armed = time.Time{}
	if d.closed || at.IsZero() {
		d.mu.Unlock()
		return
	}
	if wait := time.Until(at); wait > 0 {
		d.armed = at
		d.timer.Reset(wait)
		d.mu.Unlock()
		return
	}
	d.set(at) // passed: the server ends what waits (under mu: never after stop)
	d.mu.Unlock()
}

// stop disarms the deadline for good: the stream is done with.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.set = nil
	if d.timer != nil {
		d.timer.Stop()
	}
}
