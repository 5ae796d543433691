// Package server runs a process's gRPC and HTTP servers: the services that
// generated modules contribute (ServicesGroup), their REST bindings through
// grpc-gateway, gRPC health and reflection, /healthz, /readyz and /metrics.
//
// Start binds both listeners before it returns, so a port that is taken
// fails the app's start instead of a goroutine's later; a listener that
// fails while serving shuts the app down with a non-zero exit code. Stop
// first reports not-ready (so load balancers drain), then stops gracefully
// within the stop context's deadline and forcefully after it.
//
// Every RPC, over the network or between the services of one process,
// passes the same interceptor chain:
//
//	request id -> routing attributes -> Interceptors.Unary (tracing)
//	-> per-service interceptors (metrics) -> error conversion -> panic
//	recovery -> Interceptors.GuardUnary (shedding, faults) -> caller's
//	user (auth) -> method timeout -> handler
//
// A REST request that grpc-gateway hands to a service of the same process
// enters it through LocalChannel.Entry, on its own context, whose request
// id and span the HTTP middlewares made: its chain starts at the routing
// attributes and skips Interceptors.Unary.
package server
