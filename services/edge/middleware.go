package edge

import (
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/routing"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// The edge's middleware, chosen by Config.Middleware.
const (
	// MiddlewareWasm runs the plugin chain of Config.PluginsFile (token
	// check, A/B routing, rate limits, colouring) in front of the routes.
	MiddlewareWasm = "wasm"
	// MiddlewareNative checks tokens with platform/auth in Go and nothing
	// else: the benchmark baseline, and a fallback with no plugins to load.
	MiddlewareNative = "native"
	// MiddlewareGo runs the plugins of Config.PluginsFile compiled into the
	// edge, without WebAssembly: the same work as MiddlewareWasm, the
	// baseline the WASM chain's cost is measured against.
	MiddlewareGo = "go"
)

// UserHeader carries the user the jwt plugin verified from the chain to the
// edge. The edge removes it from every request before the chain runs, so
// only a plugin can have set it.
const UserHeader = "X-Tremolo-User-Id"

// chainHeaders are the headers the plugins set and the services act on (the
// verified user, gray-routing version and experiments, traffic tag, cell):
// the edge removes a client's own before anything else sees the request, so
// that a client cannot pin itself to a canary or a cell, even when a
// fail-open plugin fails or the native middleware runs no plugin at all.
var chainHeaders = []string{UserHeader, routing.VersionHeader, routing.ExperimentHeader, routing.TrafficTagHeader, routing.CellHeader}

// Middleware is what stands between the app's requests and its routes.
type Middleware struct {
	// Front wraps every known route, the publish route included, before
	// anything reads the request's parameters or body: the WASM chain.
	// Nil runs nothing.
	Front func(http.Handler) (http.Handler, error)
	// User finds the verified user of a request whose parameters are
	// parsed (auth.WithUser), or answers it with an envelope.
	User func(http.Handler) http.Handler
}

// NativeMiddleware verifies tokens in Go (platform/auth): the edge as it
// runs with -edge-middleware=native.
func NativeMiddleware(verifier auth.Verifier) Middleware {
	return Middleware{User: func(next http.Handler) http.Handler {
		return auth.Middleware{
			Verifier: verifier,
			Public:   isPublic,
			Reject:   func(w http.ResponseWriter, r *http.Request, err error) { writeEnvelope(w, r, tokenError(err)) },
		}.Wrap(next)
	}}
}

// WasmMiddleware runs the chain front builds in front of the routes and
// trusts the user the chain's jwt plugin put in UserHeader.
func WasmMiddleware(front func(http.Handler) (http.Handler, error)) Middleware {
	return Middleware{Front: front, User: trustUserHeader}
}

// isPublic reports whether a route answers without a token. Unknown routes
// count as public: they get "no such route", not "sign in".
func isPublic(r *http.Request) bool {
	rt, ok := routes[r.URL.Path]
	return !ok || rt.method.Auth == rpc.AuthPublic
}

// trustUserHeader turns the chain's UserHeader into the request's verified
// user. A route that needs a user and has none is refused here too: should
// the chain file leave the jwt plugin out, nothing would be let through
// unauthenticated.
func trustUserHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(UserHeader)
		if v == "" {
			if !isPublic(r) {
				writeEnvelope(w, r, edgev1.ErrorTokenRequired(""))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			// Only a plugin can have written it: a broken plugin, not a
			// client's mistake.
			writeEnvelope(w, r, apierror.Platform(codes.Internal).Errorf("the edge's token plugin passed a malformed user id"))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), id)))
	})
}

// denyRequest answers a request a fail_closed plugin could not handle (it
// trapped, ran out of time or memory, broke the ABI): the envelope of
// UNAVAILABLE (1014), with nothing of the plugin's own words.
func denyRequest(w http.ResponseWriter, r *http.Request, _ error) {
	writeEnvelope(w, r, apierror.Platform(codes.Unavailable).Errorf("the edge could not check this request; try again"))
}
