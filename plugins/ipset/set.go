// Package ipset compiles lists of CIDRs into sets that answer "is this
// address in one of them" in a few dozen nanoseconds whatever their size:
// the prefixes are merged into sorted, disjoint address ranges (one table
// for IPv4, one for IPv6) and an address is found by binary search, with
// no allocation.
//
// One request: the IP-rule filter (plugins) asks Contains with the client
// address the proxy computed (trusted_proxies applied); IPv4-mapped IPv6
// addresses and prefixes (::ffff:10.0.0.0/104) are normalised to IPv4 on
// both sides, so a dual-stack listener and an IPv4 rule agree.
package ipset

import (
	"net/netip"
	"slices"
)

// Set is an immutable set of addresses built from CIDRs. The zero value
// and a nil *Set are empty. It is safe for concurrent use.
type Set struct {
	v4 []span4
	v6 []span6
}

// span4 is a closed range of IPv4 addresses.
type span4 struct{ lo, hi uint32 }

// span6 is a closed range of IPv6 addresses.
type span6 struct{ lo, hi u128 }

// u128 is an IPv6 address as two big-endian halves.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// next returns a+1 and false when a is the largest address.
func (a u128) next() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

// New compiles prefixes into a Set. Invalid prefixes are skipped (the
// config loader has refused them already); host bits are ignored.
func New(prefixes []netip.Prefix) *Set {
	s := &Set{}
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = Normalise(p)
		if p.Addr().Is4() {
			lo := v4(p.Addr())
			hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
			s.v4 = append(s.v4, span4{lo, hi})
			continue
		}
		lo := v6(p.Addr())
		hi := lo
		if b := p.Bits(); b < 64 {
			hi.hi |= uint64(1)<<(64-b) - 1
			hi.lo = ^uint64(0)
		} else if b < 128 {
			hi.lo |= uint64(1)<<(128-b) - 1
		}
		s.v6 = append(s.v6, span6{lo, hi})
	}
	s.v4 = merge4(s.v4)
	s.v6 = merge6(s.v6)
	return s
}

// Normalise turns an IPv4-mapped IPv6 prefix of at least 96 bits into
// the IPv4 prefix it covers, and clears host bits.
func Normalise(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// merge4 sorts spans and merges the overlapping and adjacent ones.
func merge4(in []span4) []span4 {
	slices.SortFunc(in, func(a, b span4) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := in[:0]
	for _, sp := range in {
		if n := len(out); n > 0 && (sp.lo <= out[n-1].hi || out[n-1].hi != ^uint32(0) && sp.lo == out[n-1].hi+1) {
			out[n-1].hi = max(out[n-1].hi, sp.hi)
			continue
		}
		out = append(out, sp)
	}
	return slices.Clip(out)
}

// merge6 is merge4 for IPv6.
func merge6(in []span6) []span6 {
	slices.SortFunc(in, func(a, b span6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := in[:0]
	for _, sp := range in {
		if n := len(out); n > 0 && touches(out[n-1].hi, sp.lo) {
			if out[n-1].hi.less(sp.hi) {
				out[n-1].hi = sp.hi
			}
			continue
		}
		out = append(out, sp)
	}
	return slices.Clip(out)
}

// touches reports whether a range starting at lo overlaps or follows
// at once a range ending at hi (lo <= hi+1).
func touches(hi, lo u128) bool {
	next, ok := hi.next()
	return !ok || !next.less(lo)
}

// Contains reports whether a is in the set. An IPv4-mapped IPv6 address
// is looked up as IPv4; a zone is ignored.
func (s *Set) Contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.Is4() {
		return contains4(s.v4, v4(a))
	}
	return contains6(s.v6, v6(a))
}

// contains4 finds the last span starting at or before x.
func contains4(spans []span4, x uint32) bool {
	lo, hi := 0, len(spans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if spans[m].lo <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo > 0 && x <= spans[lo-1].hi
}

// contains6 is contains4 for IPv6.
func contains6(spans []span6, x u128) bool {
	lo, hi := 0, len(spans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !x.less(spans[m].lo) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo > 0 && !spans[lo-1].hi.less(x)
}

// Empty reports whether the set holds no address.
func (s *Set) Empty() bool { return s == nil || len(s.v4)+len(s.v6) == 0 }

// Ranges returns how many disjoint ranges the set was compiled into.
func (s *Set) Ranges() int {
	if s == nil {
		return 0
	}
	return len(s.v4) + len(s.v6)
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func v6(a netip.Addr) u128 {
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}
