package balancer

import (
	"cmp"
	"slices"
	"strconv"
)

// ring is a consistent-hash ring: points sorted by hash, each naming the
// index of an instance in its set. A key goes to the first point at or
// after its hash, wrapping around.
type ring []point

type point struct {
	hash uint64
	idx  uint32 // into set.scs
}

// newRing places vnodes × weight points per member. A point's hash depends
// only on the member's address and the point's number, so every client
// builds the same ring from the same instances, and a member joining or
// leaving moves only the keys of its own points.
func newRing(members []*member, vnodes int) ring {
	n := 0
	for _, m := range members {
		n += vnodes * m.weight
	}
	r := make(ring, 0, n)
	for i, m := range members {
		h := fnv1a(fnvOffset, m.addr)
		var buf [24]byte
		for v := range vnodes * m.weight {
			b := strconv.AppendInt(append(buf[:0], '#'), int64(v), 10)
			r = append(r, point{hash: fmix64(fnv1a(h, b)), idx: uint32(i)})
		}
	}
	// Ties (rare) go to the member that sorts first, the same on every
	// client.
	slices.SortFunc(r, func(a, b point) int { return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.idx, b.idx)) })
	return r
}

// lookup returns the index of the member owning h. r is not empty.
func (r ring) lookup(h uint64) uint32 {
	lo, hi := 0, len(r)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r[mid].hash < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r) {
		lo = 0
	}
	return r[lo].idx
}

const fnvOffset = 14695981039346656037

// keySalt decorrelates the ring from cells.Of, which hashes the same user
// ids with the same function: a cell's users all share a residue of that
// hash, and the salt keeps that from showing in their ring positions.
const keySalt = 0x9e3779b97f4a7c15

// hashKey is the ring position of a call's key: FNV-1a finalised with
// fmix64, allocation-free.
func hashKey(key string) uint64 { return fmix64(fnv1a(fnvOffset, key) ^ keySalt) }

func fnv1a[T string | []byte](h uint64, s T) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// fmix64 is MurmurHash3's finaliser: FNV's output is poorly mixed in its
// high bits, which is where a ring looks.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
