package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tremolo-dev/tremolo/platform/token"
)

// Token problems the HTTP middleware reports to its Reject function.
var (
	// ErrTokenRequired: the route needs a token and the request has none.
	ErrTokenRequired = errors.New("auth: token required")
	// ErrTokenInvalid: the token is malformed, forged, or for another issuer.
	ErrTokenInvalid = errors.New("auth: token invalid")
	// ErrTokenExpired: the token was valid but has expired.
	ErrTokenExpired = errors.New("auth: token expired")
)

// Verifier checks a token and returns its user id (*token.Signer is one).
type Verifier interface {
	Verify(tok string) (int64, error)
}

// Middleware verifies the app's token and puts its user in the request's
// context (WithUser), so that calls made while serving the request carry it.
type Middleware struct {
	// Verifier checks tokens.
	Verifier Verifier
	// Public reports whether a request may go without a token. On a public
	// route a token that does not verify (expired, or signed with a retired
	// key) is ignored rather than refused: the app keeps sending its old
	// token to the feed and to login, which must keep working.
	Public func(r *http.Request) bool
	// Reject writes the response for a refused request.
	Reject func(w http.ResponseWriter, r *http.Request, err error)
}

// Token returns the request's token: the "token" query parameter, else the
// "token" field of a url-encoded form body, else an "Authorization: Bearer"
// header. Reading the form consumes the body, so the middleware restores
// nothing: handlers behind it must read parameters through r.Form (see
// ParseParams in the edge) rather than the raw body.
func Token(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err == nil {
			if t := r.PostForm.Get("token"); t != "" {
				return t
			}
		}
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Wrap returns next behind the token check.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := Token(r)
		public := m.Public != nil && m.Public(r)
		if tok == "" {
			if public {
				next.ServeHTTP(w, r)
				return
			}
			m.Reject(w, r, ErrTokenRequired)
			return
		}
		id, err := m.Verifier.Verify(tok)
		if err != nil && public {
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case errors.Is(err, token.ErrExpired):
			m.Reject(w, r, ErrTokenExpired)
			return
		case err != nil:
			m.Reject(w, r, ErrTokenInvalid)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), id)))
	})
}
