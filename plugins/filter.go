// Package plugins holds the filter chain that runs between routing and the
// upstream call: the Filter interface, the chain, the registry of configured
// plugins (request_id, headers, cors) and the adapters that put the auth and
// limiter policies on the request path. Filters never see sockets: they read
// and edit heads through the Headers interface and answer through a Reply.
//
// One request: the engine fills an Exchange and calls Chain.Decide on its
// event loop. Each filter decides in turn — the route's IP rules
// (iprules.go) refuse an address, cors answers a preflight, auth verifies
// a cached token, an API key, a client certificate or a signature
// (Waiter.Decide), the clients' IP rules check the caller found, limits take a
// token (never waiting: Redis leases are batched in the background), the
// other plugins edit heads — until one replies (401, 429…) or all pass.
// A filter that can only decide after a network call (a JWKS fetch, an
// introspection call, the external authorizer, a nonce in Redis) says
// pending: the engine runs Chain.Wait off the
// loop, then goes on with Decide from the next filter. On the way back,
// RunResponse runs the Response hooks of the filters that passed, on the
// upstream's head or the gateway's own reply, and End tells the Enders
// (a concurrency slot) that the exchange is over.
package plugins

import (
	"context"
	"crypto/x509"
	"net/netip"
	"unsafe"
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
	// PeerCert is the client certificate of a TLS connection, already
	// verified against server.tls.client_ca during the handshake; nil
	// when none was presented (or the connection is plain TCP).
	PeerCert *x509.Certificate
	// TLS says the client connection is TLS.
	TLS bool
	// HasBody says the request has a body; Body is all of it when the
	// engine read it before the filters (a small Content-Length body, or
	// on routes whose filters read bodies), nil otherwise. Read only, and
	// only during Decide or Request.
	HasBody bool
	Body    []byte
	// ClientID, AuthMethod and Scopes are set by the auth filter once the
	// caller is verified; ClientID is "" for anonymous callers.
	ClientID   string
	AuthMethod string
	Scopes     []string
	// Plan and Tenant are the verified caller's plan and tenant (from its
	// token or API key entry), "" when none; the limits filter meters
	// by them.
	Plan   string
	Tenant string
	// RequestID is the request's id (kept from the client or generated).
	RequestID string
	// RateLimit is the quota decision (allow, deny or shadow_deny) once a
	// limit filter metered the request; "" when none did. A constant.
	RateLimit string
	// Request is the head forwarded upstream; Response is the head sent to
	// the client and is nil until Response hooks run.
	Request  Headers
	Response Headers
	// Status is the response status once known.
	Status int

	extra  [][2]string
	values []byte // backs the values of AddResponseHeaderFunc
	enders []Ender
}

// AddResponseHeader queues a header to be added to whatever response goes
// back to the client, the upstream's or a gateway reply.
func (x *Exchange) AddResponseHeader(name, value string) {
	x.extra = append(x.extra, [2]string{name, value})
}

// AddResponseHeaderFunc is AddResponseHeader for a value that appendValue
// appends to a buffer the exchange reuses, so that queuing a formatted
// value (a remaining count, say) does not allocate. The value is valid
// until the exchange is reset: whoever reads ResponseHeaders must not keep
// it longer.
func (x *Exchange) AddResponseHeaderFunc(name string, appendValue func([]byte) []byte) {
	start := len(x.values)
	x.values = appendValue(x.values)
	v := x.values[start:]
	x.extra = append(x.extra, [2]string{name, unsafe.String(unsafe.SliceData(v), len(v))})
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
	*x = Exchange{extra: extra, values: x.values[:0], enders: enders}
}

// Waiter is implemented by a filter that decides most requests at once
// but must sometimes wait on the network: a JWKS fetch for an unknown kid,
// an introspection call for a token not cached. Decide answers from what
// is at hand (r, or nil to go on) or says pending: the engine then runs the
// filter's Request, which may wait, away from the event loop, and resumes
// the chain on the loop with its answer. A filter that is not a Waiter
// never waits: its Request is its decision (a local or leased quota, a
// header edit).
type Waiter interface {
	Decide(x *Exchange) (r *Reply, pending bool)
}

// Chain is a route's ordered filters.
type Chain []Filter

// Decide runs the chain's decisions in order from filter from on, without
// waiting. It returns the reply that stopped the chain (or nil) and at,
// the index of the filter that stopped it or len(c) when all ran; pending
// says that filter at must run its Request where it may wait, after which
// the chain goes on with Decide(x, at+1) (see Wait and RunFrom).
func (c Chain) Decide(x *Exchange, from int) (r *Reply, at int, pending bool) {
	for i := from; i < len(c); i++ {
		if w, ok := c[i].(Waiter); ok {
			if r, pending = w.Decide(x); pending || r != nil {
				return r, i, pending
			}
			continue
		}
		if r = c[i].Request(x); r != nil {
			return r, i, false
		}
	}
	return nil, len(c), false
}

// Wait runs the Request of filter at, which Decide left pending; it may
// block. Call it off the event loop.
func (c Chain) Wait(x *Exchange, at int) *Reply { return c[at].Request(x) }

// Kind names what filter at does, for a trace span around its wait:
// "auth", "quota", or "filter" for the others.
func (c Chain) Kind(at int) string {
	switch c[at].(type) {
	case *authFilter:
		return "auth"
	case *limitFilter:
		return "quota"
	}
	return "filter"
}

// RunRequest runs the chain to its end where waiting is allowed (a worker
// goroutine, a test). It returns the reply that stopped the chain (or nil)
// and how many filters ran to completion, which RunResponse needs.
func (c Chain) RunRequest(x *Exchange) (*Reply, int) { return c.RunFrom(x, 0) }

// RunFrom is RunRequest from filter from on.
func (c Chain) RunFrom(x *Exchange, from int) (*Reply, int) {
	for {
		r, at, pending := c.Decide(x, from)
		if !pending {
			return r, at
		}
		if r = c.Wait(x, at); r != nil {
			return r, at
		}
		from = at + 1
	}
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
