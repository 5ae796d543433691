package wasmhost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkPlugin measures the cost a plugin adds to a request: a
// pass-through guest that sets two headers (handle_request and
// handle_response), one that only has handle_request (loop, without
// X-Loop), trusted and untrusted, against no plugin at all.
func BenchmarkPlugin(b *testing.B) {
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	b.Run("none", func(b *testing.B) { benchServe(b, noop) })
	h := newHost(b, RuntimeOptions{})
	for _, tc := range []struct {
		name, guest string
		trusted     bool
	}{
		{"passthrough/trusted", "passthrough", true},
		{"passthrough/untrusted", "passthrough", false},
		{"request-only/trusted", "loop", true},
		{"request-only/untrusted", "loop", false},
	} {
		p := h.load(b, tc.guest, PluginOptions{Name: sanitizeName(tc.name), Trusted: tc.trusted, MaxCalls: -1})
		b.Run(tc.name, func(b *testing.B) { benchServe(b, p.Wrap(noop, nil)) })
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/feed", nil)
				for pb.Next() {
					w := httptest.NewRecorder()
					p.Wrap(noop, nil).ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d\n%s", w.Code, h.log.String()[max(0, len(h.log.String())-3000):])
					}
				}
			})
		})
	}
}

func sanitizeName(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '/' {
			out[i] = '.'
		}
	}
	return string(out)
}

func benchServe(b *testing.B, h http.Handler) {
	r := httptest.NewRequest("GET", "/feed", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkWarmUp measures what creating one instance costs (a Go guest's
// runtime initialisation in _initialize): a cold start, and what Load pays
// Warm times.
func BenchmarkWarmUp(b *testing.B) {
	h := newHost(b, RuntimeOptions{})
	for _, trusted := range []bool{true, false} {
		name := map[bool]string{true: "trusted", false: "untrusted"}[trusted]
		p := h.load(b, "passthrough", PluginOptions{Name: name, Trusted: trusted, Warm: 1})
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				inst, err := p.instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				inst.mod.Close(context.Background())
			}
		})
	}
}
