package jwt

import "time"

// SetNow replaces the plugin's clock.
func SetNow(p *Plugin, now func() time.Time) { p.verifier.now = now }
