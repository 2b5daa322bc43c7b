package limiter

import (
	"net/netip"
	"strconv"
	"testing"

	"tollgate/conf"
)

func benchLimiter(b *testing.B) *Limiter {
	l := New(Options{SweepInterval: -1})
	b.Cleanup(l.Close)
	c := partnerClients()
	c.Named["partner-x"].Concurrency = 0
	c.Default = *q(1e9, 1e9)
	c.Named["partner-x"].Rate = perSec(1e9)
	c.Named["partner-x"].Burst = 1e9
	if err := l.Apply(c, conf.Limits{}, nil); err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkAllowNamed: one named client, all goroutines (same bucket).
func BenchmarkAllowNamed(b *testing.B) {
	l := benchLimiter(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("partner-x", ipA, "users", "u")
		}
	})
}

// BenchmarkAllowAnonymous10k: 10,000 distinct anonymous callers.
func BenchmarkAllowAnonymous10k(b *testing.B) {
	l := benchLimiter(b)
	ips := make([]netip.Addr, 10_000)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		l.Allow("", ips[i], "r", "u")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow("", ips[i%len(ips)], "r", "u")
			i++
		}
	})
}

// BenchmarkAllowClientIDs10k: 10,000 distinct unlisted client ids.
func BenchmarkAllowClientIDs10k(b *testing.B) {
	l := benchLimiter(b)
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
		l.Allow(ids[i], ipA, "r", "u")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(ids[i%len(ids)], ipA, "r", "u")
			i++
		}
	})
}

// BenchmarkStateHeader: the one per-request header string.
func BenchmarkStateHeader(b *testing.B) {
	l := benchLimiter(b)
	d := l.Allow("partner-x", ipA, "users", "u")
	b.ReportAllocs()
	for b.Loop() {
		_ = d.StateHeader()
	}
}

// BenchmarkDecideQuota: a cost-5 request of a plan member with a monthly
// quota, 10,000 distinct members.
func BenchmarkDecideQuota(b *testing.B) {
	l := New(Options{SweepInterval: -1})
	b.Cleanup(l.Close)
	if err := l.ApplyConfig(quotaAllocConfig()); err != nil {
		b.Fatal(err)
	}
	reqs := make([]Request, 10_000)
	for i := range reqs {
		reqs[i] = Request{ClientID: "member-" + strconv.Itoa(i), Plan: "gold", Route: "r", Cost: 5}
		l.Decide(&reqs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Decide(&reqs[i%len(reqs)])
			i++
		}
	})
}
