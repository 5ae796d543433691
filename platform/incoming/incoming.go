// Package incoming reads the metadata a gRPC call arrived with where the
// server put it, without copying it.
//
// grpc-go's own readers copy: metadata.FromIncomingContext copies all of
// the metadata, and metadata.ValueFromIncomingContext copies the values of
// the key it finds and, for a key that is absent, compares every key of the
// metadata with strings.EqualFold. The platform's server interceptors read
// a few keys each on every call (the request id, the user, four routing
// keys, the trace context), most of them absent, and only read them: the
// copies, the scans and a walk up the handler's context per key were 3% of
// the all-in-one's CPU on the feed route. MD gives them the metadata
// itself, found with one context look-up, and they index it.
//
// Indexing is exact, where grpc-go's readers ignore case. The keys are
// lower case whichever way a call arrives: over the network, HTTP/2 forbids
// upper-case header names (golang.org/x/net/http2, which grpc-go's
// transport reads headers with, refuses them, and grpc-go's client refuses
// to send them), and over the in-process channel (platform/server's
// LocalChannel, grpchan's inprocgrpc) the metadata is made with
// metadata.FromOutgoingContext, which lowers every key, and the platform
// client's pairs (platform/internal/callmd), lowered likewise. Only metadata a
// test attaches by hand with metadata.NewIncomingContext could hold another
// spelling, and metadata.MD's own Get would not find it either.
package incoming

import (
	"context"

	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/internal/ctxkey"
)

// MD returns the metadata of the call whose server-side context is ctx, or
// nil outside a call. It is the context's own, not a copy: callers read it
// and must not modify it. Keys are lower case (see the package comment).
func MD(ctx context.Context) metadata.MD {
	if key == nil {
		md, _ := metadata.FromIncomingContext(ctx) // a copy: correct, slower
		return md
	}
	md, _ := ctx.Value(key).(metadata.MD)
	return md
}

// First returns the first value of key (lower case) in ctx's incoming
// metadata, or "".
func First(ctx context.Context, key string) string {
	if v := MD(ctx)[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// key is the metadata package's own (unexported) context key of incoming
// metadata. It is learned once, by watching which key
// metadata.ValueFromIncomingContext asks a context for, and kept only if a
// context made by metadata.NewIncomingContext answers it with the very
// metadata it was given; should grpc-go ever store it differently, key is
// nil and MD falls back to metadata.FromIncomingContext.
var key = func() any {
	first := ctxkey.FirstAsked(context.Background(), func(ctx context.Context) {
		metadata.ValueFromIncomingContext(ctx, "k")
	})
	if first == nil {
		return nil
	}
	want := metadata.MD{"k": {"v"}}
	got, ok := metadata.NewIncomingContext(context.Background(), want).Value(first).(metadata.MD)
	if !ok || len(got["k"]) != 1 || &got["k"][0] != &want["k"][0] {
		return nil
	}
	return first
}()
