package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/token"
)

// A client cannot set the headers the chain sets for the services (the
// verified user, the routing version and experiments, traffic tag, cell):
// the edge drops them before anything else sees the request, whichever the
// middleware, and a chain that sets none leaves none.
func TestClientCannotForgeChainHeaders(t *testing.T) {
	var seen http.Header
	gw := NewGateway()
	if err := gw.HandlePath("GET", "/douyin/feed", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		seen = r.Header.Clone()
		_, _ = w.Write([]byte(`{"status_code":0}`))
	}); err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner([]byte(strings.Repeat("k", 32)), time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	passThrough := func(next http.Handler) (http.Handler, error) { return next, nil }
	for name, mw := range map[string]Middleware{
		"native":             NativeMiddleware(signer),
		"chain setting none": WasmMiddleware(passThrough),
	} {
		h, err := Handler(gw, http.NotFoundHandler(), mw)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/douyin/feed/", nil)
		for _, hd := range chainHeaders {
			r.Header.Set(hd, "42")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if seen == nil {
			t.Fatalf("%s: the route did not run: %s", name, w.Body)
		}
		for _, hd := range chainHeaders {
			if v := seen.Get(hd); v != "" {
				t.Errorf("%s: the client's %s reached the route as %q", name, hd, v)
			}
		}
		seen = nil
	}

	// And on a route that needs a user, a forged user is no user.
	h, err := Handler(gw, http.NotFoundHandler(), WasmMiddleware(passThrough))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/douyin/favorite/list/?user_id=42", nil)
	r.Header.Set(UserHeader, "42")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), `"status_code":10002`) {
		t.Fatalf("a forged user on a route that needs one: %s; want 10002", w.Body)
	}
}
