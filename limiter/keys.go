package limiter

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"net/netip"
)

// ipKey identifies an anonymous caller's bucket: its address (IPv4 as
// IPv4-mapped IPv6, zone dropped) and the policy's route id (0 for the
// default policy). It holds no pointer, so the GC does not scan the map.
type ipKey struct {
	addr [16]byte
	pol  uint32
}

// idKey identifies the bucket of an authenticated client that is not
// named in clients: its id (or its tenant's), the policy's route id and
// the id of its plan (0 for the default), with tenantBit set when id is a
// tenant.
type idKey struct {
	id   string
	pol  uint32
	plan uint32
}

// tenantBit marks an idKey whose id is a tenant, so a tenant and a client
// of the same name never share a bucket.
const tenantBit = 1 << 31

// hasher hashes table keys with per-limiter random seeds.
type hasher struct {
	seed   maphash.Seed
	s1, s2 uint64
}

// newHasher returns a hasher with fresh seeds.
func newHasher() hasher {
	seed := maphash.MakeSeed()
	return hasher{
		seed: seed,
		s1:   maphash.String(seed, "tollgate-1") | 1,
		s2:   maphash.String(seed, "tollgate-2") | 1,
	}
}

// ip hashes an ipKey without allocating.
func (h hasher) ip(k ipKey) uint64 {
	lo := binary.LittleEndian.Uint64(k.addr[:8])
	hi := binary.LittleEndian.Uint64(k.addr[8:])
	return mix(mix(lo^h.s1, hi^h.s2), uint64(k.pol)^h.s1)
}

// id hashes an idKey without allocating.
func (h hasher) id(k idKey) uint64 {
	return mix(maphash.String(h.seed, k.id), (uint64(k.plan)<<32|uint64(k.pol))^h.s2)
}

// mix folds two words into one (the wyhash multiply-xor step).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b^0x9e3779b97f4a7c15)
	return hi ^ lo
}

// keyOfAddr builds the ipKey of addr under route id pol.
func keyOfAddr(addr netip.Addr, pol uint32) ipKey {
	return ipKey{addr: addr.Unmap().As16(), pol: pol}
}

// ipOf returns the address of an ipKey (IPv4 unmapped).
func ipOf(k ipKey) netip.Addr { return netip.AddrFrom16(k.addr).Unmap() }
