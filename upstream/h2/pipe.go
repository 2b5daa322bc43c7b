package h2

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeSize is the capacity of a pipe: what a stream holds of a body
// between the exchange and the HTTP/2 connection, each way. A pipe's
// buffer starts at pipeStart bytes, when the first byte comes, and
// doubles as more wait: most bodies through a bridge (gRPC calls) are a
// few hundred bytes, and two buffers of pipeSize made and cleared for each
// call were a twentieth of the CPU of a unary gRPC call.
const (
	pipeSize  = 32 << 10
	pipeStart = 1 << 10
)

// pipe is a bounded byte buffer between two goroutines: the writer waits
// while it is full, the reader while it is empty, each until its deadline.
// Either end may close it with an error, which the other end gets once
// what was written before is read.
type pipe struct {
	mu   sync.Mutex
	buf  []byte // data is buf[r:w]
	r, w int
	werr error // the writer's end (io.EOF: the data ended normally)
	rerr error // the reader's end: writes fail with it

	// eofWithLast: a read that drains the pipe after its writer ended it
	// returns io.EOF with the last bytes. For a request body: x/net's
	// client then sends them in the frame that ends the stream, not in
	// two frames and two writes.
	eofWithLast bool

	readable chan struct{} // a token: data, werr or rerr arrived
	writable chan struct{} // a token: space or rerr
}

func newPipe() *pipe {
	return &pipe{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

// signal leaves a token in ch unless one is there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// read copies what the pipe holds into b, waiting for data until d's
// deadline or until done is closed.
func (p *pipe) read(b []byte, d *deadline, done <-chan struct{}) (int, error) {
	for {
		p.mu.Lock()
		if p.rerr != nil {
			err := p.rerr
			p.mu.Unlock()
			return 0, err
		}
		if p.w > p.r {
			n := copy(b, p.buf[p.r:p.w])
			var err error
			if p.r += n; p.r == p.w {
				p.r, p.w = 0, 0
				if p.werr == io.EOF && p.eofWithLast {
					err = io.EOF
				}
			}
			p.mu.Unlock()
			signal(p.writable)
			return n, err
		}
		if p.werr != nil {
			err := p.werr
			p.mu.Unlock()
			return 0, err
		}
		p.mu.Unlock()
		if err := d.wait(p.readable, done); err != nil {
			return 0, err
		}
	}
}

// write copies all of b into the pipe, waiting for room until d's
// deadline or until done is closed; n is how much went in.
func (p *pipe) write(b []byte, d *deadline, done <-chan struct{}) (n int, err error) {
	for {
		p.mu.Lock()
		switch {
		case p.rerr != nil:
			err = p.rerr
		case p.werr != nil:
			err = io.ErrClosedPipe
		}
		if err != nil {
			p.mu.Unlock()
			return n, err
		}
		if p.w == len(p.buf) && p.r > 0 {
			p.w = copy(p.buf, p.buf[p.r:p.w])
			p.r = 0
		}
		if p.w == len(p.buf) && len(p.buf) < pipeSize {
			p.grow(len(b) - n)
		}
		k := copy(p.buf[p.w:], b[n:])
		p.w += k
		n += k
		p.mu.Unlock()
		if k > 0 {
			signal(p.readable)
		}
		if n == len(b) {
			return n, nil
		}
		if err := d.wait(p.writable, done); err != nil {
			return n, err
		}
	}
}

// grow makes room for need more bytes, up to pipeSize in all. Called
// with p.mu held, p.r == 0.
func (p *pipe) grow(need int) {
	size := min(pipeSize, max(2*len(p.buf), p.w+need, pipeStart))
	buf := make([]byte, size)
	copy(buf, p.buf[:p.w])
	p.buf = buf
}

// closeWrite ends the data: the reader gets err (io.EOF for a normal end)
// after what is buffered. Only the first close counts.
func (p *pipe) closeWrite(err error) {
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.mu.Unlock()
	signal(p.readable)
}

// closeRead stops the reading: writes fail with err, and a waiting read
// returns it. Only the first close counts.
func (p *pipe) closeRead(err error) {
	p.mu.Lock()
	if p.rerr == nil {
		p.rerr = err
	}
	p.mu.Unlock()
	signal(p.writable)
	signal(p.readable)
}

// deadline is one direction's deadline of a Bridge, as net.Conn has them:
// a wait that passes it fails with os.ErrDeadlineExceeded, and moving it
// wakes the waits in progress so they go by the new one.
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	waiters int
	moved   chan struct{} // closed (and replaced) when t moves while someone waits
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
		timer := time.NewTimer(left)
		defer timer.Stop()
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

// drained reports that every byte written so far was read.
func (p *pipe) drained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.r == p.w
}
