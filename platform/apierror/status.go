package apierror

import (
	"errors"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// BusinessCodeKey is the ErrorInfo metadata key that carries the business
// code, so that a client without the registry (another language, curl) still
// learns it.
const BusinessCodeKey = "businessCode"

// GRPCStatus makes *Error a gRPC status error: grpc-go calls it when a handler
// returns one. It carries ErrorInfo but no LocalizedMessage; the server
// interceptor uses ToStatus to add the caller's locale.
func (e *Error) GRPCStatus() *status.Status { return e.status("") }

func (e *Error) status(locale string) *status.Status {
	md := make(map[string]string, len(e.metadata)+1)
	for k, v := range e.metadata {
		md[k] = v
	}
	md[BusinessCodeKey] = strconv.Itoa(int(e.spec.BusinessCode))
	if e.passedOn {
		md[OriginKey] = OriginDependency
	}
	st := status.New(e.spec.Code, e.message)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.spec.Reason, Domain: e.spec.Domain, Metadata: md}}
	if tag, msg, ok := e.spec.localized(locale); ok {
		details = append(details, &errdetails.LocalizedMessage{Locale: tag, Message: msg})
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		// WithDetails fails only for an OK status, which a validated spec cannot have.
		return st
	}
	return withDetails
}

// localized picks the best translation for an Accept-Language style list
// ("zh-CN,zh;q=0.9,en;q=0.8"): the first listed tag that has a translation,
// matched exactly or by its primary language.
func (s *Spec) localized(acceptLanguage string) (tag, msg string, ok bool) {
	if acceptLanguage == "" || len(s.Localized) == 0 {
		return "", "", false
	}
	for _, part := range strings.Split(acceptLanguage, ",") {
		want, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if want == "" || want == "*" {
			continue
		}
		if m, found := s.Localized[want]; found {
			return want, m, true
		}
		primary, _, _ := strings.Cut(want, "-")
		for t, m := range s.Localized {
			if p, _, _ := strings.Cut(t, "-"); strings.EqualFold(p, primary) {
				return t, m, true
			}
		}
	}
	return "", "", false
}

// ToStatus turns any error a handler returned into the status sent to the
// caller. locale is the caller's Accept-Language (may be empty).
//
//   - an *Error (or an error wrapping one) becomes its spec's status with
//     ErrorInfo and, when a translation exists, a LocalizedMessage;
//   - a gRPC status error received from another service passes through
//     unchanged, so errors propagate with their reason intact;
//   - context.DeadlineExceeded and context.Canceled become the platform's
//     DEADLINE_EXCEEDED and CANCELLED errors;
//   - anything else becomes INTERNAL with a generic message: its text stays
//     in the server's log.
func ToStatus(err error, locale string) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	return asError(err).status(locale)
}

// asError classifies err as ToStatus does, returning an *Error.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if st, ok := innerStatus(err); ok {
		return fromStatus(st)
	}
	return Internal(err) // also maps context errors
}

// FromError returns the *Error err is or wraps, or rebuilds one from a gRPC
// status error: by its ErrorInfo when the spec is registered in Default, or a
// stand-in spec otherwise (the platform's spec for the code when the status
// carries no ErrorInfo). ok is false when err is nil or neither an *Error
// nor a status error.
func FromError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	st, ok := innerStatus(err)
	if !ok {
		return nil, false
	}
	return fromStatus(st), true
}

// innerStatus finds the gRPC status err is or wraps. Unlike
// status.FromError, whose message for a wrapped status is the whole error
// text (wrapping included), it keeps the status's own message, so text a
// server added while wrapping never reaches the caller.
func innerStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	return st, st != nil
}

func fromStatus(st *status.Status) *Error {
	if st.Code() == codes.OK {
		return Internal(errors.New("apierror: OK status used as an error"))
	}
	p := Platform(st.Code())
	if p == nil {
		// A code outside gRPC's 17: grpc-go passes such statuses through.
		p = Platform(codes.Unknown)
	}
	info := errorInfo(st)
	if info == nil {
		if serverSide(p.Code) {
			// A transport or server failure without ErrorInfo ("dial tcp
			// 10.0.0.5:9000: connection refused"): its text is for logs.
			return &Error{spec: p, message: p.Message, cause: st.Err()}
		}
		return &Error{spec: p, message: st.Message()}
	}
	spec, found := Default.Lookup(info.GetDomain(), info.GetReason())
	md := info.GetMetadata()
	if !found {
		// An error of a service this process was not built with: keep what
		// the wire says.
		spec = &Spec{
			Domain: info.GetDomain(), Reason: info.GetReason(), Code: p.Code, HTTPStatus: p.HTTPStatus,
			BusinessCode: p.BusinessCode, Retryable: p.Retryable, LogLevel: p.LogLevel, Message: st.Message(),
		}
		if bc, err := strconv.ParseInt(md[BusinessCodeKey], 10, 32); err == nil && bc != 0 {
			spec.BusinessCode = int32(bc)
		}
	}
	var meta map[string]string
	for k, v := range md {
		if k == BusinessCodeKey {
			continue
		}
		if meta == nil {
			meta = make(map[string]string, len(md))
		}
		meta[k] = v
	}
	return &Error{spec: spec, message: st.Message(), metadata: meta}
}

// serverSide reports codes whose plain-status messages describe the
// server's or network's insides rather than the request.
func serverSide(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Proto().GetDetails() {
		if d.MessageIs((*errdetails.ErrorInfo)(nil)) {
			info := new(errdetails.ErrorInfo)
			if d.UnmarshalTo(info) == nil {
				return info
			}
		}
	}
	return nil
}

// CodeAndReason returns the gRPC code and reason of err as a caller will see
// them, for metrics labels. The reason is empty for errors without one. It
// is cheap for *Error and for status errors without details.
func CodeAndReason(err error) (codes.Code, string) {
	if err == nil {
		return codes.OK, ""
	}
	e := asError(err)
	if e.spec.Domain == PlatformDomain {
		return e.spec.Code, ""
	}
	return e.spec.Code, e.spec.Reason
}

// HTTPStatus returns the HTTP status a REST response for err carries.
func HTTPStatus(err error) int { return asError(err).spec.HTTPStatus }

// BusinessCode returns the Douyin status_code for err (0 for nil).
func BusinessCode(err error) int32 {
	if err == nil {
		return 0
	}
	return asError(err).spec.BusinessCode
}
