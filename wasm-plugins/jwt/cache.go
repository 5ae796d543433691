package jwt

import (
	"strings"
	"sync"
)

// The app sends the same token with every request until it expires, and
// verifying one costs most of the plugin's time in a WebAssembly guest
// (base64 and JSON in the guest are several times slower than natively).
// So the plugin remembers the tokens it verified, with their claims and the
// window in which their time claims hold, and answers a token it knows by
// checking the clock alone. Only verified tokens are kept, under their
// exact text; a new configuration (new keys) starts a new plugin, and so an
// empty cache. Each instance of a pool has its own.

const (
	// cacheSize bounds the tokens kept; a full cache forgets an arbitrary
	// one for each new token.
	cacheSize = 1024
	// cacheMaxToken is the longest token kept (the platform's are ~150
	// bytes), so the cache holds at most a few hundred kilobytes.
	cacheMaxToken = 512
)

type verifiedCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	claims Claims
	valid  window
}

// get returns the claims of tok if it was verified and its time claims hold
// at t (Unix seconds).
func (c *verifiedCache) get(tok string, t float64) (Claims, bool) {
	c.mu.Lock()
	e, ok := c.m[tok]
	c.mu.Unlock()
	if !ok || !e.valid.holds(t) {
		return Claims{}, false // outside its window: Verify says why
	}
	return e.claims, true
}

// add keeps a verified token.
func (c *verifiedCache) add(tok string, claims Claims, valid window) {
	if len(tok) > cacheMaxToken {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedToken, cacheSize)
	}
	if _, ok := c.m[tok]; !ok && len(c.m) >= cacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	// A copy: in a guest, tok points into memory reused by the next request.
	c.m[strings.Clone(tok)] = cachedToken{claims: claims, valid: valid}
}

// verifyCached is Verify, answered from the cache when it can be.
func (v *Verifier) verifyCached(c *verifiedCache, tok string) (Claims, error) {
	now := v.now()
	t := float64(now.Unix()) + float64(now.Nanosecond())/1e9
	if claims, ok := c.get(tok, t); ok {
		return claims, nil
	}
	claims, valid, err := v.verify(tok)
	if err == nil {
		c.add(tok, claims, valid)
	}
	return claims, err
}
