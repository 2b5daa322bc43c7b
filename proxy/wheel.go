package proxy

import "time"

// wheelLink is a session's place in the timing wheel.
type wheelLink struct {
	prev, next *session
	expires    int64 // tick at which the session expires
	slot       int   // -1 when not in the wheel
}

// timingWheel is a hashed timing wheel: slots of doubly linked sessions,
// indexed by expiry tick modulo the slot count. Insert and remove are O(1);
// advancing visits only the slots of the ticks that passed. Sessions that
// expire more than one revolution ahead stay in their slot until their tick.
// Not safe for concurrent use: the reactor holds its lock.
type timingWheel struct {
	tick  time.Duration
	start time.Time
	now   int64 // last tick advanced to
	slots []*session
}

func (w *timingWheel) init(tick time.Duration, n int, start time.Time) {
	w.tick, w.start, w.slots = tick, start, make([]*session, n)
}

func (w *timingWheel) tickOf(t time.Time) int64 {
	return int64(t.Sub(w.start) / w.tick)
}

// insert schedules s to expire at t (rounded up to the next tick).
func (w *timingWheel) insert(s *session, t time.Time) {
	exp := w.tickOf(t) + 1
	if exp <= w.now {
		exp = w.now + 1
	}
	i := int(exp % int64(len(w.slots)))
	l := &s.wheel
	l.expires, l.slot, l.prev, l.next = exp, i, nil, w.slots[i]
	if head := w.slots[i]; head != nil {
		head.wheel.prev = s
	}
	w.slots[i] = s
}

// remove takes s out of the wheel.
func (w *timingWheel) remove(s *session) {
	l := &s.wheel
	if l.slot < 0 || (l.prev == nil && w.slots[l.slot] != s) {
		return
	}
	if l.prev != nil {
		l.prev.wheel.next = l.next
	} else {
		w.slots[l.slot] = l.next
	}
	if l.next != nil {
		l.next.wheel.prev = l.prev
	}
	l.prev, l.next, l.slot = nil, nil, -1
}

// advance moves the wheel to time t and appends the expired sessions to
// dst, removed from the wheel.
func (w *timingWheel) advance(t time.Time, dst []*session) []*session {
	target := w.tickOf(t)
	steps := target - w.now
	if steps > int64(len(w.slots)) {
		steps = int64(len(w.slots))
	}
	for ; steps > 0; steps-- {
		w.now++
		i := int(w.now % int64(len(w.slots)))
		for s := w.slots[i]; s != nil; {
			next := s.wheel.next
			if s.wheel.expires <= target {
				w.remove(s)
				dst = append(dst, s)
			}
			s = next
		}
	}
	w.now = target
	return dst
}
