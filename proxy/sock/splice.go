package sock

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// pipeSize is the capacity asked of each splice pipe (F_SETPIPE_SZ);
	// 1 MiB is also the default /proc/sys/fs/pipe-max-size, the most an
	// unprivileged process may ask. Larger pipes measured worse here.
	pipeSize = 1 << 20
	// spliceMax bounds the bytes asked of one splice call, so that one call
	// holds its thread (and its P, see rawSplice) for a bounded time.
	spliceMax = 1 << 20
	// spliceFlags: page references are moved, never copied, and no call
	// blocks, on the pipe (SPLICE_F_NONBLOCK) or on the sockets (Go's are
	// O_NONBLOCK); waits go through the netpoller.
	spliceFlags = unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
)

// splicePipe is one pipe used to move bytes socket → pipe → socket without
// copying them through user space. Nothing ever waits on it: every splice
// is non-blocking (SPLICE_F_NONBLOCK) and the relay knows how many bytes
// it holds. So the pipe is left in blocking mode, which keeps os.NewFile
// from registering it with the netpoller: registered, every splice in or
// out would also raise an epoll event nobody waits for, and an idle
// thread parked in epoll_wait may be woken for it. The os.Files only own
// the descriptors (and close them if a pooled pipe is dropped); rfd and
// wfd are the descriptors themselves.
type splicePipe struct {
	r, w     *os.File
	rfd, wfd int
}

func newSplicePipe() (*splicePipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	// Failure leaves the kernel default (64 KiB): slower, still correct.
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	return &splicePipe{rfd: fds[0], wfd: fds[1],
		r: os.NewFile(uintptr(fds[0]), "splice-r"), w: os.NewFile(uintptr(fds[1]), "splice-w")}, nil
}

func (p *splicePipe) close() {
	p.r.Close()
	p.w.Close()
}

// Pipes keeps empty splice pipes for reuse; a pipe a failed transfer may
// have left bytes in is closed instead. The zero value is ready; it is
// safe for concurrent use.
type Pipes struct{ pool sync.Pool }

func (pp *Pipes) get() (*splicePipe, error) {
	if p, ok := pp.pool.Get().(*splicePipe); ok {
		return p, nil
	}
	return newSplicePipe()
}

func (pp *Pipes) put(p *splicePipe, clean bool) {
	if !clean {
		p.close()
		return
	}
	pp.pool.Put(p)
}

// rawSplice is one non-blocking splice(2) through RawSyscall6: the Go
// scheduler is not told about it (no entersyscall/exitsyscall). A
// non-blocking splice of at most spliceMax bytes returns within a
// fraction of a millisecond, and announcing it would let sysmon take the
// P away from every call longer than 20 µs and hand it to another thread:
// measured, that hand-off and sysmon's own 20 µs polling were a fifth to
// a third of the relay's CPU. The price: while a call runs, its P runs
// nothing else and a stop-the-world waits for it.
func rawSplice(in, out, n int) (int, syscall.Errno) {
	r, _, errno := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), spliceFlags)
	return int(r), errno
}

// spliceRelay is one n-byte move from src to dst through a pipe, run by
// one goroutine: it fills the pipe from src until src has nothing more
// (or the pipe is full), then empties the pipe into dst, and parks on the
// netpoller only when neither side can move: on src when the pipe is
// empty, on dst when the pipe holds bytes dst cannot take. The kernel's
// socket buffers on both sides keep both connections streaming meanwhile,
// so a second goroutine would only add hand-offs.
//
// Every splice runs inside a RawConn callback, so a readiness report that
// arrives between a splice that found nothing and the wait is not lost.
//
// Waits are bounded by idle, counted from the last progress. The dst
// deadline is armed once at the start and re-armed only when it fires
// after progress; the src deadline likewise, except while batching.
//
// Batching: once src has delivered batchBytes within batchWait, the relay
// sets SO_RCVLOWAT on it to batchBytes (or the rest of the body), so the
// kernel signals src readable once per MiB queued (or when the receive
// window is nearly full) instead of on every arriving segment. Each such
// edge-triggered event wakes a thread parked in the netpoller, whether or
// not the relay waits on src; measured, batching cut the relay's CPU for
// a 1 GiB upload by a third. A batch wait is bounded by batchWait: when
// it expires, src is slower than batching pays for, and the relay goes
// back to waking on every byte (and batches again once batchBytes arrive
// within batchWait), so bytes of a slow stream are never held back more
// than batchWait. The kernel grows src's receive buffer to fit the
// SO_RCVLOWAT (to about 2 MiB, which autotuning reaches anyway on a fast
// connection); a transfer that never runs fast never batches, so a slow
// one keeps the buffer autotuning gave it.
type spliceRelay struct {
	src, dst     *net.TCPConn
	srcRC, dstRC syscall.RawConn
	srcFD, dstFD int
	p            *splicePipe
	n            int64 // bytes to move
	filled       int64 // bytes moved src → pipe
	written      int64 // bytes moved pipe → dst
	idle         time.Duration
	deadline     time.Time // the whole transfer's bound (zero: none)
	lastProgress time.Time // as of the last wait
	progressed   bool      // bytes moved since lastProgress was taken
	// The callbacks, bound once, and what their last splice returned.
	fillFn, drainFn func(uintptr) bool
	asked, moved    int
	errno           syscall.Errno
	// src deadline and batching state.
	srcDL      time.Time // armed on src; zero: none
	srcDLBatch bool      // srcDL is a batch wait's bound, not the idle one
	batch      bool      // batching (see above); off at the start
	noBatch    bool      // SO_RCVLOWAT failed: never batch
	lowat      int       // SO_RCVLOWAT set on src (0: untouched, i.e. 1)
	markTime   time.Time // rate check out of batching: since when
	markFilled int64     // ... and from which byte
}

const (
	// batchBytes is the SO_RCVLOWAT asked while batching.
	batchBytes = 1 << 20
	// batchWait bounds a batch wait: when batchBytes take longer than
	// this to arrive, batching stops (and resumes once they do not).
	batchWait = 5 * time.Millisecond
)

// Splice moves exactly n bytes from src to dst through a pooled pipe. It returns the bytes
// written to dst and, on a short count, whether src was at fault (EOF or a
// read error, including its idle timeout) so callers can tell a client
// that went away from an upstream that failed; when src fails, what it
// delivered is written to dst first. When no pipe can be had
// (descriptors exhausted) it falls back to net.TCPConn.ReadFrom. On
// return the read deadline of src and the write deadline of dst are idle
// from now, and src's SO_RCVLOWAT is back to 1 (as good as the default).
// deadline (zero: none) bounds the whole transfer, however steadily bytes
// move: a body trickled in to hold the connection ends there.
func (pp *Pipes) Splice(dst, src *net.TCPConn, n int64, idle time.Duration, deadline time.Time) (written int64, srcFailed bool, err error) {
	r := &spliceRelay{src: src, dst: dst, n: n, idle: idle, deadline: deadline}
	var err1, err2 error
	r.srcRC, err1 = src.SyscallConn()
	r.dstRC, err2 = dst.SyscallConn()
	if r.p, err = pp.get(); err != nil || err1 != nil || err2 != nil {
		if r.p != nil {
			pp.put(r.p, true)
		}
		if !deadline.IsZero() {
			src.SetReadDeadline(deadline)
		}
		written, err = dst.ReadFrom(&io.LimitedReader{R: src, N: n})
		return written, written < n && err == nil, err
	}
	r.srcRC.Control(func(fd uintptr) { r.srcFD = int(fd) })
	r.dstRC.Control(func(fd uintptr) { r.dstFD = int(fd) })
	r.fillFn, r.drainFn = r.fillOnce, r.drainOnce
	r.lastProgress = time.Now()
	r.markTime = r.lastProgress
	r.armSrc(r.until(), false)
	dst.SetWriteDeadline(r.until())
	srcFailed, err = r.run()
	pp.put(r.p, r.filled == r.written)
	r.setLowat(1)
	end := time.Now().Add(idle)
	src.SetReadDeadline(end)
	dst.SetWriteDeadline(end)
	return r.written, srcFailed, err
}

// run moves the bytes; srcFailed tells which side err is about.
func (r *spliceRelay) run() (srcFailed bool, err error) {
	var srcErr error // why src stopped early
	for r.written < r.n {
		if srcErr == nil {
			srcErr = r.fill()
		}
		if err := r.drain(); err != nil {
			switch {
			case srcErr != nil:
				return true, srcErr // src failed first
			case r.overdue(err):
				return true, err // the transfer's bound: src took too long, whichever wait it cut
			}
			return false, err
		}
		if srcErr != nil {
			return true, srcErr // after writing what src delivered
		}
	}
	return false, nil
}

// overdue reports a timeout that is the transfer's deadline passing.
func (r *spliceRelay) overdue(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) && !r.deadline.IsZero() && !time.Now().Before(r.deadline)
}

// fill moves bytes from src into the pipe until src has no more for now,
// the pipe is full or the body is all in; with the pipe empty it waits
// for src. io.ErrUnexpectedEOF means src ended early.
func (r *spliceRelay) fill() error {
	for r.filled < r.n {
		if err := r.srcStep(); err != nil {
			return err
		}
		switch {
		case r.errno == unix.EAGAIN:
			return nil // src empty or pipe full, with bytes to drain
		case r.errno == unix.EINTR:
			continue
		case r.errno != 0:
			return r.errno
		case r.moved == 0:
			return io.ErrUnexpectedEOF
		}
		r.filled += int64(r.moved)
		r.progressed = true
		if r.moved < r.asked {
			// src is empty or the pipe full: drain now rather than spend
			// a splice on finding out.
			return nil
		}
	}
	return nil
}

// drain moves every byte in the pipe to dst, waiting for dst as needed.
func (r *spliceRelay) drain() error {
	for r.written < r.filled {
		if err := r.dstStep(); err != nil {
			return err
		}
		switch {
		case r.errno == unix.EINTR:
			continue
		case r.errno != 0:
			return r.errno
		case r.moved == 0:
			return io.ErrShortWrite
		}
		r.written += int64(r.moved)
		r.progressed = true
	}
	return nil
}

// fillOnce is the src callback: one splice src → pipe. It asks to wait
// only when src had nothing and the pipe is empty.
func (r *spliceRelay) fillOnce(uintptr) bool {
	r.asked = int(min(r.n-r.filled, spliceMax))
	r.moved, r.errno = rawSplice(r.srcFD, r.p.wfd, r.asked)
	if r.errno == unix.EAGAIN && r.filled == r.written {
		r.beforeSrcWait()
		return false
	}
	return true
}

// drainOnce is the dst callback: one splice pipe → dst.
func (r *spliceRelay) drainOnce(uintptr) bool {
	r.moved, r.errno = rawSplice(r.p.rfd, r.dstFD, int(min(r.filled-r.written, spliceMax)))
	if r.errno == unix.EAGAIN {
		r.stampProgress()
		return false
	}
	return true
}

// stampProgress moves lastProgress to now if bytes moved since it was
// last taken.
func (r *spliceRelay) stampProgress() {
	if r.progressed {
		r.lastProgress = time.Now()
		r.progressed = false
	}
}

// beforeSrcWait runs just before the relay parks on src: it decides
// whether to batch, sets SO_RCVLOWAT to match and arms the deadline the
// wait needs.
func (r *spliceRelay) beforeSrcWait() {
	now := time.Now()
	if r.progressed {
		r.lastProgress, r.progressed = now, false
	}
	if !r.batch && !r.noBatch && r.filled-r.markFilled >= batchBytes {
		r.batch = now.Sub(r.markTime) <= batchWait // src is fast again
		r.markTime, r.markFilled = now, r.filled
	}
	idleDL := r.until()
	if r.batch && !r.setLowat(int(min(r.n-r.filled, batchBytes))) {
		r.batch, r.noBatch = false, true
	}
	switch {
	case r.batch:
		dl := now.Add(batchWait)
		if idleDL.Before(dl) {
			dl = idleDL
		}
		r.armSrc(dl, true)
	case r.srcDLBatch || r.srcDL.IsZero():
		r.armSrc(idleDL, false)
	}
	// Otherwise the armed idle deadline is at most idleDL: when it fires,
	// srcStep re-arms it from the last progress.
}

// setLowat sets src's SO_RCVLOWAT; false if the kernel refused.
func (r *spliceRelay) setLowat(v int) bool {
	if v == r.lowat || (v == 1 && r.lowat == 0) {
		return true
	}
	if err := unix.SetsockoptInt(r.srcFD, unix.SOL_SOCKET, unix.SO_RCVLOWAT, v); err != nil {
		return false
	}
	r.lowat = v
	return true
}

// armSrc sets src's read deadline (zero: none).
func (r *spliceRelay) armSrc(t time.Time, batch bool) {
	r.src.SetReadDeadline(t)
	r.srcDL, r.srcDLBatch = t, batch
}

// srcStep runs fillOnce through src's RawConn, parking as it asks.
func (r *spliceRelay) srcStep() error {
	for {
		err := r.srcRC.Read(r.fillFn)
		if err == nil {
			if r.srcDLBatch { // the batch arrived: back to the idle bound
				r.armSrc(r.until(), false)
			}
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if r.srcDLBatch {
			// batchBytes did not come within batchWait: stop batching
			// and take what is there. The retry arms the idle deadline
			// if it has to wait.
			r.batch = false
			r.markTime, r.markFilled = time.Now(), r.filled
			r.setLowat(1)
			r.armSrc(time.Time{}, false)
			continue
		}
		if !r.rearm() {
			return err
		}
		r.armSrc(r.until(), false)
	}
}

// dstStep runs drainOnce through dst's RawConn, parking as it asks.
func (r *spliceRelay) dstStep() error {
	for {
		err := r.dstRC.Write(r.drainFn)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if !r.rearm() {
			return err
		}
		r.dst.SetWriteDeadline(r.until())
	}
}

// rearm reports whether an idle deadline that fired came too early: bytes
// moved less than idle ago, and the transfer's deadline is not reached.
func (r *spliceRelay) rearm() bool {
	r.stampProgress()
	return time.Now().Before(r.until())
}

// until is when the current wait ends: idle after the last progress, or
// the transfer's deadline if that comes first.
func (r *spliceRelay) until() time.Time {
	t := r.lastProgress.Add(r.idle)
	if !r.deadline.IsZero() && r.deadline.Before(t) {
		return r.deadline
	}
	return t
}
