package requestid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

func TestMiddlewareKeepsValidAndReplacesBadIDs(t *testing.T) {
	var seen string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = FromContext(r.Context()) }))
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-123", true},
		{"", false},
		{"has space", false},
		{"line\nbreak", false},
		{`quo"te`, false},
		{strings.Repeat("x", 129), false},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		if tc.in != "" {
			req.Header[Header] = []string{tc.in}
		}
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(Header)
		if got != seen || got == "" {
			t.Fatalf("%q: response id %q, context id %q", tc.in, got, seen)
		}
		if (got == tc.in) != tc.keep {
			t.Errorf("%q: kept=%v; want %v", tc.in, got == tc.in, tc.keep)
		}
	}
}

func TestClientForwardsID(t *testing.T) {
	ctx := NewContext(context.Background(), "req-1")
	var got []string
	err := UnaryClientInterceptor()(ctx, "/s/M", nil, nil, nil, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		md, _ := metadata.FromOutgoingContext(ctx)
		got = md.Get(Key)
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != "req-1" {
		t.Fatalf("forwarded %v, %v", got, err)
	}
}

func TestNewIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if seen[id] || !valid(id) {
			t.Fatalf("New() = %q: duplicate or invalid", id)
		}
		seen[id] = true
	}
}
