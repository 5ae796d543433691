package requestid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

// A call forwards the request id, unless its outgoing metadata already
// has one (grpc-gateway's annotator sets it for REST calls).
func TestAppendOutgoing(t *testing.T) {
	ctx := NewContext(context.Background(), "req-1")
	if got := AppendOutgoing(ctx, nil); len(got) != 2 || got[0] != Key || got[1] != "req-1" {
		t.Fatalf("AppendOutgoing = %q, want [%s req-1]", got, Key)
	}
	if got := AppendOutgoing(metadata.AppendToOutgoingContext(ctx, Key, "mine"), nil); len(got) != 0 {
		t.Fatalf("with an id in the outgoing metadata, AppendOutgoing = %q, want nothing", got)
	}
	if got := AppendOutgoing(context.Background(), nil); len(got) != 0 {
		t.Fatalf("without an id, AppendOutgoing = %q", got)
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
