package wasmhost

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"
	"github.com/tremolo-dev/tremolo/platform/ratelimit/redistest"
)

// TestBucketsInRedis is two edges, each with its own Runtime and instances
// of the tremolo guest, sharing one Redis: a client gets the one burst (3)
// across both. When Redis goes away, requests are let through and the
// failures counted.
func TestBucketsInRedis(t *testing.T) {
	srv := redistest.Start(t)
	var edges []*testHost
	var handlers []func() int
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("x"))
	sig := hex.EncodeToString(m.Sum(nil))
	for range 2 {
		h := newHost(t, RuntimeOptions{Buckets: ratelimit.NewRedis(srv.Client(t), ratelimit.RedisOptions{})})
		p := h.load(t, "tremolo", PluginOptions{Config: []byte("k")})
		handler := p.Wrap(upstream(), denied)
		edges = append(edges, h)
		handlers = append(handlers, func() int {
			return do(handler, "GET", "/", "", "X-Msg", "x", "X-Sig", sig).Code
		})
	}
	var codes []int
	for i := range 6 {
		codes = append(codes, handlers[i%2]())
	}
	allowed := 0
	for _, c := range codes {
		if c == 200 {
			allowed++
		} else if c != 429 {
			t.Fatalf("status %d", c)
		}
	}
	if allowed != 3 {
		t.Fatalf("two edges allowed %d of 6 requests (%v), want the one burst of 3", allowed, codes)
	}
	srv.Stop()
	for i := range 4 {
		if c := handlers[i%2](); c != 200 {
			t.Fatalf("with Redis gone: status %d, want the request let through", c)
		}
	}
	for i, h := range edges {
		if got := h.counter("tremolo_wasm_bucket_errors_total", "plugin", "tremolo"); got != 2 {
			t.Errorf("edge %d: bucket errors = %v, want 2", i, got)
		}
	}
}
