package proxy

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// epollCtl and epollPoll are epoll_ctl(2) and a non-blocking
// epoll_pwait(2) made as raw system calls: neither blocks, so the event
// loop keeps its P (see upstream.RawIO).
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
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

// epollWait is epoll_pwait(2) waiting as long as it takes, as an ordinary
// system call: the runtime may give the loop's P to another thread while
// it sleeps. EINTR returns no events.
func epollWait(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), ^uintptr(0), 0, 0)
	if errno == unix.EINTR {
		return 0, nil
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
