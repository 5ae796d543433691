// Package ratelimit keeps token buckets: a bucket holds up to burst tokens,
// refills at rate tokens per second, and a request takes cost tokens from
// it or is refused with the time after which it would succeed.
//
// Buckets are a concept of their own because two callers share them: the
// edge's WebAssembly host (the tremolo.bucket_take import that rate-limit
// plugins call) and the native middleware kept as the benchmark baseline.
// Both see the same Store interface and the same two implementations:
//
//   - Memory keeps buckets in the process, in sharded maps, with a bound on
//     the number of keys. Limits hold across the pooled instances of a
//     plugin, not across edge replicas.
//   - Redis keeps them in one Redis (or a cluster: every bucket is one key),
//     refilling and taking in one Lua script with the server's clock, so
//     limits hold across replicas and no replica's clock skews them.
//
// A bucket that would be full is indistinguishable from a bucket that does
// not exist, so both stores forget full buckets: Memory evicts them when it
// needs room, Redis lets their keys expire once they would have refilled.
//
// A store's error means "unknown", never "refused": it is up to the caller
// whether an unknown outcome lets the request through (the WebAssembly host
// does, and counts it) or not.
package ratelimit
