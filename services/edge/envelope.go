package edge

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// envelope is the body of a failed request on path: the route's response
// with every field at its zero value ("token": "", "user_id": 0, lists [])
// and status_code/status_msg from err's spec.
func envelope(path string, err error) []byte {
	code, msg := statusOf(err)
	return envelopeOf(path, code, msg)
}

// envelopeOf is the route's response with every field at its zero value
// and the given status.
func envelopeOf(path string, code int32, msg string) []byte {
	var m protoreflect.Message
	if r, ok := routes[trimSlash(path)]; ok {
		m = r.response.New()
	} else {
		m = (&edgev1.FavoriteActionResponse{}).ProtoReflect()
	}
	fields := m.Descriptor().Fields()
	m.Set(fields.ByName("status_code"), protoreflect.ValueOfInt32(code))
	m.Set(fields.ByName("status_msg"), protoreflect.ValueOfString(msg))
	return marshal(m.Interface())
}

// statusOf returns the business code and message a client sees for err:
// 0 and "" for nil, as every successful response has.
func statusOf(err error) (int32, string) {
	if err == nil {
		return 0, ""
	}
	e, ok := apierror.FromError(err)
	if !ok {
		e = apierror.Internal(err)
	}
	return e.Spec().BusinessCode, e.Message()
}

// writeEnvelope answers a request with just its status: HTTP 200 whatever
// the outcome, as the app expects.
func writeEnvelope(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(envelope(r.URL.Path, err))
}

// gatewayError is the gateway's error handler: every error, from a service
// or from the gateway itself (a malformed parameter), becomes an envelope.
func gatewayError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	writeEnvelope(w, r, err)
}

// routingError answers unknown routes and wrong HTTP methods.
func routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusMethodNotAllowed {
		writeEnvelope(w, r, edgev1.ErrorInvalidParameter("%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeEnvelope(w, r, edgev1.ErrorNotFound("no route %s", r.URL.Path))
}
