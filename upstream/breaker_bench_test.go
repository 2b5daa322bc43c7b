package upstream

import "testing"

// BenchmarkTry measures one try's breaker bookkeeping (Pick + Begin +
// Done + the budget's request count) without and with a breaker.
func BenchmarkTry(b *testing.B) {
	for _, withBreaker := range []bool{false, true} {
		name := "no-breaker"
		if withBreaker {
			name = "breaker"
		}
		b.Run(name, func(b *testing.B) {
			reg := testRegistry(b, registryOptions{})
			br := testBreaker()
			if !withBreaker {
				br = nil
			}
			_, u := guarded(b, reg, br, nil, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
			u.budget = newRetryBudget(reg.now)
			b.ReportAllocs()
			for b.Loop() {
				u.CountRequest()
				t, err := u.Pick(0, nil)
				if err != nil {
					b.Fatal(err)
				}
				tr, err := t.Begin()
				if err != nil {
					b.Fatal(err)
				}
				tr.Done(Outcome{Status: 200})
			}
		})
	}
}
