// Package callmd carries the metadata of an in-process unary call from the
// platform's client to the server's in-process channel without grpc-go's
// outgoing metadata.
//
// The platform's client puts what travels with every call (request id,
// user, routing attributes) into the outgoing metadata of a network call. For a call to a service of the same process, the channel
// would read it back at once: grpc-go keeps the outgoing metadata in a form
// it only hands out as a fresh copy, so each addition and the read cost a
// context, slices and a map built key by key, a quarter of an in-process
// call's allocations. Here the pairs travel as they are, in one context
// value, and the channel builds the callee's incoming metadata from them in
// one pass. Metadata a caller adds itself still goes through grpc-go and is
// merged by the channel.
package callmd

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"
)

type key struct{}

// With returns ctx carrying kv (key, value, key, value...; keys in lower
// case) to the callee. kv becomes the callee's: the caller must not change
// it afterwards.
func With(ctx context.Context, kv []string) context.Context {
	return context.WithValue(ctx, key{}, kv)
}

// Pairs returns the pairs With put in ctx, or nil.
func Pairs(ctx context.Context) []string {
	kv, _ := ctx.Value(key{}).([]string)
	return kv
}

// Merge returns md with the pairs of kv: a key of kv replaces md's
// values of it (the platform's pairs are what the callee must see), and
// several pairs of one key are kept in order. Keys are lowered, as gRPC
// metadata's are. md may be nil; it is changed, so it must be the caller's
// own copy. The values are copied, in one allocation, so that a callee
// changing its metadata cannot change kv.
func Merge(md metadata.MD, kv []string) metadata.MD {
	n := len(kv) / 2
	if md == nil {
		md = make(metadata.MD, n)
	}
	vals := make([]string, n)
	for i := range n {
		k := strings.ToLower(kv[2*i])
		vals[i] = kv[2*i+1]
		if v, ok := md[k]; ok && seen(kv[:2*i], k) { // a key of kv met again
			md[k] = append(v, vals[i])
			continue
		}
		md[k] = vals[i : i+1 : i+1]
	}
	return md
}

// seen reports whether key is a key of the pairs kv, ignoring case.
func seen(kv []string, key string) bool {
	for i := 0; i < len(kv); i += 2 {
		if strings.EqualFold(kv[i], key) {
			return true
		}
	}
	return false
}
