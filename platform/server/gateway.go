package server

import (
	"context"
	"net/http"
	"net/textproto"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/requestid"
)

// NewGateway returns the grpc-gateway mux REST bindings are registered on.
// Errors are written as the google.rpc.Status the gRPC side sends (with its
// ErrorInfo), under the HTTP status of the error's spec; JSON uses the proto
// field names.
func NewGateway() *runtime.ServeMux {
	return runtime.NewServeMux(
		runtime.WithErrorHandler(writeError),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithMetadata(func(ctx context.Context, r *http.Request) metadata.MD {
			if id := requestid.FromContext(ctx); id != "" {
				return metadata.Pairs(requestid.Key, id)
			}
			return nil
		}),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
			},
		}),
	)
}

// incomingHeader passes Accept-Language on as gRPC metadata (for localized
// error messages) besides grpc-gateway's defaults. The request id goes
// through WithMetadata from the context, where requestid.Middleware put a
// validated one.
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Accept-Language":
		return apierror.AcceptLanguageKey, true
	case requestid.Header:
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

func writeError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: apierror.HTTPStatus(err), Err: err})
}
