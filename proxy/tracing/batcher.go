package tracing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Batch sizes of a batcher.
const (
	maxBatch = 512  // spans in one export
	maxQueue = 4096 // spans waiting; more are dropped
)

// batcher is the span processor between ended spans and the exporter:
// OnEnd appends the span to a queue under a mutex and returns, and one
// goroutine exports the queue every batchTimeout, or as soon as maxBatch
// spans wait. It stands in for the SDK's batch span processor, whose
// OnEnd sends each span on a channel and so wakes its exporting goroutine
// once per span: a futex wake-up on the event loop's thread for every
// span, measured as two thirds of ending a span. Here the loop wakes the
// exporter once per maxBatch spans at most. Spans that do not fit in
// maxQueue are dropped (counted, and logged with the next export
// failure), never waited for.
type batcher struct {
	exp sdktrace.SpanExporter
	log *slog.Logger

	mu      sync.Mutex
	queue   []sdktrace.ReadOnlySpan
	spare   []sdktrace.ReadOnlySpan // the drained queue's array, reused
	dropped atomic.Int64            // spans the full queue turned away since the last log line
	lastLog time.Time               // of a drop (run's goroutine only)

	exportMu sync.Mutex // one export at a time: exporters are not reentrant
	full     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// newBatcher starts a batcher exporting to exp; log receives a line when
// a full queue dropped spans (at most every exportLogEvery).
func newBatcher(exp sdktrace.SpanExporter, log *slog.Logger) *batcher {
	b := &batcher{exp: exp, log: log, full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// OnStart does nothing: spans are queued when they end.
func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span for export without waiting.
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if len(b.queue) >= maxQueue {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.queue = append(b.queue, s)
	n := len(b.queue)
	b.mu.Unlock()
	if n == maxBatch {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

// run exports the queue every batchTimeout, when a batch fills up, and a
// last time when the batcher stops.
func (b *batcher) run() {
	defer close(b.done)
	tick := time.NewTicker(batchTimeout)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-b.full:
		case <-b.stop:
			return
		}
		b.export(context.Background())
		b.logDrops()
	}
}

// logDrops logs the spans a full queue dropped, at most every
// exportLogEvery.
func (b *batcher) logDrops() {
	if n := b.dropped.Load(); n > 0 && time.Since(b.lastLog) >= exportLogEvery {
		b.dropped.Add(-n)
		b.lastLog = time.Now()
		b.log.Warn("tracing: the span queue was full; spans dropped", "spans_dropped", n, "queue", maxQueue)
	}
}

// export sends what is queued, in batches of maxBatch.
func (b *batcher) export(ctx context.Context) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	b.mu.Lock()
	spans := b.queue
	b.queue = b.spare[:0]
	b.mu.Unlock()
	var err error
	for start := 0; start < len(spans); start += maxBatch {
		batch := spans[start:min(start+maxBatch, len(spans))]
		if e := b.exp.ExportSpans(ctx, batch); e != nil {
			err = e
		}
	}
	clear(spans) // the exported spans are garbage now
	b.mu.Lock()
	b.spare = spans[:0]
	b.mu.Unlock()
	return err
}

// ForceFlush exports what is queued now.
func (b *batcher) ForceFlush(ctx context.Context) error { return b.export(ctx) }

// Shutdown stops the exporting goroutine, exports what is queued and
// shuts the exporter down.
func (b *batcher) Shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() { close(b.stop) })
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := b.export(ctx)
	if e := b.exp.Shutdown(ctx); err == nil {
		err = e
	}
	return err
}
