package proxy

import (
	"errors"
	"fmt"

	"tollgate/conf"
	"tollgate/upstream"
)

// maxPicks bounds the targets one request picks (tries plus targets whose
// breaker refused), so the loop in forward ends even if every pick is
// refused.
const maxPicks = 1 + conf.MaxRetryAttempts

// errTooManyPicks ends a request whose picks were all used up.
var errTooManyPicks = fmt.Errorf("more than %d targets picked: %w", maxPicks, upstream.ErrNoTarget)

// targetPicker chooses the target of each try of one request: a target not
// tried yet when there is one, else one already tried (the same target again
// for a single-target upstream), never one whose breaker refused this
// request. It lives on forward's stack.
type targetPicker struct {
	picked  [maxPicks]*upstream.Target // tried and refused, the exclusion list
	n       int
	refused [maxPicks]*upstream.Target
	nr      int
	tries   int
}

// next picks a target and begins a try on its breaker. A breaker that
// refuses (half-open quota used, or it opened since Pick looked) costs no
// attempt: the next target is picked instead.
func (p *targetPicker) next(up *upstream.Upstream, key uint64) (*upstream.Target, upstream.Try, error) {
	for p.n < maxPicks {
		t, err := up.Pick(key, p.picked[:p.n])
		if err != nil && p.tries > 0 && !errors.Is(err, upstream.ErrAllUnavailable) {
			t, err = up.Pick(key, p.refused[:p.nr]) // every target tried: again
		}
		if err != nil {
			return nil, upstream.Try{}, err
		}
		p.picked[p.n] = t
		p.n++
		tr, err := t.Begin()
		if err == nil {
			p.tries++
			return t, tr, nil
		}
		p.refused[p.nr] = t
		p.nr++
	}
	return nil, upstream.Try{}, errTooManyPicks
}

// replyNoTarget answers a request for which no first target could be
// picked: 503, with Retry-After from the upstream when every target is out
// of rotation (breaker open, failing health checks), else 1 s.
func (cc *clientConn) replyNoTarget(snap *Snapshot, rt *routeRT, err error) exchangeResult {
	if err == errOverShare {
		return cc.replyFailure(rt, failOverShare, len(rt.chain))
	}
	if errors.Is(err, upstream.ErrAllUnavailable) {
		cc.fs.failed = failAllOut // for the access log
		return cc.replyUnavailable(rt, rt.up.RetryAfter(), len(rt.chain))
	}
	return cc.replyFailure(rt, classifyUpstream(err), len(rt.chain))
}
