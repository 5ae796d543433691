package token

import (
	"hash/maphash"
	"sync"
	"time"
)

// verifiedCache remembers tokens that verified, until they expire, so that
// the app's token, sent with every request, is checked once rather than on
// every request (HMAC, base64 and JSON decoding cost several microseconds,
// a noticeable part of a cheap request). Only successes are kept: a token
// that verified keeps verifying until its expiry, while a failure may be a
// token not yet valid. The cache is bounded; when a shard is full, an
// arbitrary entry makes room.
type verifiedCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards      = 16
	cacheShardMaxLen = 4096 // 65,536 tokens in all, about 20 MB at most
)

type cacheShard struct {
	mu sync.Mutex
	m  map[string]verified
}

type verified struct {
	userID int64
	until  time.Time // expiry plus leeway: the last instant Verify accepts
}

func newVerifiedCache() *verifiedCache {
	c := &verifiedCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string]verified{}
	}
	return c
}

func (c *verifiedCache) shard(tok string) *cacheShard {
	return &c.shards[maphash.String(c.seed, tok)%cacheShards]
}

// get returns the user of tok if it verified before and is not expired at now.
func (c *verifiedCache) get(tok string, now time.Time) (int64, bool) {
	s := c.shard(tok)
	s.mu.Lock()
	v, ok := s.m[tok]
	if ok && !now.Before(v.until) {
		delete(s.m, tok)
		ok = false
	}
	s.mu.Unlock()
	return v.userID, ok
}

// put remembers that tok verified for userID until "until".
func (c *verifiedCache) put(tok string, userID int64, until time.Time) {
	s := c.shard(tok)
	s.mu.Lock()
	if len(s.m) >= cacheShardMaxLen {
		for k := range s.m { // map order is arbitrary: evicts one at random
			delete(s.m, k)
			break
		}
	}
	s.m[tok] = verified{userID: userID, until: until}
	s.mu.Unlock()
}
