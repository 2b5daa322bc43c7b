// Package tracing is the gateway's OpenTelemetry tracing: a Tracer per
// tracing config (an OTLP exporter over HTTP or gRPC behind a batching
// span processor), shared by the snapshots that name the same config
// (Registry), and Request, one request's trace, which lives inside the
// proxy's pooled exchange.
//
// One request: when its head is parsed the proxy calls Request.Begin,
// which decides once, before anything allocates, whether the request is
// traced: a valid W3C traceparent decides by its sampled flag (parent
// based); without one, a random draw against sample_ratio. A request that
// is not sampled creates nothing (its traceparent, if any, goes upstream
// untouched, and its trace id still reaches the access log). A sampled
// request gets a server span continuing the client's trace; each upstream
// try gets a client span (TryStart/TryEnd) whose id goes upstream as the
// parent in traceparent; a filter that waits on the network (an
// introspection call, a JWKS fetch: auth that is not cached; a quota that
// waits) gets a span around its wait (WaitStart/WaitEnd); End sets the
// route, client id, decision and status and ends the request span. Ended
// spans are queued (batcher.go) and exported in batches by a goroutine
// off the request path; an export failure is logged (at most once per
// 10 s per tracer) and the spans dropped.
package tracing
