// Package plugins holds the filter chain that runs between routing and the
// upstream call: the Filter interface, the chain, the registry of configured
// plugins (request_id, headers, cors) and the adapters that put the auth and
// limiter policies on the request path. Filters never see sockets: they read
// and edit heads through the Headers interface and answer through a Reply.
package plugins

import (
	"context"
	"net/netip"
)

// Headers is the editable view of a message head that filters work on.
// Names are case-insensitive. Byte slices returned by Get are valid only
// until the head is edited or the exchange ends.
type Headers interface {
	// Get returns the first value of name, or nil when absent.
	Get(name string) []byte
	// Set replaces every value of name with value.
	Set(name, value string)
	// Add appends a value for name.
	Add(name, value string)
	// Del removes every value of name.
	Del(name string)
}

// Filter is one step of a route's chain. Request runs in chain order
// before the upstream is called; a non-nil Reply stops the chain and is
// sent to the client instead. Response runs, in reverse order, for every
// filter whose Request ran and returned nil, on whatever head goes back to
// the client (the upstream's, or the gateway's own error).
type Filter interface {
	Request(x *Exchange) *Reply
	Response(x *Exchange)
}

// Ender is told when an exchange is complete (its response fully sent or
// abandoned). Filters that hold a resource for the request's lifetime, such
// as a concurrency slot, register with Exchange.OnEnd.
type Ender interface {
	End(x *Exchange)
}

// Reply is an answer produced by the gateway itself. When Code is set the
// engine sends the contract's JSON error body
// {"error": Code, "message": Message, "request_id": ...}; otherwise it sends
// Body as is. Header entries are added to the reply's head.
type Reply struct {
	Status  int
	Code    string
	Message string
	Header  [][2]string
	Body    []byte
}

// Exchange is one request as filters see it. The engine pools exchanges:
// a filter must not keep a pointer to one after End.
type Exchange struct {
	// Ctx is cancelled when the client goes away or the route timeout ends.
	Ctx context.Context
	// Route and Upstream are the matched route's and upstream's names.
	Route    string
	Upstream string
	// Method, Host and Path are the raw request method, Host header and
	// request-target (path and query) as received. Read only.
	Method []byte
	Host   []byte
	Path   []byte
	// Peer is the address that connected to the gateway; ClientIP is the
	// client address after trusted_proxies were applied.
	Peer     netip.AddrPort
	ClientIP netip.Addr
	// ClientID, AuthMethod and Scopes are set by the auth filter once the
	// caller is verified; ClientID is "" for anonymous callers.
	ClientID   string
	AuthMethod string
	Scopes     []string
	// RequestID is the request's id (kept from the client or generated).
	RequestID string
	// Request is the head forwarded upstream; Response is the head sent to
	// the client and is nil until Response hooks run.
	Request  Headers
	Response Headers
	// Status is the response status once known.
	Status int

	extra  [][2]string
	enders []Ender
}

// AddResponseHeader queues a header to be added to whatever response goes
// back to the client, the upstream's or a gateway reply.
func (x *Exchange) AddResponseHeader(name, value string) {
	x.extra = append(x.extra, [2]string{name, value})
}

// ResponseHeaders returns the headers queued by AddResponseHeader.
func (x *Exchange) ResponseHeaders() [][2]string { return x.extra }

// OnEnd registers e to be told when the exchange completes.
func (x *Exchange) OnEnd(e Ender) { x.enders = append(x.enders, e) }

// End tells every registered Ender that the exchange is complete. The
// engine calls it exactly once per exchange.
func (x *Exchange) End() {
	for i := len(x.enders) - 1; i >= 0; i-- {
		x.enders[i].End(x)
	}
	x.enders = x.enders[:0]
}

// Reset clears the exchange for reuse, keeping its slices' capacity.
func (x *Exchange) Reset() {
	extra, enders := x.extra[:0], x.enders[:0]
	for i := range enders[:cap(enders)] {
		enders[:cap(enders)][i] = nil
	}
	*x = Exchange{extra: extra, enders: enders}
}

// Blocker is implemented by filters whose Request hook may wait on the
// network (a token introspection call, a JWKS fetch, a Redis round trip).
// The engine runs a chain that may block on a goroutine of its own, never
// on an event loop that serves other connections meanwhile.
type Blocker interface {
	MayBlock() bool
}

// Chain is a route's ordered filters.
type Chain []Filter

// MayBlock reports whether any filter of the chain may block.
func (c Chain) MayBlock() bool {
	for _, f := range c {
		if b, ok := f.(Blocker); ok && b.MayBlock() {
			return true
		}
	}
	return false
}

// RunRequest runs the Request hooks in order. It returns the reply that
// stopped the chain (or nil) and how many filters ran to completion, which
// RunResponse needs.
func (c Chain) RunRequest(x *Exchange) (*Reply, int) {
	for i, f := range c {
		if r := f.Request(x); r != nil {
			return r, i
		}
	}
	return nil, len(c)
}

// RunResponse runs the Response hooks of the first n filters in reverse.
func (c Chain) RunResponse(x *Exchange, n int) {
	for i := n - 1; i >= 0; i-- {
		c[i].Response(x)
	}
}

// Metrics receives the per-request events that filters count. The proxy
// implements it over Prometheus; tests may use a simple recorder.
type Metrics interface {
	AuthFailure(method, reason string)
	RateLimitDecision(client, decision string)
}
