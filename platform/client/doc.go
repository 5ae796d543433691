// Package client hands out gRPC connections to other services by their short
// name ("user", "video"), with the platform's client interceptors: errors
// decoded into *apierror.Error, the callee's method timeouts applied when the
// caller set no deadline, the request id and the caller's user propagated.
//
// Generated code asks Conns for a connection and wraps it in the typed
// client (protoc-gen-go-fx's <Service>ClientModule); services never dial.
package client
