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
// Every RPC, from gRPC or REST alike, passes the same interceptor chain:
//
//	request id -> routing attributes -> Interceptors.Unary (tracing)
//	-> per-service interceptors (metrics) -> error conversion -> panic
//	recovery -> Interceptors.GuardUnary (shedding, faults) -> caller's
//	user (auth) -> method timeout -> handler
package server
