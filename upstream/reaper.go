package upstream

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// reaper is the Registry's one background goroutine: every tick it closes
// idle connections past their idle timeout, so sockets the gateway will not
// reuse are returned to the servers. Acquire checks ages itself; the reaper
// only bounds how long an expired socket lingers. No timer per connection.
type reaper struct {
	every  time.Duration
	sweep  func()
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// startReaper runs sweep every interval until Stop.
func startReaper(every time.Duration, sweep func(), log *slog.Logger) *reaper {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reaper{every: every, sweep: sweep, log: log, cancel: cancel, done: make(chan struct{})}
	go r.run(ctx)
	return r
}

func (r *reaper) run(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.safeSweep()
		}
	}
}

// safeSweep runs one sweep; a panic is logged and the next tick tries again.
func (r *reaper) safeSweep() {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("upstream idle reaper panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	r.sweep()
}

// Stop ends the goroutine and waits for it. Calling it again does nothing.
func (r *reaper) Stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}
