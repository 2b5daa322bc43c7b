package proxy

import (
	"errors"

	"tollgate/conf"
	"tollgate/upstream"
)

// Fair shares on the request path (see upstream/share.go).
//
// Each try claims, on the target it picked, one of the connections its
// client may hold there — max_conns_share of the pool, or the client's
// own override — before a connection is taken; the claim is given back
// when the exchange ends (or the next try picks again). A client that
// holds its share already is answered 429 with Retry-After, as a
// client over its concurrency is, and the others find the rest of the
// pool free.

// errOverShare is a try refused because its client holds its share of
// the target's connections.
var errOverShare = errors.New("client holds its share of the target's connections")

// claimShare claims a connection on fs.t for the request's client,
// giving back the previous try's claim first. false: the client holds
// its share already.
func (cc *clientConn) claimShare() bool {
	fs := &cc.fs
	cc.releaseShare()
	limit := fs.t.ShareLimit(cc.snap.clientShare(cc.x.ClientID))
	if limit == 0 {
		return true
	}
	k := upstream.ShareKey{ID: cc.x.ClientID}
	if k.ID == "" {
		k.IP = cc.x.ClientIP
	}
	if !fs.t.ClaimShare(k, limit) {
		cc.e.metrics.shareRefused(cc.rt.upName)
		return false
	}
	fs.shareT, fs.shareK = fs.t, k
	return true
}

// releaseShare gives back the exchange's claim, if it holds one.
func (x *exchange) releaseShare() {
	if t := x.fs.shareT; t != nil {
		t.ReleaseShare(x.fs.shareK)
		x.fs.shareT = nil
	}
}

// clientShares collects the clients' max_conns_share overrides.
func clientShares(cfg *conf.Config) map[string]float64 {
	out := map[string]float64{}
	for id, q := range cfg.Clients.Named {
		if q.MaxConnsShare > 0 {
			out[id] = q.MaxConnsShare
		}
	}
	return out
}

// clientShare returns the client's max_conns_share override, 0 when it
// has none (anonymous clients never do).
func (s *Snapshot) clientShare(id string) float64 {
	if id == "" || len(s.shares) == 0 {
		return 0
	}
	return s.shares[id]
}
