package apierror

import (
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"
)

// Spec describes one error a service can return. Generated code declares a
// Spec per error enum value and registers it in the default Registry; the
// fields are read-only after registration.
type Spec struct {
	// Domain groups reasons, as in google.rpc.ErrorInfo: the proto package
	// ("douyin.user.v1") unless the enum sets its own.
	Domain string
	// Reason is the enum value's name without the enum's prefix
	// (USER_ERROR_NAME_TAKEN -> "NAME_TAKEN"), unique within Domain.
	Reason string
	// Code is the gRPC status code; never codes.OK.
	Code codes.Code
	// HTTPStatus is the status of REST responses carrying this error.
	HTTPStatus int
	// BusinessCode is the Douyin status_code: non-zero and unique across all
	// registered specs. Values below MinServiceBusinessCode belong to the
	// platform's own errors.
	BusinessCode int32
	// Retryable tells callers that repeating the same request may succeed.
	Retryable bool
	// LogLevel is how loudly the server logs the error when it returns it.
	LogLevel slog.Level
	// Message is the default, English message.
	Message string
	// Localized maps BCP-47 locale tags ("zh-CN") to translated messages.
	Localized map[string]string
}

// MinServiceBusinessCode is the smallest business code a service's error may
// use; the codes below it are reserved for the platform's own errors (see
// Platform).
const MinServiceBusinessCode = 10000

// Key identifies a Spec: its domain and reason.
type Key struct {
	Domain string
	Reason string
}

// Key returns the spec's identity.
func (s *Spec) Key() Key { return Key{Domain: s.Domain, Reason: s.Reason} }

// String returns "domain/REASON".
func (s *Spec) String() string { return s.Domain + "/" + s.Reason }

// Err returns a new *Error of this spec with the default message.
func (s *Spec) Err() *Error { return &Error{spec: s, message: s.Message} }

// Errorf returns a new *Error of this spec with a formatted message. An empty
// format keeps the default message, so generated constructors can be called
// with no arguments.
func (s *Spec) Errorf(format string, args ...any) *Error {
	if format == "" {
		return s.Err()
	}
	return &Error{spec: s, message: fmt.Sprintf(format, args...)}
}

// Is reports whether err is, or wraps, an error of this spec. It also
// recognises a gRPC status error received from another process, by the
// ErrorInfo it carries.
func (s *Spec) Is(err error) bool {
	if err == nil {
		return false
	}
	e, ok := FromError(err)
	return ok && e.spec.Domain == s.Domain && e.spec.Reason == s.Reason
}

// validate reports what is wrong with a spec before it is registered.
func (s *Spec) validate() error {
	switch {
	case s.Domain == "" || s.Reason == "":
		return fmt.Errorf("apierror: spec %q: domain and reason are required", s.String())
	case s.Code == codes.OK || s.Code > codes.Unauthenticated:
		return fmt.Errorf("apierror: spec %s: code %v is not an error code", s, s.Code)
	case s.HTTPStatus < 400 || s.HTTPStatus > 599:
		return fmt.Errorf("apierror: spec %s: http status %d is outside 400-599", s, s.HTTPStatus)
	case s.BusinessCode == 0:
		return fmt.Errorf("apierror: spec %s: business code must not be 0", s)
	}
	return nil
}
