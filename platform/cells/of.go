package cells

// Of returns the cell of userID among n cells, 0..n-1.
//
// The hash is the colour plugin's (wasm-plugins/colour): FNV-1a (64 bits)
// of the id's decimal spelling, finalised with MurmurHash3's fmix64 (FNV's
// low bits alone spread sequential ids badly over a power-of-two number of
// cells), modulo n. It is part of the contract: the Go and Rust plugins and
// anything else that places users in cells compute the same, so do not
// change it without changing all of them and moving the users' data.
//
// userID is hashed as given; callers pass the canonical decimal (no sign,
// no leading zeros), as the auth package formats it, since "042" and "42"
// land in different cells. n < 1 means a single cell, so Of returns 0
// rather than dividing by zero.
func Of(userID string, n int) int {
	if n < 1 {
		return 0
	}
	return int(hash(userID) % uint64(n))
}

// hash is FNV-1a 64 of s finalised with fmix64.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
