package upstream

import (
	"math"
	"net/netip"
	"sync"
)

// Fair shares of a target's connections.
//
// A client that holds connections for a long time — sending a large body
// slowly, reading a large answer slowly — must not take the connections
// every other client needs. Each target counts the connections each
// client holds (by its id, or its IP when anonymous) and refuses a client
// a new one once it holds its share: max_conns_share of
// max_conns_per_target, from the upstream's pool settings or the
// client's own override. The refused client is answered 429 itself; the
// others find the rest of the pool free.

// ShareKey names whom a connection is held for: an authenticated
// client's id, or an anonymous client's IP (ID "").
type ShareKey struct {
	ID string
	IP netip.Addr
}

// shares counts the connections each client holds on one target. Only
// clients holding at least one are in the map.
type shares struct {
	mu   sync.Mutex
	held map[ShareKey]int32
}

// ShareLimit returns how many connections one client may hold on t with
// share (a fraction of max_conns_per_target; 0 means the upstream's
// pool.max_conns_share). 0 means no limit: an unlimited pool, or a share
// of 1.
func (t *Target) ShareLimit(share float64) int {
	if share <= 0 {
		share = math.Float64frombits(t.share.Load())
	}
	m := t.pool.settings.maxConns
	if m == 0 || share <= 0 || share >= 1 {
		return 0
	}
	return max(1, int(math.Ceil(share*float64(m))))
}

// ClaimShare counts one more connection held on t for k, unless k holds
// limit already (false). Every true must be matched by one ReleaseShare.
func (t *Target) ClaimShare(k ShareKey, limit int) bool {
	s := &t.shares
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.held[k]
	if int(n) >= limit {
		return false
	}
	if s.held == nil {
		s.held = make(map[ShareKey]int32)
	}
	s.held[k] = n + 1
	return true
}

// ReleaseShare gives back a connection ClaimShare counted for k.
func (t *Target) ReleaseShare(k ShareKey) {
	s := &t.shares
	s.mu.Lock()
	if n := s.held[k]; n > 1 {
		s.held[k] = n - 1
	} else {
		delete(s.held, k)
	}
	s.mu.Unlock()
}

// SharesHeld returns how many connections k holds on t.
func (t *Target) SharesHeld(k ShareKey) int {
	s := &t.shares
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.held[k])
}
