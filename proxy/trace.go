package proxy

import (
	"bytes"

	"tollgate/plugins"
	"tollgate/proxy/tracing"
)

// Tracing a request (proxy/tracing).
//
// The request path calls a hook at each point a span begins or ends:
// traceBegin when the head is parsed (readRequest), traceTry and
// traceTryEnd around each try (pickNext, judge), waitFilter around a
// filter's wait (suspension.go on the loop, runChain on a worker),
// traceEnd when the request is answered (endRoute, finish). With tracing
// off, or a request that is not sampled, each hook is a comparison: the
// sampling decision is made once, in traceBegin, before anything is
// created, so only sampled requests allocate.

// traceparentField is the W3C trace context request field.
const traceparentField = "traceparent"

// Decisions a request span records (tollgate.decision).
const (
	decisionForwarded = "forwarded" // the upstream's answer was relayed
	decisionFailed    = "failed"    // no try gave an answer: the gateway's error
	decisionRefused   = "refused"   // a filter answered with an error (401, 403, 429…)
	decisionAnswered  = "answered"  // a filter answered (a CORS preflight)
	decisionRejected  = "rejected"  // no route, or a request the gateway cannot trust
)

// traceBegin decides whether the request whose head was just parsed is
// traced (see tracing.Request.Begin).
func (cc *clientConn) traceBegin(snap *Snapshot) {
	cc.trace.Abandon() // a request that never finished (its serving panicked)
	if t := snap.tracer; t != nil {
		cc.trace.Begin(t, cc.q.Fields.Get(traceparentField), cc.start, cc.q.Method(), cc.q.Path())
	}
}

// traceTry starts the span of the try just picked (fs.try to fs.t) and
// makes it the parent the upstream sees in traceparent. A request that is
// not sampled sends its client's traceparent, if any, untouched.
func (cc *clientConn) traceTry() {
	if !cc.trace.Sampled() {
		return
	}
	tp := cc.trace.TryStart(cc.fs.try, cc.fs.t.Addr)
	if cc.body == bodyInHead { // a retry sends the head rendered for the first try again
		if i := bytes.Index(cc.scratch, []byte("\r\n"+traceparentField+": ")); i >= 0 {
			copy(cc.scratch[i+len(traceparentField)+4:], tp)
		}
		return
	}
	cc.q.Fields.SetBytes(traceparentField, tp)
}

// traceTryEnd ends the span of the try being judged (fs.f; the upstream's
// status when it answered).
func (cc *clientConn) traceTryEnd() {
	if !cc.trace.Sampled() {
		return
	}
	f, status := cc.fs.f, 0
	if f == failNone || f == failRetryStatus {
		f, status = failNone, cc.p.Status
	}
	cc.trace.TryEnd(status, tryFailure(f))
}

// tryFailure says why a try failed ("" when it did not).
func tryFailure(f failure) string {
	if f == failClientGone {
		return "the client went away"
	}
	return failureInfo[f].message
}

// waitFilter runs the wait of filter at (plugins.Chain.Wait), inside a
// span when the request is sampled: an auth filter's introspection call
// or JWKS fetch (a token not cached), a quota that waits.
func (cc *clientConn) waitFilter(rt *routeRT, at int) *plugins.Reply {
	if !cc.trace.Sampled() {
		return rt.chain.Wait(&cc.x, at)
	}
	cc.trace.WaitStart(rt.chain.Kind(at))
	r := rt.chain.Wait(&cc.x, at)
	status := 0
	if r != nil {
		status = r.Status
	}
	cc.trace.WaitEnd(cc.x.ClientID, status)
	return r
}

// runChain is plugins.Chain.RunFrom with each wait in waitFilter: it runs
// the chain from filter from on where waiting is allowed (a worker).
func (cc *clientConn) runChain(rt *routeRT, from int) (*plugins.Reply, int) {
	for {
		r, at, pending := rt.chain.Decide(&cc.x, from)
		if !pending {
			return r, at
		}
		if r = cc.waitFilter(rt, at); r != nil {
			return r, at
		}
		from = at + 1
	}
}

// traceEnd ends the request span of a sampled request with what the
// gateway decided (endRoute: replied says a filter answered; finish:
// a request answered before routing). A span already ended stays so.
func (cc *clientConn) traceEnd(rt *routeRT, res exchangeResult, replied bool) {
	if cc.trace.Sampled() {
		cc.endTrace(rt, res, replied)
	}
}

func (cc *clientConn) endTrace(rt *routeRT, res exchangeResult, replied bool) {
	r := tracing.Result{Decision: decisionRejected, ClientID: cc.x.ClientID, RateLimit: cc.x.RateLimit,
		RequestID: cc.requestID(), Target: res.target, Status: res.status, Bytes: res.bytes}
	if rt != nil {
		r.Route = rt.name
		switch {
		case replied && res.status >= 400:
			r.Decision = decisionRefused
		case replied:
			r.Decision = decisionAnswered
		case res.target != "":
			r.Decision = decisionForwarded
		default:
			r.Decision = decisionFailed
		}
	}
	cc.trace.End(&r)
}
