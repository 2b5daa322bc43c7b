package upstream

import "testing"

// An event loop asking for an idle connection gets one already armed in
// its own epoll set when one is among the recently used, so that loops
// keep their connections instead of taking them from each other.
func TestAcquireIdlePrefersTheLoopsOwnConnection(t *testing.T) {
	srv := newServer(t)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), defaultPool, srv.addr)
	a, b, c := mustAcquire(t, tg), mustAcquire(t, tg), mustAcquire(t, tg)
	a.Sock.Loops = 1                  // armed in loop 1
	b.Sock.Loops = 2                  // armed in loop 2
	c.Sock.Loops, c.Sock.Quiet = 3, 1 // in both, disarmed in loop 1
	a.Release()
	b.Release()
	c.Release() // c is the most recently used

	got, ok := tg.AcquireIdle(1, false)
	if !ok || got != a {
		t.Fatalf("loop 1 got %p (ok %v), want its own %p", got, ok, a)
	}
	got.Release()
	got, ok = tg.AcquireIdle(2, false)
	if !ok || got != c {
		t.Fatalf("loop 2 got %p (ok %v), want the most recent armed there, %p", got, ok, c)
	}
	got.Release()
	got, ok = tg.AcquireIdle(4, false) // a loop with none of its own takes the most recent
	if !ok || got != c {
		t.Fatalf("loop 3 got %p (ok %v), want the most recent, %p", got, ok, c)
	}
	if tg.Idle() != 2 {
		t.Fatalf("idle = %d, want 2", tg.Idle())
	}
}
