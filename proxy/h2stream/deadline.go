package h2stream

import (
	"sync"
	"time"
)

// deadline is a stream's read or write deadline. The exchange moves its
// idle deadline forward on every read and write; arming a timer each time
// would cost a timer per call. Here a call stores the time, and one timer
// per stream, re-armed only when a deadline comes earlier than the armed
// one, checks it when it fires: a deadline that has passed wakes the
// stream's waiting Read or Write (which then sees passed), one moved
// forward re-arms the timer.
type deadline struct {
	wake chan struct{} // the waiter's wake

	mu     sync.Mutex
	at     time.Time // zero: none
	armed  time.Time // when the timer fires; zero when it is not armed
	timer  *time.Timer
	closed bool
}

// open readies the deadline for a new stream. A timer kept from an
// earlier stream that fires late finds no deadline, or the new stream's,
// and goes by it.
func (d *deadline) open() {
	d.mu.Lock()
	d.at, d.armed, d.closed = time.Time{}, time.Time{}, false
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

// passed reports whether the deadline has passed.
func (d *deadline) passed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.at.IsZero() && !time.Now().Before(d.at)
}

// fire checks the deadline when the timer fires.
func (d *deadline) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := d.at
	d.armed = time.Time{}
	if d.closed || at.IsZero() {
		return
	}
	if wait := time.Until(at); wait > 0 {
		d.armed = at
		d.timer.Reset(wait)
		return
	}
	signal(d.wake) // passed: the waiter wakes and sees it
}

// stop disarms the deadline for good: the stream is done with.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.at = time.Time{}
	if d.timer != nil {
		d.timer.Stop()
	}
}
