package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

// greeter is a plugin: it refuses requests without a "name" and tells the
// next handler the name in a header. In its package main,
// sdk.Register(newGreeter) makes it a WebAssembly module; here it runs as
// plain net/http middleware.
type greeter struct{ refusal []byte }

func newGreeter(config []byte) (sdk.Handler, error) {
	var cfg struct {
		Code int `json:"code"`
	}
	if err := sdk.DecodeConfig(config, &cfg); err != nil {
		return nil, err
	}
	return &greeter{refusal: sdk.Envelope(cfg.Code, "who are you?")}, nil
}

func (g *greeter) HandleRequest(req sdk.Request, resp sdk.Response) bool {
	name, ok := sdk.Query(req, "name")
	if !ok {
		sdk.Refuse(resp, g.refusal)
		return false
	}
	req.SetHeader("X-Greeting", "hello "+name)
	return true
}

func Example() {
	mw, err := nethttp.Middleware(newGreeter, []byte(`{"code": 10002}`))
	if err != nil {
		panic(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("next:", r.Header.Get("X-Greeting"))
	}))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?name=J%C3%BCrgen", nil))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println("refused:", w.Code, w.Body)

	_, err = nethttp.Middleware(newGreeter, []byte(`{"code": "x"}`))
	fmt.Println(err)
	// Output:
	// next: hello Jürgen
	// refused: 200 {"status_code":10002,"status_msg":"who are you?"}
	// plugin initialisation failed: config field code: got a JSON string, want a number (int)
}
