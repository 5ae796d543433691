package server

import (
	"context"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
)

// NewGateway returns the grpc-gateway mux REST bindings are registered on.
// Errors are written as the google.rpc.Status the gRPC side sends (with its
// ErrorInfo), under the HTTP status of the error's spec; JSON uses the proto
// field names. extra options come last, so they can replace the error
// handler or the marshaler (the edge does) while keeping the rest.
func NewGateway(extra ...runtime.ServeMuxOption) *runtime.ServeMux {
	return runtime.NewServeMux(append([]runtime.ServeMuxOption{
		runtime.WithErrorHandler(writeError),
		// A unary response is marshalled whole before it is written, so its
		// length is known: saying it spares net/http the chunked encoding
		// (a write per chunk header and one for the terminating chunk) and
		// lets clients size their reads.
		runtime.WithWriteContentLength(),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithMetadata(func(ctx context.Context, r *http.Request) metadata.MD {
			md := metadata.MD{}
			if id := requestid.FromContext(ctx); id != "" {
				md.Set(requestid.Key, id)
			}
			// Only a user verified by auth.Middleware travels on.
			if id, ok := auth.UserID(ctx); ok {
				md.Set(auth.MetadataKey, strconv.FormatInt(id, 10))
			}
			return md
		}),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
			},
		}),
	}, extra...)...)
}

// routingHeaders travel as gRPC metadata under their lower-case names: the
// version or label of gray routing, A/B assignments, the traffic tag and the
// user's cell, which the edge's plugins set (wasm-plugins/ABI.md).
var routingHeaders = map[string]bool{
	"X-Tremolo-Version":    true,
	"X-Tremolo-Experiment": true,
	"X-Traffic-Tag":        true,
	"X-Cell-Id":            true,
}

// incomingHeader passes Accept-Language on as gRPC metadata (for localized
// error messages) and the standard HTTP headers under grpc-gateway's
// "grpcgateway-" prefix. Unlike grpc-gateway's default it drops
// "Grpc-Metadata-*" headers: they would let an HTTP client set any metadata,
// including the verified user id services trust. The request id and the
// user go through WithMetadata, from the context, where the middlewares put
// validated values.
func incomingHeader(key string) (string, bool) {
	key = textproto.CanonicalMIMEHeaderKey(key)
	if key == "Accept-Language" {
		return apierror.AcceptLanguageKey, true
	}
	if strings.HasPrefix(key, "Grpc-Metadata-") || key == requestid.Header {
		return "", false
	}
	if routingHeaders[key] {
		return strings.ToLower(key), true
	}
	return runtime.DefaultHeaderMatcher(key)
}

func writeError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: apierror.HTTPStatus(err), Err: err})
}
