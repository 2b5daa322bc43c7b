// Package upstream owns tollgate's connections to the services behind it:
// one pool of keep-alive connections per target, the balancing policies that
// choose a target for each try, and a Registry that keeps that state across
// config reloads.
//
// The shape follows STYLE.md item 6: state that outlives a config snapshot
// (pools, active-connection counts, later breakers and health flags) lives in
// Targets owned by the Registry and keyed by stable identity (upstream name,
// address, pool settings); each snapshot's Set only holds pointers into it.
// A Target stays alive while at least one unreleased Set references it.
//
// One try on the request path looks like:
//
//	u := set.Get(route.Upstream)
//	t, err := u.Pick(clientHash, tried)       // ErrNoTarget
//	c, err := t.Acquire(deadline)             // *DialError, ErrPoolExhausted
//	... write the request to c, read the response from c.R ...
//	c.Release()                               // or c.Close() after any error
//
// Nothing in this package starts a goroutine except the Registry's idle
// reaper, which Registry.Close stops and waits for.
package upstream
