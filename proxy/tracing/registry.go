package tracing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"tollgate/conf"
)

// shutdownTimeout bounds the final export of a tracer no snapshot uses.
const shutdownTimeout = 5 * time.Second

// Registry shares one Tracer among the snapshots whose tracing config is
// the same, so a reload that leaves the tracing block alone keeps the
// exporter and its queued spans; the last snapshot to release a tracer
// shuts it down (exporting what is queued) in the background. It outlives
// snapshots.
type Registry struct {
	log *slog.Logger

	mu   sync.Mutex
	live map[conf.Tracing]*shared
	wg   sync.WaitGroup // shutdowns under way
}

type shared struct {
	t    *Tracer
	refs int
}

// NewRegistry returns an empty registry; log receives export failures.
func NewRegistry(log *slog.Logger) *Registry {
	return &Registry{log: log, live: map[conf.Tracing]*shared{}}
}

// Acquire returns the tracer of c, new or shared; Release gives it back.
func (r *Registry) Acquire(c conf.Tracing) (*Tracer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.live[c]; s != nil {
		s.refs++
		return s.t, nil
	}
	t, err := New(c, r.log)
	if err != nil {
		return nil, err
	}
	r.live[c] = &shared{t: t, refs: 1}
	return t, nil
}

// Release gives back a tracer Acquire returned; the last release shuts it
// down in the background.
func (r *Registry) Release(t *Tracer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.live[t.conf]
	if s == nil || s.t != t {
		return
	}
	if s.refs--; s.refs > 0 {
		return
	}
	delete(r.live, t.conf)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			r.log.Warn("tracing: the last spans could not be exported", "endpoint", t.conf.Endpoint, "err", err)
		}
	}()
}

// Close waits for the shutdowns under way: call it after the last
// snapshot retired, before the process exits, so queued spans leave.
func (r *Registry) Close() {
	r.wg.Wait()
}
