// Package shedding refuses work a server cannot take: when more requests
// are in flight than the limit, the next one is answered RESOURCE_EXHAUSTED
// at once, before it costs a database connection or a goroutine blocked on
// a lock. Answering some callers quickly beats answering all of them late:
// a request that waits past its caller's deadline is work thrown away.
//
// The limit counts unary calls and streams, for as long as each runs.
// Health checks (/grpc.health.v1.Health/) are neither counted nor ever
// refused: an overloaded replica is still alive, and an orchestrator that
// saw it fail its checks would restart it and put its load on the others.
//
// The limit can change while the server runs (Shedder.SetLimit), so dynamic
// configuration can tighten it during an incident; 0 means no limit.
//
// Install the interceptors first in the server's chain, so that a refused
// request costs as little as possible.
package shedding
