package upstream

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

func TestAcquireReusesConnections(t *testing.T) {
	srv := newServer(t)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), defaultPool, srv.addr)
	for i := range 100 {
		c := mustAcquire(t, tg)
		if c.Reused != (i > 0) {
			t.Fatalf("exchange %d: Reused = %v", i, c.Reused)
		}
		exchange(t, c)
		c.Release()
	}
	if got := srv.accepted.Load(); got != 1 {
		t.Fatalf("server accepted %d connections for 100 sequential exchanges, want 1", got)
	}
}

func TestAcquireReusesConnectionsConcurrently(t *testing.T) {
	srv := newServer(t)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), defaultPool, srv.addr)
	const workers, each = 4, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				c := mustAcquire(t, tg)
				exchange(t, c)
				c.Release()
			}
		})
	}
	wg.Wait()
	if got := srv.accepted.Load(); got > workers {
		t.Fatalf("server accepted %d connections for %d exchanges by %d workers", got, workers*each, workers)
	}
	if tg.Active() != 0 {
		t.Fatalf("active = %d after all released", tg.Active())
	}
}

func TestMaxIdleClosesSurplus(t *testing.T) {
	srv := newServer(t)
	p := defaultPool
	p.MaxIdlePerTarget = 2
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, srv.addr)
	var conns []*Conn
	for range 5 {
		c := mustAcquire(t, tg)
		exchange(t, c)
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	if tg.Idle() != 2 {
		t.Fatalf("idle = %d, want 2", tg.Idle())
	}
	testkit.Eventually(t, "3 surplus connections closed", func() bool { return srv.ended.Load() == 3 })
}

func TestMaxConnsWaitsForRelease(t *testing.T) {
	srv := newServer(t)
	p := defaultPool
	p.MaxConnsPerTarget = 2
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, srv.addr)
	c1, c2 := mustAcquire(t, tg), mustAcquire(t, tg)

	got := acquireAsync(tg, 5*time.Second)
	assertBlocked(t, tg, got)
	c1.Release()
	r := <-got
	if r.err != nil || r.c != c1 || !r.c.Reused {
		t.Fatalf("waiter got %p (reused %v), %v; want the released conn %p", r.c, r.c != nil && r.c.Reused, r.err, c1)
	}
	exchange(t, r.c)

	got = acquireAsync(tg, 5*time.Second)
	assertBlocked(t, tg, got)
	c2.Close() // a discarded conn frees a slot: the waiter dials
	r = <-got
	if r.err != nil || r.c.Reused {
		t.Fatalf("waiter after Close: reused %v, %v; want a fresh conn", r.c != nil && r.c.Reused, r.err)
	}
	exchange(t, r.c)
	if n := srv.accepted.Load(); n != 3 {
		t.Fatalf("accepted %d, want 3", n)
	}
}

func TestPoolExhaustedAtDeadline(t *testing.T) {
	srv := newServer(t)
	p := defaultPool
	p.MaxConnsPerTarget = 1
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, srv.addr)
	held := mustAcquire(t, tg)

	start := time.Now()
	c, err := tg.Acquire(start.Add(80 * time.Millisecond))
	if !isExhausted(err) || c != nil {
		t.Fatalf("Acquire on a full pool = %v, %v; want ErrPoolExhausted", c, err)
	}
	if d := time.Since(start); d < 70*time.Millisecond || d > 2*time.Second {
		t.Fatalf("gave up after %v, want about 80ms", d)
	}
	if _, err := tg.Acquire(time.Now().Add(-time.Second)); !isExhausted(err) {
		t.Fatalf("past deadline: %v, want ErrPoolExhausted", err)
	}
	held.Release()
	c = mustAcquire(t, tg)
	if !c.Reused {
		t.Fatal("after release the idle conn should be reused")
	}
	c.Release()
}

func TestIdleTimeoutCheckedOnAcquire(t *testing.T) {
	srv := newServer(t)
	clock := testkit.NewClock(testkit.Epoch)
	reg := testRegistry(t, registryOptions{now: clock.Now, reapEvery: time.Hour})
	p := defaultPool
	p.IdleTimeout = time.Minute
	_, tg := singleTarget(t, reg, p, srv.addr)
	c := mustAcquire(t, tg)
	exchange(t, c)
	c.Release()

	clock.Advance(59 * time.Second)
	c = mustAcquire(t, tg)
	if !c.Reused {
		t.Fatal("a conn idle for less than idle_timeout should be reused")
	}
	c.Release()

	clock.Advance(time.Minute)
	c = mustAcquire(t, tg)
	if c.Reused {
		t.Fatal("a conn idle for idle_timeout must not be reused")
	}
	exchange(t, c)
	c.Release()
	testkit.Eventually(t, "expired conn closed", func() bool { return srv.ended.Load() == 1 })
}

func TestReaperClosesExpiredIdle(t *testing.T) {
	srv := newServer(t)
	clock := testkit.NewClock(testkit.Epoch)
	reg := testRegistry(t, registryOptions{now: clock.Now, reapEvery: 5 * time.Millisecond})
	p := defaultPool
	p.IdleTimeout = time.Minute
	_, tg := singleTarget(t, reg, p, srv.addr)
	a, b := mustAcquire(t, tg), mustAcquire(t, tg)
	a.Release()
	clock.Advance(30 * time.Second)
	b.Release()
	clock.Advance(45 * time.Second) // a is 75s idle, b 45s
	testkit.Eventually(t, "reaper closes the older conn", func() bool { return tg.Idle() == 1 && srv.ended.Load() == 1 })
	clock.Advance(time.Minute)
	testkit.Eventually(t, "reaper closes the other", func() bool { return tg.Idle() == 0 && srv.ended.Load() == 2 })
}

func TestServerClosedIdleConnIsDetected(t *testing.T) {
	srv := newServer(t, closeAfter(1))
	clock := testkit.NewClock(testkit.Epoch)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{now: clock.Now}), defaultPool, srv.addr)
	c := mustAcquire(t, tg)
	exchange(t, c)
	c.Release()
	testkit.Eventually(t, "server closes its side", func() bool { return srv.ended.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // let the FIN reach our socket
	clock.Advance(trustWindow)        // past the window in which the check is skipped

	c = mustAcquire(t, tg)
	if c.Reused {
		t.Fatal("a conn the server closed was handed out")
	}
	exchange(t, c)
	c.Release()
	if srv.accepted.Load() != 2 {
		t.Fatalf("accepted %d, want 2", srv.accepted.Load())
	}
}

func TestReleaseWithUnreadBytesCloses(t *testing.T) {
	srv := newServer(t, reply("pong\nsurplus\n"))
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), defaultPool, srv.addr)
	c := mustAcquire(t, tg)
	exchange(t, c)
	testkit.Eventually(t, "surplus buffered", func() bool { _, _ = c.R.Peek(1); return c.R.Buffered() > 0 })
	c.Release()
	if tg.Idle() != 0 || tg.Active() != 0 {
		t.Fatalf("idle %d active %d; a conn with unread bytes must be closed", tg.Idle(), tg.Active())
	}
	testkit.Eventually(t, "server sees the close", func() bool { return srv.ended.Load() == 1 })
}

func TestDialRefusedIsDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := defaultPool
	p.MaxConnsPerTarget = 1
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, addr)
	for range 2 { // the failed dial must give its slot back
		_, err := tg.Acquire(time.Now().Add(time.Second))
		var de *DialError
		if !errors.As(err, &de) || de.Addr != addr || de.Timeout() || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Acquire to a closed port = %v; want *DialError wrapping ECONNREFUSED", err)
		}
	}
	if tg.Active() != 0 {
		t.Fatalf("active = %d", tg.Active())
	}
}

func TestDialTimeoutIsDialError(t *testing.T) {
	addr := fullListener(t)
	reg := testRegistry(t, registryOptions{})
	u := poolConf(defaultPool, addr)
	u.Timeouts.Connect = 100 * time.Millisecond
	s, err := reg.Apply(map[string]*conf.Upstream{"u": u})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	tg := s.Get("u").Targets()[0]
	for _, deadline := range []time.Time{{}, time.Now().Add(50 * time.Millisecond)} {
		start := time.Now()
		_, err = tg.Acquire(deadline)
		var de *DialError
		if !errors.As(err, &de) || !de.Timeout() {
			t.Fatalf("Acquire to a full backlog (deadline %v) = %v; want a timed-out *DialError", deadline, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("dial gave up after %v", d)
		}
	}
}

// fullListener returns the address of a socket listening with backlog 0
// whose accept queue is full, so further SYNs are dropped and connects hang.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("this kernel keeps accepting beyond the backlog; cannot provoke a connect timeout")
	return ""
}

func TestAcquireFreshAlwaysDials(t *testing.T) {
	srv := newServer(t)
	p := defaultPool
	p.MaxConnsPerTarget = 1
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, srv.addr)
	c := mustAcquire(t, tg)
	exchange(t, c)
	c.Release()

	// The pool is full with one idle conn: AcquireFresh closes it and dials.
	c, err := tg.AcquireFresh(time.Now().Add(time.Second))
	if err != nil || c.Reused {
		t.Fatalf("AcquireFresh = reused %v, %v; want a fresh conn", c != nil && c.Reused, err)
	}
	exchange(t, c)
	c.Release()
	if srv.accepted.Load() != 2 || tg.Idle() != 1 {
		t.Fatalf("accepted %d idle %d, want 2 and 1", srv.accepted.Load(), tg.Idle())
	}
	testkit.Eventually(t, "old idle conn closed", func() bool { return srv.ended.Load() == 1 })
}

func TestDoubleReleaseIsHarmless(t *testing.T) {
	srv := newServer(t)
	p := defaultPool
	p.MaxConnsPerTarget = 1
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, srv.addr)
	c := mustAcquire(t, tg)
	c.Release()
	c.Close()
	c.Release()
	if tg.Idle() != 1 || tg.Active() != 0 {
		t.Fatalf("idle %d active %d, want 1 and 0", tg.Idle(), tg.Active())
	}
	c = mustAcquire(t, tg) // the one slot is still usable
	c.Release()
}

type acquireResult struct {
	c   *Conn
	err error
}

func acquireAsync(tg *Target, wait time.Duration) chan acquireResult {
	ch := make(chan acquireResult, 1)
	go func() {
		c, err := tg.Acquire(time.Now().Add(wait))
		ch <- acquireResult{c, err}
	}()
	return ch
}

func assertBlocked(t *testing.T, tg *Target, ch chan acquireResult) {
	t.Helper()
	testkit.Eventually(t, "the Acquire waits in the pool's queue", func() bool {
		select {
		case r := <-ch:
			t.Fatalf("Acquire on a full pool returned at once: %v, %v", r.c, r.err)
		default:
		}
		tg.pool.mu.Lock()
		defer tg.pool.mu.Unlock()
		return len(tg.pool.waiters) == 1
	})
}

// TestPoolSlotsBalanceUnderContention races waiters, timeouts, releases and
// closes on a tiny pool, then checks that no slot leaked.
func TestPoolSlotsBalanceUnderContention(t *testing.T) {
	srv := newServer(t)
	p := conf.Pool{MaxConnsPerTarget: 2, MaxIdlePerTarget: 1, IdleTimeout: time.Minute}
	_, tg := singleTarget(t, testRegistry(t, registryOptions{}), p, srv.addr)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 150 {
				c, err := tg.Acquire(time.Now().Add(time.Duration(i%3) * time.Millisecond))
				if err != nil {
					var de *DialError // a deadline may expire mid-dial
					if !isExhausted(err) && !errors.As(err, &de) {
						t.Errorf("acquire: %v", err)
					}
					continue
				}
				if (w+i)%4 == 0 {
					c.Close()
				} else {
					c.Release()
				}
			}
		})
	}
	wg.Wait()
	tg.pool.mu.Lock()
	defer tg.pool.mu.Unlock()
	if tg.Active() != 0 || tg.pool.total != len(tg.pool.idle) || len(tg.pool.waiters) != 0 {
		t.Fatalf("after the storm: active %d, slots %d, idle %d, waiters %d",
			tg.Active(), tg.pool.total, len(tg.pool.idle), len(tg.pool.waiters))
	}
}

// TestRecentlyUsedConnSkipsLivenessCheck: a connection idle for less than
// trustWindow is handed out without the recvfrom check (the engine's
// keep-alive-race retry covers the rare server close in that window).
func TestRecentlyUsedConnSkipsLivenessCheck(t *testing.T) {
	srv := newServer(t, closeAfter(1))
	clock := testkit.NewClock(testkit.Epoch)
	_, tg := singleTarget(t, testRegistry(t, registryOptions{now: clock.Now}), defaultPool, srv.addr)
	c := mustAcquire(t, tg)
	exchange(t, c)
	c.Release()
	testkit.Eventually(t, "server closes its side", func() bool { return srv.ended.Load() == 1 })
	c = mustAcquire(t, tg)
	if !c.Reused {
		t.Fatal("a connection used just now was checked and dropped")
	}
	c.Close()
}
