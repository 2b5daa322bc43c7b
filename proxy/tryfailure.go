package proxy

import (
	"time"

	"tollgate/upstream"
)

// Failed tries, made visible.
//
// Every try that ends without an answer from its target — refused, a
// host name that does not resolve, a connect timeout, a reset, a
// malformed head, no answer in time, a pool that stayed full — passes
// through failTry, on the loop and on the workers alike. It tells the
// target's breaker, counts tollgate_upstream_errors_total{upstream,
// target,cause}, keeps the cause for the access log line of the request,
// and logs a line naming the target and the cause, at most one a second
// per target (the line says how many failures it stands for).

// failTry ends the try tr on t that failed with f; err is the error
// behind it when there is one (a dial's), for the log.
func (cc *clientConn) failTry(t *upstream.Target, tr upstream.Try, f failure, err error) {
	tr.Done(outcomeOf(f, 0))
	cause := failureInfo[f].cause
	if cause == "" || t == nil {
		return // the client's doing (a body that broke off), not the target's
	}
	cc.fs.failed = f
	cc.e.metrics.upstreamError(t.Upstream(), t.Addr, cause)
	log, suppressed := t.LogFailure(time.Now())
	if !log {
		return
	}
	attrs := []any{"upstream", t.Upstream(), "target", t.Addr, "cause", cause, "request_id", cc.requestID()}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	cc.e.log.Warn(failureInfo[f].message, attrs...)
}

// accessTarget returns what the access log says about the upstream side
// of a request: the target of its last try ("" when none was tried), how
// many tries it took, and the cause of the latest failed one ("" when
// none failed).
func (cc *clientConn) accessTarget(res exchangeResult) (target string, tries int, cause string) {
	fs := &cc.fs
	target = res.target
	if target == "" && fs.t != nil && fs.try > 0 {
		target = fs.t.Addr
	}
	return target, fs.try, failureInfo[fs.failed].cause
}
