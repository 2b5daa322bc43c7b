package proxy

import (
	"context"
	"testing"
	"time"

	"tollgate/plugins"
)

// useChain gives the engine's first route the filters chain, in a copy of
// the current snapshot swapped in (the loop loads it after the swap); the
// original comes back at cleanup, so its Retire is the one that runs.
func useChain(t *testing.T, e *Engine, chain ...plugins.Filter) {
	t.Helper()
	old := e.Current()
	snap := *old
	rt := *old.routes[0]
	rt.chain = chain
	snap.routes = []*routeRT{&rt}
	e.Swap(&snap)
	t.Cleanup(func() { e.Swap(old) })
}

// startShutdown begins the engine's Shutdown (bounded by 5 s) and returns
// where its result arrives.
func startShutdown(e *Engine) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.Shutdown(ctx)
	}()
	return done
}

// stillShuttingDown fails the test if done reports within 100 ms: work
// that is still in flight must hold Shutdown back.
func stillShuttingDown(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("shutdown ended (%v) with %s in flight", err, what)
	case <-time.After(100 * time.Millisecond):
	}
}
