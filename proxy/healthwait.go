package proxy

import (
	"context"
	"time"
)

// AwaitHealthChecks waits until every target of an upstream with a
// health_check has passed a check, or ctx ends, and returns the targets
// still waiting ("upstream/address"). A process that just started keeps
// such targets out of rotation until their first check passes (run at
// once), so a process taking over from another (binary upgrade) waits for
// them before it says it is ready: otherwise its first requests would be
// answered 503 while the old process could still have served them.
func (g *Gateway) AwaitHealthChecks(ctx context.Context) []string {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := g.unprovenTargets()
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return pending
		case <-tick.C:
		}
	}
}

// unprovenTargets lists the health-checked targets out of rotation.
func (g *Gateway) unprovenTargets() []string {
	snap := g.engine.Current()
	var out []string
	for name, u := range snap.Conf.Upstreams {
		if u == nil || u.HealthCheck == nil {
			continue
		}
		up := snap.upstreams.Get(name)
		if up == nil {
			continue
		}
		for _, t := range up.Targets() {
			if !t.Healthy() {
				out = append(out, name+"/"+t.Addr)
			}
		}
	}
	return out
}
