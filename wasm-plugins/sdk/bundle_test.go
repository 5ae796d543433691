package sdk_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

// tagger is a plugin that adds its config's tag to the request header
// X-Order, so the next handler sees which plugins ran, in which order.
func tagger(config []byte) (sdk.Handler, error) {
	var cfg struct {
		Tag string `json:"tag"`
	}
	if err := sdk.DecodeConfig(config, &cfg); err != nil {
		return nil, err
	}
	return sdk.HandlerFunc(func(req sdk.Request, resp sdk.Response) bool {
		req.AddHeader("X-Order", cfg.Tag)
		return true
	}), nil
}

// refuser is a plugin that answers every request itself, with 403.
func refuser([]byte) (sdk.Handler, error) {
	return sdk.HandlerFunc(func(req sdk.Request, resp sdk.Response) bool {
		resp.SetHeader("X-Refused-By", "refuser")
		resp.SetStatusCode(http.StatusForbidden)
		resp.Write([]byte("no"))
		return false
	}), nil
}

// responder handles responses, which a bundle refuses.
type responder struct{ sdk.HandlerFunc }

func (responder) HandleResponse(sdk.Request, sdk.Response, bool) {}

// errPanic is what the panicking plugin panics with.
var errPanic = errors.New("plugin panicked")

func bundlePlugins(ran *atomic.Int64) map[string]sdk.Factory {
	return map[string]sdk.Factory{
		"a":       tagger,
		"b":       tagger,
		"c":       tagger,
		"refuser": refuser,
		"counter": func([]byte) (sdk.Handler, error) {
			return sdk.HandlerFunc(func(sdk.Request, sdk.Response) bool { ran.Add(1); return true }), nil
		},
		"panics": func([]byte) (sdk.Handler, error) {
			return sdk.HandlerFunc(func(sdk.Request, sdk.Response) bool { panic(errPanic) }), nil
		},
		"broken": func([]byte) (sdk.Handler, error) { return nil, sdk.FieldError("limit", "must be positive") },
		"nil":    func([]byte) (sdk.Handler, error) { return nil, nil },
		"responder": func([]byte) (sdk.Handler, error) {
			return responder{func(sdk.Request, sdk.Response) bool { return true }}, nil
		},
	}
}

// bundleHandler runs a bundle of bundlePlugins, configured by config, in
// front of a next handler that answers with the X-Order header it saw. It
// reports how often next ran.
func bundleHandler(t *testing.T, config string, ran *atomic.Int64) (http.Handler, *atomic.Int64) {
	t.Helper()
	mw, err := nethttp.Middleware(sdk.Bundle(bundlePlugins(ran)), []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	var nexts atomic.Int64
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nexts.Add(1)
		_, _ = w.Write([]byte(strings.Join(r.Header.Values("X-Order"), ",")))
	})), &nexts
}

func serve(h http.Handler) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	return w
}

// The bundle runs the plugins its config names, in the config's order (not
// the map's), each with its own config; the others do not run.
func TestBundleRunsPluginsInConfigOrder(t *testing.T) {
	h, nexts := bundleHandler(t, `{"plugins": [
		{"name": "c", "config": {"tag": "third-plugin"}},
		{"name": "a", "policy": "fail_open", "config": {"tag": "first-plugin"}}
	]}`, nil)
	for range 3 {
		w := serve(h)
		if got := w.Body.String(); w.Code != http.StatusOK || got != "third-plugin,first-plugin" {
			t.Fatalf("next saw X-Order %q (status %d), want c's tag then a's", got, w.Code)
		}
	}
	if n := nexts.Load(); n != 3 {
		t.Fatalf("next ran %d times for 3 requests", n)
	}
}

// A plugin that answers a request ends it: the plugins after it and the
// next handler do not run, and its response reaches the client.
func TestBundlePluginAnswers(t *testing.T) {
	var ran atomic.Int64
	h, nexts := bundleHandler(t, `{"plugins": [
		{"name": "counter"},
		{"name": "refuser"},
		{"name": "a", "config": {"tag": "after"}}
	]}`, &ran)
	w := serve(h)
	if w.Code != http.StatusForbidden || w.Body.String() != "no" || w.Header().Get("X-Refused-By") != "refuser" {
		t.Errorf("client got %d %q (X-Refused-By %q), want the refuser's 403 \"no\"", w.Code, w.Body, w.Header().Get("X-Refused-By"))
	}
	if n := nexts.Load(); n != 0 {
		t.Errorf("next ran %d times after a plugin answered", n)
	}
	if n := ran.Load(); n != 1 {
		t.Errorf("the plugin before the one that answered ran %d times, want once", n)
	}

	// The plugins after the one that answered do not run either.
	h, nexts = bundleHandler(t, `{"plugins": [{"name": "refuser"}, {"name": "counter"}]}`, &ran)
	ran.Store(0)
	if w := serve(h); w.Code != http.StatusForbidden {
		t.Errorf("client got %d, want 403", w.Code)
	}
	if n := ran.Load(); n != 0 || nexts.Load() != 0 {
		t.Errorf("after the plugin that answered, the next plugin ran %d times, the next handler %d", n, nexts.Load())
	}
}

// A bad bundle config fails the Factory with an error naming the field: a
// module whose config is wrong does not load.
func TestBundleConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, config string
		want         []string
	}{
		{"empty plugins", `{"plugins": []}`, []string{"config field plugins: empty", "a, b, broken, c"}},
		{"no plugins", `{}`, []string{"config field plugins: empty"}},
		{"no config", ``, []string{"config field plugins: empty"}},
		{"unknown field", `{"plugins": [{"name": "a"}], "polcy": 1}`, []string{`unknown field "polcy"`}},
		{"unknown plugin", `{"plugins": [{"name": "a"}, {"name": "z"}]}`, []string{"config field plugins[1].name", `"z" is not in this bundle`, "a, b, broken, c, counter"}},
		{"unnamed plugin", `{"plugins": [{"policy": "fail_open"}]}`, []string{"config field plugins[0].name", `"" is not in this bundle`}},
		{"twice the same plugin", `{"plugins": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}`, []string{"config field plugins[2].name", `"a" is already in the bundle`}},
		{"bad policy", `{"plugins": [{"name": "a", "policy": "maybe"}]}`, []string{"config field plugins[0].policy", `"maybe"`, "fail_closed or fail_open"}},
		{"factory fails", `{"plugins": [{"name": "a"}, {"name": "broken", "config": {"limit": 0}}]}`, []string{"config field plugins[1] (broken)", "config field limit: must be positive"}},
		{"plugin config", `{"plugins": [{"name": "a", "config": {"tag": 1}}]}`, []string{"config field plugins[0] (a)", "config field tag"}},
		{"no handler", `{"plugins": [{"name": "nil"}]}`, []string{"config field plugins[0] (nil)", "no Handler"}},
		{"response handler", `{"plugins": [{"name": "a"}, {"name": "responder"}]}`, []string{"config field plugins[1] (responder)", "handles responses"}},
		{"too many", `{"plugins": [` + strings.Repeat(`{"name": "a"},`, 64) + `{"name": "b"}]}`, []string{"config field plugins: 65 plugins", "at most 64"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := nethttp.Middleware(sdk.Bundle(bundlePlugins(nil)), []byte(c.config))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// Natively a bundle cannot undo what its plugins did to the *http.Request,
// so a panicking plugin's panic goes on, whatever its policy: the plugins
// after it and the next handler do not run.
func TestBundlePanicsNatively(t *testing.T) {
	for _, policy := range []string{"fail_open", "fail_closed", ""} {
		name := "policy " + policy
		if policy == "" {
			name = "no policy"
		}
		t.Run(name, func(t *testing.T) {
			var ran atomic.Int64
			h, nexts := bundleHandler(t, `{"plugins": [
				{"name": "a", "config": {"tag": "x"}},
				{"name": "panics", "policy": "`+policy+`"},
				{"name": "counter"}
			]}`, &ran)
			var v any
			func() {
				defer func() { v = recover() }()
				serve(h)
			}()
			if v != errPanic {
				t.Errorf("recovered %v, want the plugin's panic (%v)", v, errPanic)
			}
			if ran.Load() != 0 || nexts.Load() != 0 {
				t.Errorf("after the panic the next plugin ran %d times, the next handler %d", ran.Load(), nexts.Load())
			}
		})
	}
}
