package callmd

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestPairsTravelInTheContext(t *testing.T) {
	if Pairs(context.Background()) != nil {
		t.Fatal("pairs in an empty context")
	}
	kv := []string{"x-request-id", "r1"}
	if got := Pairs(With(context.Background(), kv)); !slices.Equal(got, kv) {
		t.Fatalf("Pairs = %v", got)
	}
}

// The pairs replace the caller's own metadata of their keys, keep the
// rest, keep several values of one key in order, and are copied.
func TestMerge(t *testing.T) {
	md := metadata.MD{"traceparent": {"stale"}, "x-k": {"caller"}}
	kv := []string{"traceparent", "fresh", "x-user-id", "42", "tracestate", "a=1", "tracestate", "b=2"}
	got := Merge(md, kv)
	want := metadata.MD{"traceparent": {"fresh"}, "x-k": {"caller"}, "x-user-id": {"42"}, "tracestate": {"a=1", "b=2"}}
	if len(got) != len(want) {
		t.Fatalf("Merge = %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Fatalf("Merge = %v, want %v", got, want)
		}
	}
	got["x-user-id"][0] = "changed by the callee"
	got["traceparent"] = append(got["traceparent"], "added by the callee")
	if kv[3] != "42" || kv[0] != "traceparent" || kv[1] != "fresh" {
		t.Fatalf("the callee changed the caller's pairs: %v", kv)
	}
	if fresh := Merge(nil, kv[:2]); len(fresh) != 1 || fresh["traceparent"][0] != "fresh" {
		t.Fatalf("Merge(nil) = %v", fresh)
	}
}

func TestMergeLowersKeys(t *testing.T) {
	md := Merge(metadata.MD{"x-k": {"caller"}}, []string{"X-K", "mine", "x-k", "again"})
	if got := md["x-k"]; !slices.Equal(got, []string{"mine", "again"}) || len(md) != 1 {
		t.Fatalf("Merge = %v, want x-k: [mine again]", md)
	}
	ctx := With(context.Background(), []string{"x-k", "t"})
	if got := Pairs(ctx); !slices.Equal(got, []string{"x-k", "t"}) || Pairs(context.Background()) != nil {
		t.Fatalf("Pairs = %v", got)
	}
}
