package upstream

import "sync"

// Set is the upstreams of one config snapshot. The snapshot reads it for its
// whole life; Release retires it. Safe for concurrent use.
type Set struct {
	reg       *Registry
	upstreams map[string]*Upstream
	targets   []*Target        // one entry per reference taken in Apply
	settings  []targetSettings // settings[i] is what this snapshot gives targets[i]
	budgets   []string         // upstreams whose retry budget this Set references
	once      sync.Once
}

// Get returns the named upstream, or nil if the snapshot has none by that
// name. It keeps working after Release, for requests still in flight.
func (s *Set) Get(name string) *Upstream { return s.upstreams[name] }

// Release tells the registry that the snapshot holding s is retired. Targets
// no later Set names are then closed: idle connections at once, active ones
// when their users release them (in-flight requests may still finish).
// Calling it again does nothing.
func (s *Set) Release() {
	s.once.Do(func() { s.reg.release(s) })
}
