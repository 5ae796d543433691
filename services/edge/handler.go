package edge

import (
	"errors"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/routing"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/platform/tracing"
)

// Handler builds the app's HTTP API: trailing slashes dropped, unknown
// routes answered at once, then mw's Front (the WASM chain), then publish to
// its multipart handler and every other route through parameter parsing,
// mw's User (who the user is) and grpc-gateway (gw, on which the
// DouyinService is registered). Every failure is an envelope.
//
// The client's own chainHeaders are dropped first: only the chain may set
// them.
// Unknown routes skip the chain, so that they get "no such route" whatever
// the plugins think of the request.
func Handler(gw *runtime.ServeMux, pub http.Handler, mw Middleware) (http.Handler, error) {
	withUser := mw.User(gw)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markRouted(r)
		// What the chain decided about routing (gray version, experiments,
		// traffic tag, cell) travels with every call the request makes.
		if route := routing.FromHeader(r.Header); !route.IsZero() {
			r = r.WithContext(routing.NewContext(r.Context(), route))
		}
		if r.URL.Path == publishPath {
			pub.ServeHTTP(w, r)
			return
		}
		if err := parseParams(r); err != nil {
			writeEnvelope(w, r, err)
			return
		}
		withUser.ServeHTTP(w, r)
	})
	var front http.Handler = routed
	if mw.Front != nil {
		var err error
		if front, err = mw.Front(routed); err != nil {
			return nil, err
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = returningWriter{w} // gives Marshal's buffers back
		for _, h := range chainHeaders {
			r.Header.Del(h)
		}
		r.URL.Path = trimSlash(r.URL.Path)
		r.URL.RawPath = ""
		if _, ok := routes[r.URL.Path]; !ok {
			gw.ServeHTTP(w, r) // the routing error's envelope
			return
		}
		tracing.SetHTTPRoute(r, r.URL.Path) // one of the API's fixed paths
		if mw.Front == nil {
			front.ServeHTTP(w, r)
			return
		}
		// The request id the platform gave this request (from a valid
		// X-Request-Id, or new), so that a colouring plugin keeps it
		// rather than making another.
		if id := requestid.FromContext(r.Context()); id != "" {
			r.Header.Set(requestid.Header, id)
		}
		pr, r := withPluginReply(w, r)
		front.ServeHTTP(pr, r)
		pr.finish()
	}), nil
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
