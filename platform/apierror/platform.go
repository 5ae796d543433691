package apierror

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"google.golang.org/grpc/codes"
)

// PlatformDomain is the domain of the platform's own errors: the ones raised
// by the runtime rather than by a service (a missing token, a deadline, an
// unexpected failure), and the ones that stand in for plain gRPC statuses
// that carry no ErrorInfo.
const PlatformDomain = "tremolo.platform"

// Platform returns the platform's spec for a gRPC code. Its reason is the
// code's canonical name ("DEADLINE_EXCEEDED") and its business code is 1000
// plus the code's number (DEADLINE_EXCEEDED = 1004, INTERNAL = 1013,
// UNAUTHENTICATED = 1016). Platform(codes.OK) is nil.
func Platform(c codes.Code) *Spec {
	if c == codes.OK || int(c) >= len(platformSpecs)+1 {
		return nil
	}
	return platformSpecs[c-1]
}

// Internal returns the error that stands for any failure a caller must not
// see the details of; cause is kept for the server's log. A cause that is
// (or wraps) a context's deadline or cancellation is reported as such
// (DEADLINE_EXCEEDED, CANCELLED): a store call cut short by the method's
// timeout is not an internal failure.
func Internal(cause error) *Error {
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		return Platform(codes.DeadlineExceeded).Err().WithCause(cause)
	case errors.Is(cause, context.Canceled):
		return Platform(codes.Canceled).Err().WithCause(cause)
	}
	return Platform(codes.Internal).Err().WithCause(cause)
}

// platformSpecs holds one spec per non-OK gRPC code, indexed by code-1.
var platformSpecs = func() []*Spec {
	type def struct {
		code    codes.Code
		reason  string
		status  int
		retry   bool
		level   slog.Level
		message string
	}
	defs := []def{
		{codes.Canceled, "CANCELLED", 499, false, slog.LevelInfo, "the request was cancelled"},
		{codes.Unknown, "UNKNOWN", http.StatusInternalServerError, false, slog.LevelError, "unknown error"},
		{codes.InvalidArgument, "INVALID_ARGUMENT", http.StatusBadRequest, false, slog.LevelInfo, "invalid argument"},
		{codes.DeadlineExceeded, "DEADLINE_EXCEEDED", http.StatusGatewayTimeout, true, slog.LevelWarn, "the request took too long"},
		{codes.NotFound, "NOT_FOUND", http.StatusNotFound, false, slog.LevelInfo, "not found"},
		{codes.AlreadyExists, "ALREADY_EXISTS", http.StatusConflict, false, slog.LevelInfo, "already exists"},
		{codes.PermissionDenied, "PERMISSION_DENIED", http.StatusForbidden, false, slog.LevelInfo, "permission denied"},
		{codes.ResourceExhausted, "RESOURCE_EXHAUSTED", http.StatusTooManyRequests, true, slog.LevelWarn, "too many requests"},
		{codes.FailedPrecondition, "FAILED_PRECONDITION", http.StatusBadRequest, false, slog.LevelInfo, "failed precondition"},
		{codes.Aborted, "ABORTED", http.StatusConflict, true, slog.LevelInfo, "aborted"},
		{codes.OutOfRange, "OUT_OF_RANGE", http.StatusBadRequest, false, slog.LevelInfo, "out of range"},
		{codes.Unimplemented, "UNIMPLEMENTED", http.StatusNotImplemented, false, slog.LevelWarn, "not implemented"},
		{codes.Internal, "INTERNAL", http.StatusInternalServerError, false, slog.LevelError, "internal error"},
		{codes.Unavailable, "UNAVAILABLE", http.StatusServiceUnavailable, true, slog.LevelWarn, "service unavailable"},
		{codes.DataLoss, "DATA_LOSS", http.StatusInternalServerError, false, slog.LevelError, "data loss"},
		{codes.Unauthenticated, "UNAUTHENTICATED", http.StatusUnauthorized, false, slog.LevelInfo, "authentication required"},
	}
	out := make([]*Spec, len(defs))
	for i, d := range defs {
		out[i] = &Spec{
			Domain: PlatformDomain, Reason: d.reason, Code: d.code, HTTPStatus: d.status,
			BusinessCode: 1000 + int32(d.code), Retryable: d.retry, LogLevel: d.level, Message: d.message,
		}
	}
	return out
}()
