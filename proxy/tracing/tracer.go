package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"tollgate/conf"
	"tollgate/internal/lograte"
)

// batchTimeout is the longest a finished span waits before it is
// exported (sooner when a batch of 512 fills up).
const batchTimeout = time.Second

// exportRetry is how a batch is retried when the collector is
// unreachable or busy: for 10 s at most (not the exporters' minute), so an
// outage is logged soon and a batch being retried holds the queue behind
// it only briefly (spans that do not fit the queue meanwhile are dropped).
func exportRetry() otlptracehttp.RetryConfig {
	return otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond,
		MaxInterval: 2 * time.Second, MaxElapsedTime: 10 * time.Second}
}

// exportLogEvery bounds the export-failure log lines of one tracer.
const exportLogEvery = 10 * time.Second

// Tracer exports the spans of the requests it samples. It holds the
// sampling threshold that Request.Begin applies before anything is
// created, and an OpenTelemetry tracer provider that samples every span it
// is asked for (parent based: the decision is made by Begin). Safe for
// concurrent use.
type Tracer struct {
	conf     conf.Tracing
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	// a request without a sampled parent is traced when a random uint64
	// is below threshold; all: every one (sample_ratio 1)
	threshold uint64
	all       bool
}

// New returns the tracer of c, exporting to c.Endpoint. No connection is
// made until the first batch is exported: a collector that is down costs
// dropped spans and a log line, never a failed start.
func New(c conf.Tracing, log *slog.Logger) (*Tracer, error) {
	exp, err := newExporter(c)
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(attribute.String("service.name", c.ServiceName))
	logged := &loggedExporter{SpanExporter: exp, log: log, endpoint: c.Endpoint}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(newBatcher(logged, log)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(res),
	)
	t := &Tracer{conf: c, provider: tp, tracer: tp.Tracer("tollgate"), all: c.SampleRatio >= 1}
	if !t.all {
		t.threshold = uint64(c.SampleRatio * math.MaxUint64)
	}
	return t, nil
}

// newExporter returns the OTLP exporter of c's protocol.
func newExporter(c conf.Tracing) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing.endpoint: %w", err)
	}
	ctx := context.Background()
	var exp sdktrace.SpanExporter
	switch c.Protocol {
	case conf.TracingGRPC:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(c.Endpoint),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(exportRetry())))
	default:
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces" // the OTLP/HTTP default path
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()),
			otlptracehttp.WithRetry(exportRetry()))
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: creating the OTLP %s exporter for %s: %w", c.Protocol, c.Endpoint, err)
	}
	return exp, nil
}

// Shutdown exports the spans still queued (until ctx ends) and stops the
// exporter. Spans ended afterwards are dropped.
func (t *Tracer) Shutdown(ctx context.Context) error {
	return t.provider.Shutdown(ctx)
}

// loggedExporter logs export failures itself (at most once per
// exportLogEvery) instead of handing them to OpenTelemetry's global error
// handler, which would print outside the gateway's JSON log.
type loggedExporter struct {
	sdktrace.SpanExporter
	log      *slog.Logger
	endpoint string
	failLog  lograte.Limiter // one failure line per exportLogEvery
	dropped  atomic.Int64    // spans dropped since that line
}

// ExportSpans exports spans; a failure is logged and the spans dropped.
func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		return nil
	}
	dropped := e.dropped.Add(int64(len(spans)))
	if ok, _ := e.failLog.Allow(time.Now(), exportLogEvery); ok {
		e.dropped.Add(-dropped)
		e.log.Warn("tracing: exporting spans failed; they are dropped", "endpoint", e.endpoint,
			"spans_dropped", dropped, "err", err)
	}
	return nil
}
