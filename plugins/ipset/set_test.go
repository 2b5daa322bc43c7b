package ipset

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestContains(t *testing.T) {
	s := New(prefixes(t, "10.0.0.0/8", "192.168.1.0/24", "192.168.2.0/24", "2001:db8::/32",
		"::ffff:172.16.0.0/108", "203.0.113.7/32", "0.0.0.0/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120"))
	cases := map[string]bool{
		"10.0.0.0": true, "10.255.255.255": true, "11.0.0.0": false, "9.255.255.255": false,
		"192.168.1.77": true, "192.168.2.1": true, "192.168.3.0": false,
		"2001:db8::1": true, "2001:db9::": false, "2001:db7:ffff::": false,
		"172.16.3.4": true, "172.32.0.0": false, // the mapped prefix became 172.16.0.0/12
		"::ffff:10.1.2.3": true, "::ffff:11.1.2.3": false, // a mapped address is IPv4
		"203.0.113.7": true, "203.0.113.8": false, "0.0.0.0": true, "0.0.0.1": false,
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": true, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:feff": false,
		"::": false,
	}
	for a, want := range cases {
		if got := s.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", a, got, want)
		}
	}
	// 192.168.1.0/24 and 192.168.2.0/24 are adjacent: one range.
	if got := s.Ranges(); got != 7 {
		t.Errorf("Ranges() = %d, want 7 (adjacent and overlapping prefixes merged)", got)
	}
	if (*Set)(nil).Contains(netip.MustParseAddr("10.0.0.1")) || !(*Set)(nil).Empty() {
		t.Error("a nil set must be empty")
	}
}

func TestMergeOverlapping(t *testing.T) {
	s := New(prefixes(t, "10.0.0.0/16", "10.0.0.0/8", "10.1.2.0/24", "::/0", "2001:db8::/32"))
	if s.Ranges() != 2 {
		t.Fatalf("Ranges() = %d, want 2", s.Ranges())
	}
	if !s.Contains(netip.MustParseAddr("10.200.0.1")) || !s.Contains(netip.MustParseAddr("fe80::1")) {
		t.Fatal("merged ranges lost addresses")
	}
}

// TestAgainstLinearScan compares the compiled set with netip.Prefix
// Contains over random prefixes and addresses.
func TestAgainstLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ps := randomPrefixes(r, 2000)
	s := New(ps)
	for i := 0; i < 20000; i++ {
		a := randomAddr(r, i%2 == 0)
		want := false
		for _, p := range ps {
			if p.Contains(a) {
				want = true
				break
			}
		}
		if got := s.Contains(a); got != want {
			t.Fatalf("Contains(%s) = %v, want %v", a, got, want)
		}
	}
}

func randomAddr(r *rand.Rand, four bool) netip.Addr {
	if four {
		var b [4]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		b[0] = byte(r.IntN(4)) + 10 // dense enough to hit prefixes
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[0], b[1], b[2] = 0x20, 0x01, byte(r.IntN(4))
	return netip.AddrFrom16(b)
}

func randomPrefixes(r *rand.Rand, n int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n)
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			out = append(out, netip.PrefixFrom(randomAddr(r, true), 8+r.IntN(25)).Masked())
		} else {
			out = append(out, netip.PrefixFrom(randomAddr(r, false), 16+r.IntN(113)).Masked())
		}
	}
	return out
}

// BenchmarkContains10k looks addresses up in a set of 10,000 CIDRs (half
// IPv4, half IPv6): the issue asks for under 1 µs per request.
func BenchmarkContains10k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	ps := make([]netip.Prefix, 0, 10000)
	for i := 0; i < 10000; i++ { // a block list: scattered /24s and /48s
		var b [16]byte
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		if i%2 == 0 {
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte(b[:4])), 24).Masked())
		} else {
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(b), 48).Masked())
		}
	}
	s := New(ps)
	if s.Ranges() < 9900 {
		b.Fatalf("only %d ranges: the prefixes should stay apart", s.Ranges())
	}
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = ps[r.IntN(len(ps))].Addr().Next() // half hit (addresses inside), half miss
		if i%2 == 1 {
			addrs[i] = randomAddr(r, i%4 == 1)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		if s.Contains(addrs[i&1023]) {
			hits++
		}
	}
	if hits < 0 {
		b.Fatal("unreachable")
	}
}
