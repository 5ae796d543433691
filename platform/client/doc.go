// Package client hands out gRPC connections to other services by their short
// name ("user", "video"), with the platform's client interceptors: errors
// decoded into *apierror.Error, the callee's method timeouts applied when the
// caller set no deadline, the request id, the caller's user and the
// routing attributes propagated (added to the outgoing metadata in one go).
// The governance modules add their own interceptors through
// Options.Middleware, told the Path each connection's calls take: over the
// network, or in-process to a service of the same process (where tracing,
// say, gives a call no client span).
//
// Generated code asks Conns for a connection and wraps it in the typed
// client (protoc-gen-go-fx's <Service>ClientModule); services never dial.
package client
