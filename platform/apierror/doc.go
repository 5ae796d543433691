// Package apierror is Tremolo's error model: every error a service returns
// to a caller is an *Error built from a Spec, and every Spec comes from one
// ErrorRule in a .proto file (protoc-gen-go-errors generates them).
//
// One Spec carries everything a caller can learn about an error: the gRPC
// code, the HTTP status of REST responses, the business code the Douyin app
// reads as status_code, whether a retry can help, and the message in several
// locales. Because gRPC status, REST body and the app's envelope are all
// derived from the same Spec, they cannot drift apart.
//
// On the wire an *Error travels as a google.rpc.Status whose details hold a
// google.rpc.ErrorInfo (reason, domain, metadata with the business code) and,
// when the caller asked for a locale, a google.rpc.LocalizedMessage. FromError
// turns such a status back into an *Error on the client side, so that
// generated Is<Reason> helpers work across process boundaries.
//
// Errors that are not *Error (a driver failure, a nil dereference caught by
// the recovery interceptor) never leak their text to callers: they become
// INTERNAL with a generic message, and the server logs the original.
package apierror
