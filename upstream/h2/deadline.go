package h2

import (
	"net"
	"os"
	"sync"
	"time"
)

// deadline is one direction's deadline of a Bridge, as net.Conn has them:
// a wait that passes it fails with os.ErrDeadlineExceeded, and moving it
// wakes the waits in progress so they go by the new one.
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	waiters int
	moved   chan struct{} // closed (and replaced) when t moves while someone waits
	timer   *time.Timer   // reused by one waiter at a time; nil until the first timed wait
	timing  bool          // a waiter holds timer
}

// set moves the deadline (zero: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.t = t
	if d.waiters > 0 {
		close(d.moved)
		d.moved = make(chan struct{})
	}
	d.mu.Unlock()
}

// enter registers a waiter and returns the deadline and its moved channel.
func (d *deadline) enter() (time.Time, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.moved == nil {
		d.moved = make(chan struct{})
	}
	d.waiters++
	return d.t, d.moved
}

func (d *deadline) leave() {
	d.mu.Lock()
	d.waiters--
	d.mu.Unlock()
}

// wait waits for a token in ch. It fails with os.ErrDeadlineExceeded
// once the deadline passes, and with net.ErrClosed when done is closed. A
// nil d never times out.
func (d *deadline) wait(ch <-chan struct{}, done <-chan struct{}) error {
	if d == nil {
		select {
		case <-ch:
			return nil
		case <-done:
			return net.ErrClosed
		}
	}
	for {
		t, moved := d.enter()
		err, again := d.waitUntil(t, moved, ch, done)
		d.leave()
		if !again {
			return err
		}
	}
}

// waitUntil is one round of wait; again: the deadline moved.
func (d *deadline) waitUntil(t time.Time, moved, ch, done <-chan struct{}) (err error, again bool) {
	var expired <-chan time.Time
	if !t.IsZero() {
		left := time.Until(t)
		if left <= 0 {
			return os.ErrDeadlineExceeded, false
		}
		timer := d.takeTimer(left)
		defer d.giveTimer(timer)
		expired = timer.C
	}
	select {
	case <-ch:
		return nil, false
	case <-done:
		return net.ErrClosed, false
	case <-expired:
		return os.ErrDeadlineExceeded, false
	case <-moved:
		return nil, true
	}
}

// takeTimer returns a timer running for left: the deadline's own (a
// Bridge's reads, and its writes, wait one at a time: no allocation per
// wait), or a new one while another waiter holds it.
func (d *deadline) takeTimer(left time.Duration) *time.Timer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timing {
		return time.NewTimer(left)
	}
	d.timing = true
	if d.timer == nil {
		d.timer = time.NewTimer(left)
	} else {
		d.timer.Reset(left) // Go 1.23 timers: no stale expiry survives Reset
	}
	return d.timer
}

// giveTimer stops a timer takeTimer returned.
func (d *deadline) giveTimer(t *time.Timer) {
	t.Stop()
	d.mu.Lock()
	if t == d.timer {
		d.timing = false
	}
	d.mu.Unlock()
}

// expiry returns a channel that receives at deadline (never, for the
// zero time) and the function that stops its timer.
func expiry(deadline time.Time) (<-chan time.Time, func()) {
	if deadline.IsZero() {
		return nil, func() {}
	}
	timer := time.NewTimer(time.Until(deadline))
	return timer.C, func() { timer.Stop() }
}
