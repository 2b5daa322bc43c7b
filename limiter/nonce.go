package limiter

import (
	"context"
	"fmt"
	"time"
)

// RememberOnce records key in the shared Redis store for ttl (SET NX PX)
// and reports whether it was new there. ok is false when the limiter has
// no Redis store: the caller keeps its own memory. Signed requests use it
// so that a nonce seen by one gateway is refused by every other.
func (l *Limiter) RememberOnce(ctx context.Context, key string, ttl time.Duration) (fresh, ok bool, err error) {
	sn := l.snap.Load()
	if sn == nil || sn.store == nil {
		return false, false, nil
	}
	set, err := sn.store.client.SetNX(ctx, "tollgate:nonce:"+key, 1, ttl).Result()
	if err != nil {
		return false, true, fmt.Errorf("remembering a nonce in redis: %w", err)
	}
	return set, true, nil
}
