package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/token"
)

type verifier map[string]int64

func (v verifier) Verify(tok string) (int64, error) {
	switch tok {
	case "expired":
		return 0, token.ErrExpired
	}
	if id, ok := v[tok]; ok {
		return id, nil
	}
	return 0, token.ErrInvalid
}

func serve(m Middleware, target, body string) (int64, error) {
	var got int64
	var rejected error
	m.Reject = func(w http.ResponseWriter, r *http.Request, err error) { rejected = err }
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = UserID(r.Context()) }))
	method := "GET"
	if body != "" {
		method = "POST"
	}
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	h.ServeHTTP(httptest.NewRecorder(), r)
	return got, rejected
}

func TestMiddleware(t *testing.T) {
	m := Middleware{Verifier: verifier{"good": 7}, Public: func(r *http.Request) bool { return r.URL.Path == "/public" }}
	for _, tc := range []struct {
		name, target, body string
		user               int64
		err                error
	}{
		{"query token", "/private?token=good", "", 7, nil},
		{"form token", "/private", "token=good", 7, nil},
		{"missing on a private route", "/private", "", 0, ErrTokenRequired},
		{"invalid on a private route", "/private?token=forged", "", 0, ErrTokenInvalid},
		{"expired on a private route", "/private?token=expired", "", 0, ErrTokenExpired},
		{"missing on a public route", "/public", "", 0, nil},
		{"valid on a public route", "/public?token=good", "", 7, nil},
		{"expired on a public route is ignored", "/public?token=expired", "", 0, nil},
		{"invalid on a public route is ignored", "/public?token=forged", "", 0, nil},
	} {
		user, err := serve(m, tc.target, tc.body)
		if user != tc.user || !errors.Is(err, tc.err) && !(err == nil && tc.err == nil) {
			t.Errorf("%s: user %d, rejected %v; want %d, %v", tc.name, user, err, tc.user, tc.err)
		}
	}
}

func TestBearerHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer abc")
	if Token(r) != "abc" {
		t.Fatalf("Token = %q", Token(r))
	}
}
