package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ctl and Poll are epoll_ctl(2) and a non-blocking epoll_pwait(2) made
// as raw system calls: neither blocks, so the event loop keeps its P (see
// RawIO).
func Ctl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// Poll returns the events ready on epfd now, without waiting (see Ctl).
func Poll(epfd int, events []unix.EpollEvent) (int, error) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// Wait is epoll_pwait(2) waiting as long as it takes, as an ordinary
// system call: the runtime may give the loop's P to another thread while
// it sleeps. EINTR returns no events.
func Wait(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), ^uintptr(0), 0, 0)
	if errno == unix.EINTR {
		return 0, nil
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Wake adds one to an eventfd's counter, which makes it readable: an
// event loop with the eventfd in its epoll set wakes up.
func Wake(efd int) {
	one := [8]byte{1}
	unix.Write(efd, one[:])
}

// Drain resets an eventfd's counter, so that a level-triggered epoll set
// stops reporting it.
func Drain(efd int) {
	var buf [8]byte
	unix.Read(efd, buf[:])
}
