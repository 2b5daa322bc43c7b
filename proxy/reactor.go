package proxy

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reactorTick is the reactor's clock: how often it wakes to expire idle
// connections, and the resolution of idle_timeout for parked connections.
const reactorTick = 100 * time.Millisecond

// reactor parks idle keep-alive connections in an epoll set
// (EPOLLONESHOT): a parked connection holds no goroutine and no buffers.
// When it becomes readable the reactor hands it to a new goroutine; when
// its idle timeout passes (a timing wheel, not a timer per connection) it
// is closed.
type reactor struct {
	e    *Engine
	epfd int
	file *os.File // epfd, registered with Go's netpoller

	mu      sync.Mutex
	byFD    map[int]*session
	wheel   timingWheel
	stopped bool

	done chan struct{}
	wg   sync.WaitGroup
}

func newReactor(e *Engine) (*reactor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	r := &reactor{e: e, epfd: epfd, byFD: map[int]*session{}, done: make(chan struct{})}
	r.file = os.NewFile(uintptr(epfd), "tollgate-epoll")
	r.wheel.init(reactorTick, 1024, time.Now())
	r.wg.Add(2)
	go r.loop()
	go r.expireLoop()
	return r, nil
}

// park hands s to the reactor until it is readable or idle for idle. It
// returns false when the connection must be closed instead.
func (r *reactor) park(s *session, idle time.Duration) bool {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return false
	}
	op := unix.EPOLL_CTL_ADD
	if s.registered {
		op = unix.EPOLL_CTL_MOD
	}
	r.byFD[s.fd] = s
	s.queued, s.registered = true, true
	r.wheel.insert(s, time.Now().Add(idle))
	r.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(s.fd)}
	if err := unix.EpollCtl(r.epfd, op, s.fd, &ev); err != nil {
		r.mu.Lock()
		r.unqueueLocked(s)
		s.registered = false
		r.mu.Unlock()
		return false
	}
	return true
}

// forget removes s from the reactor before its connection is closed.
func (r *reactor) forget(s *session) {
	r.mu.Lock()
	r.unqueueLocked(s)
	r.mu.Unlock()
	unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	s.registered = false
}

func (r *reactor) unqueueLocked(s *session) {
	if !s.queued {
		return
	}
	if r.byFD[s.fd] == s {
		delete(r.byFD, s.fd)
	}
	r.wheel.remove(s)
	s.queued = false
}

// loop waits for readable connections. The epoll fd is itself registered
// with Go's netpoller (through an os.File), so this goroutine waits like
// any network goroutine instead of blocking a thread in epoll_wait, and the
// goroutines it starts are scheduled at once.
func (r *reactor) loop() {
	defer r.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			r.e.log.Error("reactor panicked", "panic", v)
		}
	}()
	rc, err := r.file.SyscallConn()
	if err != nil {
		r.e.log.Error("reactor: epoll fd not pollable", "err", err)
		return
	}
	events := make([]unix.EpollEvent, 256)
	for {
		var n int
		err := rc.Read(func(fd uintptr) bool {
			var werr error
			n, werr = unix.EpollWait(int(fd), events, 0)
			return werr == nil && n > 0
		})
		if err != nil {
			return // the epoll file was closed: stopping
		}
		for i := 0; i < n; i++ {
			r.wake(int(events[i].Fd))
		}
	}
}

// expireLoop closes parked connections whose idle timeout passed.
func (r *reactor) expireLoop() {
	defer r.wg.Done()
	t := time.NewTicker(reactorTick)
	defer t.Stop()
	expired := make([]*session, 0, 64)
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		expired = r.expire(expired[:0])
		for i, s := range expired {
			r.e.closeSession(s)
			expired[i] = nil
		}
	}
}

// wake hands a readable parked connection to a new goroutine.
func (r *reactor) wake(fd int) {
	r.mu.Lock()
	s := r.byFD[fd]
	if s != nil {
		r.unqueueLocked(s)
	}
	r.mu.Unlock()
	if s == nil {
		return
	}
	s.fresh = true
	r.e.dispatch(s)
}

// expire collects connections whose idle timeout passed.
func (r *reactor) expire(dst []*session) []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	dst = r.wheel.advance(time.Now(), dst)
	for _, s := range dst {
		if r.byFD[s.fd] == s {
			delete(r.byFD, s.fd)
		}
		s.queued = false
	}
	return dst
}

// stop ends the loop and closes every parked connection.
func (r *reactor) stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	r.mu.Unlock()
	close(r.done)
	r.file.Close() // ends loop's wait; closes epfd
	r.wg.Wait()
	r.mu.Lock()
	parked := make([]*session, 0, len(r.byFD))
	for _, s := range r.byFD {
		parked = append(parked, s)
	}
	r.mu.Unlock()
	for _, s := range parked {
		r.e.closeSession(s)
	}
}

// parkedCount returns how many connections are parked.
func (r *reactor) parkedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byFD)
}
