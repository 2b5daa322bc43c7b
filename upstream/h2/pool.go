package h2

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"tollgate/proxy/http1"
)

// Tuning of every Pool's HTTP/2 connections.
const (
	// defaultStreams is the stream limit assumed of a connection whose
	// server has not said (it always has by the end of Prepare's dial:
	// see open).
	defaultStreams = 100
	// streamWindow is the flow-control window of each stream: the most of
	// a response body the gateway buffers for one stream.
	streamWindow = 1 << 20
	// maxHeaderList bounds a response's header list (SETTINGS_MAX_HEADER_LIST_SIZE).
	maxHeaderList = 256 << 10
	// probeBody is how much of a health check's answer is read.
	probeBody = 64 << 10
	// writeBuffer is the first size of a connection's output buffer.
	writeBuffer = 16 << 10
)

// Options configure a Pool. Zero values: IdleTimeout 0 keeps idle
// connections open.
type Options struct {
	// Addr is the target's "host:port", for messages.
	Addr string
	// TLS: the connections are TLS ("https" in :scheme); else h2c.
	TLS bool
	// Dial opens a connection ready for HTTP/2 frames (TCP for h2c; TLS
	// with "h2" negotiated for h2) before deadline (zero: none).
	Dial func(deadline time.Time) (net.Conn, error)
	// IdleTimeout closes a connection without streams for this long.
	IdleTimeout time.Duration
}

// Pool is the HTTP/2 connections to one target: as few as the server's
// stream limits allow, a new one dialled only when every open one is full
// or closing. Safe for concurrent use.
type Pool struct {
	opts   Options
	scheme string

	bufs sync.Pool // of *[]byte: connections' output buffers

	mu      sync.Mutex
	conns   []*clientConn
	dialing *dialCall // the dial in progress, nil when none
	retired bool
}

// dialCall is a dial that every caller wanting a connection waits for.
type dialCall struct {
	done chan struct{}
	err  error
}

// NewPool returns an empty pool for one target.
func NewPool(o Options) *Pool {
	p := &Pool{opts: o, scheme: "http"}
	p.bufs.New = func() any { b := make([]byte, 0, writeBuffer); return &b }
	if o.TLS {
		p.scheme = "https"
	}
	return p
}

// takeBuf returns an empty output buffer.
func (p *Pool) takeBuf() []byte { return (*p.bufs.Get().(*[]byte))[:0] }

// Addr returns the target's address.
func (p *Pool) Addr() string { return p.opts.Addr }

// Conns returns how many HTTP/2 connections are open, for tests and
// metrics.
func (p *Pool) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// reserve takes a stream on a connection with room, dialling one (before
// deadline, the dial bounded by connect as well) when none has. reused is
// false when this call dialled the connection. The caller ends the
// reservation with release.
func (p *Pool) reserve(deadline time.Time, connect time.Duration) (c *clientConn, reused bool, err error) {
	reused = true
	for {
		p.mu.Lock()
		if p.retired {
			p.mu.Unlock()
			return nil, false, errPoolClosed
		}
		c, done := p.pickLocked()
		if c != nil {
			c.reserved++
			p.mu.Unlock()
			shutdownAll(done)
			return c, reused, nil
		}
		call := p.dialing
		mine := call == nil
		if mine {
			call = &dialCall{done: make(chan struct{})}
			p.dialing = call
		}
		p.mu.Unlock()
		shutdownAll(done)
		if mine {
			p.dialConn(call, deadline, connect)
			reused = false
		} else if err := waitCall(call, deadline); err != nil {
			return nil, false, err
		}
		if call.err != nil {
			return nil, false, call.err
		}
	}
}

// waitCall waits for another caller's dial until deadline.
func waitCall(call *dialCall, deadline time.Time) error {
	expired, stop := expiry(deadline)
	defer stop()
	select {
	case <-call.done:
		return nil
	case <-expired:
		return fmt.Errorf("waiting for a connection being dialled: %w", context.DeadlineExceeded)
	}
}

// pickLocked returns the first connection with room for a stream, and
// takes out the connections that are done (closed, or going away without
// streams), for the caller to shut down outside the lock.
func (p *Pool) pickLocked() (pick *clientConn, done []*clientConn) {
	keep := p.conns[:0]
	for _, c := range p.conns {
		closed, away := c.closed.Load(), c.goingAway.Load()
		if closed || (away && c.reserved == 0) {
			done = append(done, c)
			continue
		}
		keep = append(keep, c)
		if pick == nil && !away && c.reserved < int(c.maxStreams.Load()) {
			pick = c
		}
	}
	clear(p.conns[len(keep):])
	p.conns = keep
	return pick, done
}

// shutdownAll closes connections taken out of the pool.
func shutdownAll(conns []*clientConn) {
	for _, c := range conns {
		c.shutdown()
	}
}

// dialConn dials a connection for call and adds it to the pool. It waits
// for the server's SETTINGS, so that its stream limit is known before
// streams are reserved on it, and a server that does not speak HTTP/2
// fails the dial.
func (p *Pool) dialConn(call *dialCall, deadline time.Time, connect time.Duration) {
	defer close(call.done)
	if connect > 0 && (deadline.IsZero() || time.Until(deadline) > connect) {
		deadline = time.Now().Add(connect)
	}
	c, err := p.open(deadline)
	p.mu.Lock()
	p.dialing = nil
	switch {
	case err != nil:
		call.err = err
	case p.retired:
		call.err = errPoolClosed
	default:
		p.conns = append(p.conns, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.shutdown()
	}
}

// open dials and starts one HTTP/2 connection, ready once the server's
// SETTINGS came.
func (p *Pool) open(deadline time.Time) (*clientConn, error) {
	nc, err := p.opts.Dial(deadline)
	if err != nil {
		return nil, err
	}
	c := newClientConn(p, nc)
	if err := c.waitReady(deadline); err != nil {
		c.fail(err)
		return nil, fmt.Errorf("no HTTP/2 answer from %s (does it speak HTTP/2 with prior knowledge?): %w", p.opts.Addr, err)
	}
	return c, nil
}

// release ends a reservation. A connection left without streams that is
// closing (GOAWAY, retired pool, failed) is closed; one that is idle is
// closed after the idle timeout.
func (p *Pool) release(c *clientConn) {
	p.mu.Lock()
	c.reserved--
	if c.reserved > 0 {
		p.mu.Unlock()
		return
	}
	if p.retired || c.closed.Load() || c.goingAway.Load() {
		p.removeLocked(c)
		p.mu.Unlock()
		c.shutdown()
		return
	}
	p.idleLocked(c)
	p.mu.Unlock()
}

// forget takes a connection that failed or goes away out of the pool
// once it has no streams.
func (p *Pool) forget(c *clientConn) {
	p.mu.Lock()
	gone := c.reserved == 0 && p.removeLocked(c)
	p.mu.Unlock()
	if gone {
		c.shutdown()
	}
}

// idleLocked starts counting c's idle time: a timer (one per connection,
// armed once per idle spell) closes it after the idle timeout.
func (p *Pool) idleLocked(c *clientConn) {
	idle := p.opts.IdleTimeout
	if idle <= 0 {
		return
	}
	c.idleSince = time.Now()
	if c.idleArmed {
		return
	}
	c.idleArmed = true
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(idle, func() { p.idleCheck(c) })
		return
	}
	c.idleTimer.Reset(idle)
}

// idleCheck closes c if it has been idle for the idle timeout, or looks
// again when it will have been.
func (p *Pool) idleCheck(c *clientConn) {
	p.mu.Lock()
	c.idleArmed = false
	if c.reserved > 0 {
		p.mu.Unlock()
		return
	}
	if left := p.opts.IdleTimeout - time.Since(c.idleSince); left > 0 {
		c.idleArmed = true
		c.idleTimer.Reset(left)
		p.mu.Unlock()
		return
	}
	p.removeLocked(c)
	p.mu.Unlock()
	c.shutdown()
}

func (p *Pool) removeLocked(c *clientConn) bool {
	for i, x := range p.conns {
		if x == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			return true
		}
	}
	return false
}

// Retire closes the connections without streams at once and the others
// when their last stream ends; reservations fail from now on. Retiring
// twice is harmless.
func (p *Pool) Retire() {
	p.mu.Lock()
	p.retired = true
	var done []*clientConn
	keep := p.conns[:0]
	for _, c := range p.conns {
		if c.reserved == 0 {
			done = append(done, c)
			continue
		}
		keep = append(keep, c)
	}
	clear(p.conns[len(keep):])
	p.conns = keep
	p.mu.Unlock()
	shutdownAll(done)
}

// Probe sends GET path (Host: host) as a stream of its own, for a health
// check, and returns the answer's status once its body (up to 64 KiB) is
// read. ctx bounds the whole probe.
func (p *Pool) Probe(ctx context.Context, host, path string) (int, error) {
	deadline, _ := ctx.Deadline()
	b := p.NewBridge()
	defer b.Close()
	if _, err := b.Prepare(deadline, 0); err != nil {
		return 0, fmt.Errorf("connecting to %s: %w", p.opts.Addr, err)
	}
	b.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { b.Close() })
	defer stop()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: tollgate-health-check\r\n\r\n"
	if _, err := io.WriteString(b, req); err != nil {
		return 0, fmt.Errorf("health check to %s: %w", p.opts.Addr, err)
	}
	r := bufio.NewReader(b)
	var res http1.Response
	if err := res.ReadHead(r, maxHeaderList); err != nil {
		return 0, fmt.Errorf("health check answer from %s: %w", p.opts.Addr, err)
	}
	if err := res.Parse(); err != nil {
		return 0, fmt.Errorf("health check answer from %s: %w", p.opts.Addr, err)
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(r, probeBody)); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("health check answer from %s: %w", p.opts.Addr, err)
	}
	return res.Status, nil
}
