package jwt

import "time"

// SetNow replaces the plugin's clock.
func SetNow(p *Plugin, now func() time.Time) { p.verifier.now = now }

// CachedTokens is how many verified tokens the plugin keeps.
func CachedTokens(p *Plugin) int {
	p.verified.mu.Lock()
	defer p.verified.mu.Unlock()
	return len(p.verified.m)
}
