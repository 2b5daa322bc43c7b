package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked of each splice pipe (F_SETPIPE_SZ).
const pipeSize = 1 << 20

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked wait.
var aLongTimeAgo = time.Unix(1, 0)

// splicePipe is one pipe used to move bytes socket → pipe → socket without
// copying them through user space. Both ends are non-blocking and
// registered with Go's netpoller (as os.Files), so waiting on them parks a
// goroutine, not a thread. rfd and wfd are kept because os.File.Fd would
// switch the descriptors to blocking mode.
type splicePipe struct {
	r, w     *os.File
	rc, wc   syscall.RawConn
	rfd, wfd int
	size     int // capacity in bytes
}

func newSplicePipe() (*splicePipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	size, err := unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil {
		size = 64 << 10 // the kernel default
	}
	p := &splicePipe{rfd: fds[0], wfd: fds[1], size: size,
		r: os.NewFile(uintptr(fds[0]), "splice-r"), w: os.NewFile(uintptr(fds[1]), "splice-w")}
	if p.rc, err = p.r.SyscallConn(); err == nil {
		p.wc, err = p.w.SyscallConn()
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("splice pipe: %w", err)
	}
	return p, nil
}

func (p *splicePipe) close() {
	p.r.Close()
	p.w.Close()
}

// pipePool keeps empty splice pipes for reuse; a pipe a failed transfer
// may have left bytes in is closed instead.
type pipePool struct{ pool sync.Pool }

func (pp *pipePool) get() (*splicePipe, error) {
	if p, ok := pp.pool.Get().(*splicePipe); ok {
		return p, nil
	}
	return newSplicePipe()
}

func (pp *pipePool) put(p *splicePipe, clean bool) {
	if !clean {
		p.close()
		return
	}
	p.r.SetReadDeadline(time.Time{})
	p.w.SetWriteDeadline(time.Time{})
	pp.pool.Put(p)
}

// errPeerFailed ends one side of a transfer because the other side failed.
var errPeerFailed = errors.New("splice: the other side failed")

// spliceTransfer is one n-byte move from src to dst through a pipe.
// Reading (src → pipe) and writing (pipe → dst) run in two goroutines so
// both sockets stay busy, with the pipe as the only buffer. Each wait is
// bounded by idle: a transfer fails only when a side makes no progress.
type spliceTransfer struct {
	p        *splicePipe
	src, dst *net.TCPConn
	srcRC    syscall.RawConn
	dstRC    syscall.RawConn
	srcFD    int
	n        int64
	idle     time.Duration
	filled   atomic.Int64
	// first records which side failed first (sideSrc or sideDst): the
	// other side's error is then only the wake-up it was sent.
	first atomic.Int32
}

const (
	sideSrc int32 = 1
	sideDst int32 = 2
)

// spliceN moves exactly n bytes from src to dst. It returns the bytes
// written to dst and, on a short count, whether src was at fault (EOF or a
// read error) so callers can tell a client that went away from an
// upstream that failed. When no pipe can be had (descriptors exhausted)
// it falls back to net.TCPConn.ReadFrom.
func (e *Engine) spliceN(dst, src *net.TCPConn, n int64, idle time.Duration) (written int64, srcFailed bool, err error) {
	t := &spliceTransfer{src: src, dst: dst, n: n, idle: idle}
	var err1, err2 error
	t.srcRC, err1 = src.SyscallConn()
	t.dstRC, err2 = dst.SyscallConn()
	if t.p, err = e.pipes.get(); err != nil || err1 != nil || err2 != nil {
		if t.p != nil {
			e.pipes.put(t.p, true)
		}
		written, err = dst.ReadFrom(&io.LimitedReader{R: src, N: n})
		return written, written < n && err == nil, err
	}
	t.srcRC.Control(func(fd uintptr) { t.srcFD = int(fd) })
	fillErr := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				e.log.Error("splice filler panicked", "panic", v)
				if t.first.CompareAndSwap(0, sideSrc) {
					t.p.r.SetReadDeadline(aLongTimeAgo) // wake the drainer
				}
				fillErr <- fmt.Errorf("splice filler panicked: %v", v)
			}
		}()
		fillErr <- t.fill()
	}()
	written, derr := t.drain()
	if derr != nil && t.first.CompareAndSwap(0, sideDst) {
		src.SetReadDeadline(aLongTimeAgo) // stop the filler promptly
		t.p.w.SetWriteDeadline(aLongTimeAgo)
	}
	ferr := <-fillErr
	e.pipes.put(t.p, derr == nil && ferr == nil && written == n)
	switch t.first.Load() {
	case sideSrc:
		return written, true, ferr
	case sideDst:
		return written, false, derr
	}
	return written, false, nil
}

// fill splices n bytes from src into the pipe. When splice says EAGAIN it
// waits on src if src is empty, or on the pipe if bytes are waiting in
// src's receive queue (the pipe is full). Each wait's callback retries the
// splice itself, so a wake-up between the attempt and the wait is never
// lost. On failure it wakes the drainer.
func (t *spliceTransfer) fill() (err error) {
	defer func() {
		if err != nil && t.first.CompareAndSwap(0, sideSrc) {
			t.p.r.SetReadDeadline(aLongTimeAgo) // wake the drainer
		}
	}()
	for total := int64(0); total < t.n; {
		moved, err := t.fillOnce(t.n - total)
		if err != nil {
			return err
		}
		total += moved
		t.filled.Store(total)
	}
	return nil
}

// fillOnce moves at least one byte from src into the pipe, waiting as
// needed; io.ErrUnexpectedEOF means src ended.
func (t *spliceTransfer) fillOnce(want int64) (int64, error) {
	var moved int64
	var serr error
	pipeFull := false
	attempt := func() bool {
		moved, serr = unix.Splice(t.srcFD, nil, t.p.wfd, nil, int(min(want, int64(t.p.size))), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if serr == unix.EAGAIN {
			pipeFull = queued(t.srcFD) > 0
			return false
		}
		return true
	}
	for {
		var err error
		if pipeFull {
			t.p.w.SetWriteDeadline(time.Now().Add(t.idle))
			if t.first.Load() != 0 {
				return 0, errPeerFailed
			}
			err = t.p.wc.Write(func(uintptr) bool { return attempt() || !pipeFull })
		} else {
			t.src.SetReadDeadline(time.Now().Add(t.idle))
			if t.first.Load() != 0 {
				return 0, errPeerFailed
			}
			err = t.srcRC.Read(func(uintptr) bool { return attempt() || pipeFull })
		}
		switch {
		case err != nil:
			return 0, err
		case serr == unix.EAGAIN:
			continue // switch to waiting on the other side
		case serr != nil:
			return 0, serr
		case moved == 0:
			return 0, io.ErrUnexpectedEOF
		}
		return moved, nil
	}
}

// drain splices from the pipe into dst until n bytes were written.
func (t *spliceTransfer) drain() (int64, error) {
	var total int64
	for total < t.n {
		// Arm the deadline, then look at the flag: a failing filler sets the
		// flag and then a past deadline, so one of the two is seen.
		t.p.r.SetReadDeadline(time.Now().Add(t.idle))
		if t.first.Load() != 0 && queued(t.p.rfd) == 0 {
			return total, errPeerFailed // what reached the pipe is delivered first
		}
		avail := 0
		err := t.p.rc.Read(func(fd uintptr) bool {
			avail = queued(int(fd))
			return avail > 0
		})
		if err != nil {
			if t.first.Load() == sideSrc && queued(t.p.rfd) > 0 {
				continue // woken by the filler's end: deliver what it moved
			}
			return total, err
		}
		for avail > 0 {
			moved, err := t.pumpOut(avail)
			total += int64(moved)
			avail -= moved
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// pumpOut splices up to avail bytes from the pipe into dst, waiting for dst
// to be writable as needed.
func (t *spliceTransfer) pumpOut(avail int) (int, error) {
	t.dst.SetWriteDeadline(time.Now().Add(t.idle))
	var moved int64
	var serr error
	err := t.dstRC.Write(func(fd uintptr) bool {
		moved, serr = unix.Splice(t.p.rfd, nil, int(fd), nil, avail, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return int(moved), serr
	}
	if moved == 0 {
		return 0, io.ErrShortWrite
	}
	return int(moved), nil
}

// queued returns the bytes waiting to be read on fd (FIONREAD), 0 on error.
func queued(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
	if err != nil {
		return 0
	}
	return n
}
