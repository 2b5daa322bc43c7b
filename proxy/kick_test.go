package proxy

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A loop that finishes a batch wakes the scheduler (readies the kicked
// goroutine) when a sibling loop waits in the netpoller with events
// pending, and only then.
func TestKickSiblingsOnlyForAParkedLoopWithEvents(t *testing.T) {
	r := &reactor{kick: make(chan struct{}, 1)}
	for i := range 2 {
		l, err := newEvLoop(r, i)
		if err != nil {
			t.Fatal(err)
		}
		defer l.file.Close()
		r.loops = append(r.loops, l)
	}
	a, b := r.loops[0], r.loops[1]
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(p[0])}
	if err := epollCtl(b.epfd, unix.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		t.Fatal(err)
	}
	kicked := func() bool {
		select {
		case <-r.kick:
			return true
		default:
			return false
		}
	}

	b.parked.Store(true)
	if r.kickSiblings(a); kicked() {
		t.Fatal("kicked for a parked loop with nothing pending")
	}
	unix.Write(p[1], []byte{1})
	b.parked.Store(false)
	if r.kickSiblings(a); kicked() {
		t.Fatal("kicked for a loop that is running")
	}
	b.parked.Store(true)
	if r.kickSiblings(a); !kicked() {
		t.Fatal("no kick for a parked loop with an event pending")
	}
	a.parked.Store(true) // nothing pending in a; b's events are b's own
	if r.kickSiblings(b); kicked() {
		t.Fatal("a loop kicked for its own events")
	}
}
