//lint:file-ignore SA1019 x/net/http2's Transport and ClientConn are deprecated in favour of net/http's, whose errors (REFUSED_STREAM) cannot be told apart: this package needs http2.StreamError.

package h2

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Tuning of every Pool's HTTP/2 connections.
const (
	// defaultStreams is the stream limit assumed of a connection whose
	// server has not said (it always has by the end of Prepare's dial:
	// see dialConn).
	defaultStreams = 100
	// streamWindow is the flow-control window of each stream: the most of
	// a response body the gateway buffers for one stream.
	streamWindow = 1 << 20
	// maxHeaderList bounds a response's header list (SETTINGS_MAX_HEADER_LIST_SIZE).
	maxHeaderList = 256 << 10
	// probeBody is how much of a health check's answer is read.
	probeBody = 64 << 10
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
	tr     *http2.Transport
	scheme string

	bufs sync.Pool // of *[]byte (capacity pipeSize): what streams read bodies into

	mu      sync.Mutex
	conns   []*conn
	dialing *dialCall // the dial in progress, nil when none
	retired bool
}

// conn is one HTTP/2 connection with the streams reserved on it.
type conn struct {
	cc      *http2.ClientConn
	streams int // reserved by Prepare and not yet released; guarded by Pool.mu
}

// dialCall is a dial that every caller wanting a connection waits for.
type dialCall struct {
	done chan struct{}
	err  error
}

// NewPool returns an empty pool for one target.
func NewPool(o Options) *Pool {
	// The http2 Transport takes the stream window from the net/http
	// Transport it is configured on; it refuses only one configured twice,
	// which a fresh one never is (the plain Transport's 4 MiB window
	// would do then).
	tr, err := http2.ConfigureTransports(&http.Transport{HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: streamWindow}})
	if err != nil {
		tr = &http2.Transport{}
	}
	tr.AllowHTTP = true
	tr.DisableCompression = true // bodies pass as the upstream encoded them
	tr.MaxHeaderListSize = maxHeaderList
	tr.IdleConnTimeout = o.IdleTimeout
	p := &Pool{opts: o, tr: tr, scheme: "http"}
	p.bufs.New = func() any { b := make([]byte, 0, pipeSize); return &b }
	if o.TLS {
		p.scheme = "https"
	}
	return p
}

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
func (p *Pool) reserve(deadline time.Time, connect time.Duration) (c *conn, reused bool, err error) {
	reused = true
	for {
		p.mu.Lock()
		if p.retired {
			p.mu.Unlock()
			return nil, false, errPoolClosed
		}
		if c := p.pickLocked(); c != nil {
			c.streams++
			p.mu.Unlock()
			return c, reused, nil
		}
		call := p.dialing
		if call == nil {
			call = &dialCall{done: make(chan struct{})}
			p.dialing = call
			p.mu.Unlock()
			p.dialConn(call, deadline, connect)
			reused = false
		} else {
			p.mu.Unlock()
			if err := waitCall(call, deadline); err != nil {
				return nil, false, err
			}
		}
		if call.err != nil {
			return nil, false, call.err
		}
	}
}

// waitCall waits for another caller's dial until deadline.
func waitCall(call *dialCall, deadline time.Time) error {
	var expired <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-call.done:
		return nil
	case <-expired:
		return fmt.Errorf("waiting for a connection being dialled: %w", context.DeadlineExceeded)
	}
}

// pickLocked returns the first connection with room for a stream, and
// closes the connections that are done (closed, or closing without
// streams).
func (p *Pool) pickLocked() *conn {
	var pick *conn
	keep := p.conns[:0]
	for _, c := range p.conns {
		st := c.cc.State()
		if st.Closed || (st.Closing && c.streams == 0) {
			c.cc.Close()
			continue
		}
		keep = append(keep, c)
		limit := int(st.MaxConcurrentStreams)
		if limit == 0 {
			limit = defaultStreams
		}
		if pick == nil && !st.Closing && c.streams < limit {
			pick = c
		}
	}
	clear(p.conns[len(keep):])
	p.conns = keep
	return pick
}

// dialConn dials a connection for call and adds it to the pool. It waits
// for the server's first answer (a PING's), so that the server's SETTINGS
// — its stream limit — are known before streams are reserved on it, and a
// server that does not speak HTTP/2 fails the dial.
func (p *Pool) dialConn(call *dialCall, deadline time.Time, connect time.Duration) {
	defer close(call.done)
	ctx := context.Background()
	if connect > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connect)
		defer cancel()
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	cc, err := p.open(ctx, deadline)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dialing = nil
	switch {
	case err != nil:
		call.err = err
	case p.retired:
		cc.Close()
		call.err = errPoolClosed
	default:
		p.conns = append(p.conns, &conn{cc: cc})
	}
}

// open dials and starts one HTTP/2 connection.
func (p *Pool) open(ctx context.Context, deadline time.Time) (*http2.ClientConn, error) {
	nc, err := p.opts.Dial(deadline)
	if err != nil {
		return nil, err
	}
	cc, err := p.tr.NewClientConn(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("starting HTTP/2 with %s: %w", p.opts.Addr, err)
	}
	if err := cc.Ping(ctx); err != nil {
		cc.Close()
		return nil, fmt.Errorf("no HTTP/2 answer from %s (does it speak HTTP/2 with prior knowledge?): %w", p.opts.Addr, err)
	}
	return cc, nil
}

// release ends a reservation. A connection left without streams that is
// closing (GOAWAY, retired pool) is closed.
func (p *Pool) release(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.streams--
	if c.streams > 0 {
		return
	}
	if st := c.cc.State(); p.retired || st.Closed || st.Closing {
		c.cc.Close()
		p.removeLocked(c)
	}
}

func (p *Pool) removeLocked(c *conn) {
	for i, x := range p.conns {
		if x == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			return
		}
	}
}

// Retire closes the connections without streams at once and the others
// when their last stream ends; reservations fail from now on. Retiring
// twice is harmless.
func (p *Pool) Retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = true
	keep := p.conns[:0]
	for _, c := range p.conns {
		if c.streams == 0 {
			c.cc.Close()
			continue
		}
		c.cc.SetDoNotReuse()
		keep = append(keep, c)
	}
	clear(p.conns[len(keep):])
	p.conns = keep
}

// Probe sends GET path (Host: host) as a stream of its own, for a health
// check, and returns the answer's status once its body (up to 64 KiB) is
// read. ctx bounds the whole probe.
func (p *Pool) Probe(ctx context.Context, host, path string) (int, error) {
	deadline, _ := ctx.Deadline()
	c, _, err := p.reserve(deadline, 0)
	if err != nil {
		return 0, fmt.Errorf("connecting to %s: %w", p.opts.Addr, err)
	}
	defer p.release(c)
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: p.scheme, Host: host, Opaque: path},
		Host: host, Header: http.Header{"User-Agent": {"tollgate-health-check"}}}
	res, err := c.cc.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return 0, classify(p.opts.Addr, err)
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(res.Body, probeBody)); err != nil {
		return 0, fmt.Errorf("health check answer from %s: %w", p.opts.Addr, err)
	}
	return res.StatusCode, nil
}
