package edge

import (
	"errors"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/rpc"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/token"
)

// Handler builds the app's HTTP API: trailing slashes dropped, publish to
// its multipart handler, every other route through parameter parsing, the
// token check and grpc-gateway (gw, on which the DouyinService is
// registered). Every failure is an envelope.
func Handler(gw *runtime.ServeMux, pub http.Handler, verifier auth.Verifier) http.Handler {
	authed := auth.Middleware{
		Verifier: verifier,
		Public: func(r *http.Request) bool {
			rt, ok := routes[trimSlash(r.URL.Path)]
			return !ok || rt.method.Auth == rpc.AuthPublic // unknown routes get "no such route", not "sign in"
		},
		Reject: func(w http.ResponseWriter, r *http.Request, err error) { writeEnvelope(w, r, tokenError(err)) },
	}.Wrap(gw)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = trimSlash(r.URL.Path)
		r.URL.RawPath = ""
		if r.URL.Path == publishPath {
			pub.ServeHTTP(w, r)
			return
		}
		if err := parseParams(r); err != nil {
			writeEnvelope(w, r, err)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// NewGateway returns the grpc-gateway mux of the app's API: the platform's
// gateway (request ids, the verified user, header rules) with the app's JSON
// and envelopes.
func NewGateway() *runtime.ServeMux {
	return server.NewGateway(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, Marshaler{}),
		runtime.WithErrorHandler(gatewayError),
		runtime.WithRoutingErrorHandler(routingError),
	)
}

// tokenError maps the auth middleware's and the verifier's refusals to the
// edge's errors.
func tokenError(err error) error {
	switch {
	case errors.Is(err, auth.ErrTokenRequired):
		return edgev1.ErrorTokenRequired("")
	case errors.Is(err, auth.ErrTokenExpired), isExpired(err):
		return edgev1.ErrorTokenExpired("")
	}
	return edgev1.ErrorTokenInvalid("")
}

func isExpired(err error) bool { return errors.Is(err, token.ErrExpired) }
