package upstream

import (
	"testing"
	"time"

	"tollgate/conf"
)

var policies = []string{conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceRandom, conf.BalanceHash}

func BenchmarkPick(b *testing.B) {
	for _, policy := range policies {
		b.Run(policy, func(b *testing.B) {
			u := balanced(b, testRegistry(b, registryOptions{}), policy, 1, 2, 3, 4)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := u.Pick(uint64(i), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPickParallel(b *testing.B) {
	for _, policy := range policies {
		b.Run(policy, func(b *testing.B) {
			u := balanced(b, testRegistry(b, registryOptions{}), policy, 1, 2, 3, 4)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for i := uint64(0); pb.Next(); i++ {
					if _, err := u.Pick(i, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAcquireReleaseIdle measures taking an idle connection (with its
// MSG_PEEK liveness check) and putting it back.
func BenchmarkAcquireReleaseIdle(b *testing.B) {
	srv := newServer(b)
	_, tg := singleTarget(b, testRegistry(b, registryOptions{}), defaultPool, srv.addr)
	mustAcquire(b, tg).Release()
	b.ReportAllocs()
	for b.Loop() {
		c, err := tg.Acquire(time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		c.Release()
	}
	if srv.accepted.Load() != 1 {
		b.Fatalf("dialled %d times", srv.accepted.Load())
	}
}
