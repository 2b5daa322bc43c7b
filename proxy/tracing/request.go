package tracing

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names.
const (
	spanTry = "upstream try"
)

// Request is one request's trace. It is embedded in the proxy's pooled
// exchange: the zero value is a request that is not traced, and a request
// that is not sampled never leaves it except to remember the trace id its
// client sent. It is driven by whoever holds the exchange (its loop, a
// worker, the goroutine of a wait), one at a time.
type Request struct {
	state   state
	traceID [16]byte

	// sampled only
	t      *Tracer
	method string
	ctx    context.Context // carries the request span
	span   trace.Span
	try    trace.Span
	wait   trace.Span
	tp     [traceparentLen]byte // the current try's traceparent
}

// state is how far a request is traced.
type state uint8

const (
	stateOff     state = iota // not traced
	stateIDOnly               // not sampled; the client's traceparent named the trace
	stateSampled              // spans are recorded
)

// Result is what the request span records when the request ends.
type Result struct {
	Route     string // "" when no route matched
	ClientID  string
	Decision  string // forwarded, refused, answered, failed or rejected
	RateLimit string // the quota decision (allow, deny, shadow_deny), "" when not metered
	RequestID string
	Target    string // the upstream target that answered, if one did
	Status    int
	Bytes     int64
}

// Begin decides, once and before anything is allocated, whether the
// request is traced (t nil: tracing is off). A valid traceparent decides
// by its sampled flag and the request span continues its trace; without
// one, a random draw against the sample ratio starts a new trace. A
// request that is not sampled records nothing but the trace id its client
// sent. start is when the request began; method and path become
// attributes of a sampled request's span.
func (r *Request) Begin(t *Tracer, traceparent []byte, start time.Time, method, path []byte) {
	r.Abandon()
	if t == nil {
		return
	}
	p, ok := parseTraceparent(traceparent)
	switch {
	case ok && p.flags&flagSampled == 0:
		r.traceID, r.state = p.traceID, stateIDOnly
		return
	case !ok && !t.sampleRoot():
		return
	}
	r.begin(t, p, ok, start, method, path)
}

// sampleRoot draws whether a request without a parent is sampled.
func (t *Tracer) sampleRoot() bool {
	return t.all || rand.Uint64() < t.threshold
}

// begin starts the span of a sampled request, under p when hasParent.
func (r *Request) begin(t *Tracer, p parent, hasParent bool, start time.Time, method, path []byte) {
	ctx := context.Background()
	if hasParent {
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: p.traceID, SpanID: p.spanID, TraceFlags: trace.FlagsSampled, Remote: true,
		}))
	}
	m := string(method)
	ctx, span := t.tracer.Start(ctx, m, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String("http.request.method", m), attribute.String("url.path", string(path))))
	r.t, r.method, r.ctx, r.span, r.state = t, m, ctx, span, stateSampled
	r.traceID = span.SpanContext().TraceID()
}

// Sampled reports whether the request records spans.
func (r *Request) Sampled() bool { return r.state == stateSampled }

// TryStart starts the span of upstream try n to target and returns the
// traceparent to send with it (valid until the next TryStart).
func (r *Request) TryStart(n int, target string) []byte {
	r.TryEnd(0, "abandoned") // a try not ended (none should be)
	_, r.try = r.t.tracer.Start(r.ctx, spanTry, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("server.address", target), attribute.Int("tollgate.try", n)))
	formatTraceparent(&r.tp, r.traceID, r.try.SpanContext().SpanID())
	return r.tp[:]
}

// TryEnd ends the current try's span: status is the upstream's answer (0
// when none came), failure why the try failed ("" when it did not).
func (r *Request) TryEnd(status int, failure string) {
	if r.try == nil {
		return
	}
	if status > 0 {
		r.try.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case failure != "":
		r.try.SetAttributes(attribute.String("error.type", failure))
		r.try.SetStatus(codes.Error, failure)
	case status >= 500:
		r.try.SetStatus(codes.Error, "")
	}
	r.try.End()
	r.try = nil
}

// WaitStart starts the span of a filter's wait (name: auth, quota...).
func (r *Request) WaitStart(name string) {
	_, r.wait = r.t.tracer.Start(r.ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
}

// WaitEnd ends the wait's span: clientID is who the filter found (""
// when none), status the filter's refusal (0 when it let the request on).
func (r *Request) WaitEnd(clientID string, status int) {
	if r.wait == nil {
		return
	}
	if clientID != "" {
		r.wait.SetAttributes(attribute.String("tollgate.client_id", clientID))
	}
	if status > 0 {
		r.wait.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			r.wait.SetStatus(codes.Error, "")
		}
	}
	r.wait.End()
	r.wait = nil
}

// End records res on the request span and ends it, with any child left
// open. Only the first End of a request counts.
func (r *Request) End(res *Result) {
	if r.state != stateSampled || r.span == nil {
		return
	}
	r.TryEnd(0, "abandoned")
	r.WaitEnd("", 0)
	s := r.span
	attrs := []attribute.KeyValue{
		attribute.Int("http.response.status_code", res.Status),
		attribute.String("tollgate.decision", res.Decision),
		attribute.String("tollgate.request_id", res.RequestID),
		attribute.Int64("tollgate.response_bytes", res.Bytes),
	}
	if res.Route != "" {
		attrs = append(attrs, attribute.String("http.route", res.Route))
		s.SetName(r.method + " " + res.Route) // HTTP semantic conventions: "{method} {route}"
	}
	if res.ClientID != "" {
		attrs = append(attrs, attribute.String("tollgate.client_id", res.ClientID))
	}
	if res.RateLimit != "" {
		attrs = append(attrs, attribute.String("tollgate.ratelimit", res.RateLimit))
	}
	if res.Target != "" {
		attrs = append(attrs, attribute.String("tollgate.upstream_target", res.Target))
	}
	s.SetAttributes(attrs...)
	if res.Status >= 500 {
		s.SetStatus(codes.Error, "")
	}
	s.End()
	r.span = nil
}

// Finish forgets the request (after End and the access log line).
func (r *Request) Finish() {
	if r.state != stateOff {
		*r = Request{}
	}
}

// Abandon ends the spans of a request that will not finish (its serving
// panicked, its connection was dropped) and forgets it. With nothing to
// forget it is one comparison.
func (r *Request) Abandon() {
	if r.state != stateOff {
		r.abandon()
	}
}

func (r *Request) abandon() {
	r.End(&Result{Decision: "abandoned"})
	*r = Request{}
}

// LogAttr is the access log's trace_id: the request's trace id, or an
// empty attribute (which log handlers leave out) when it has none.
func (r *Request) LogAttr() slog.Attr {
	if r.state == stateOff {
		return slog.Attr{}
	}
	var b [32]byte
	return slog.String("trace_id", string(appendHex(b[:0], r.traceID[:])))
}
