// Command headers is a test bundle: a guest reads back the request headers
// it set, and plugins after it read them, as the host holds them:
//
//   - "script" sets, adds and removes headers in the ways that must forget
//     or keep what was set, reads each back, and reports what it read in
//     X-Report, a value per step, "|"-separated;
//   - "panicky" (loaded fail_open, first) sets X-U and, when the request has
//     X-Panic, panics, so that the bundle undoes the request and runs the
//     others again without it;
//   - "reader" appends to X-Report what X-U reads after that.
package main

import (
	"strconv"
	"strings"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

func init() {
	sdk.Register(sdk.Bundle(map[string]sdk.Factory{
		"script":  func([]byte) (sdk.Handler, error) { return sdk.HandlerFunc(script), nil },
		"panicky": func([]byte) (sdk.Handler, error) { return sdk.HandlerFunc(panicky), nil },
		"reader":  func([]byte) (sdk.Handler, error) { return sdk.HandlerFunc(reader), nil },
	}))
}

func main() {}

func script(req sdk.Request, _ sdk.Response) bool {
	var out []string
	read := func(name string) {
		if v, ok := req.Header(name); ok {
			out = append(out, v)
		} else {
			out = append(out, "absent")
		}
	}
	req.SetHeader("X-A", "1")
	read("X-A") // 1
	req.RemoveHeader("x-a")
	read("X-A") // absent: removed in another case
	buf := []byte("2")
	sdk.SetHeaderBytes(req, "X-B", buf)
	buf[0] = '9'
	read("X-B") // 2: what was set, not the buffer since (the host copies; a guest-side cache must too)
	req.SetHeader("x-c", "3")
	read("X-C") // 3: another case, from the host
	req.SetHeader("X-D", "4")
	req.AddHeader("X-D", "5")
	read("X-D")                                                   // 4: the first value
	out = append(out, strings.Join(req.HeaderValues("X-D"), ",")) // 4,5
	req.SetHeader("X-E", "5")
	req.SetHeader("x-e", "6")
	read("X-E") // 6: set again in another case
	for i := range 8 {
		req.SetHeader("X-Many-"+strconv.Itoa(i), strconv.Itoa(i))
	}
	many := "ok"
	for i := range 8 {
		if v, _ := req.Header("X-Many-" + strconv.Itoa(i)); v != strconv.Itoa(i) {
			many = "X-Many-" + strconv.Itoa(i) + "=" + v
		}
	}
	out = append(out, many)
	read("X-F") // the client's
	req.SetHeader("X-F", "plugin")
	read("X-F") // plugin
	req.SetHeader("X-Report", strings.Join(out, "|"))
	return true
}

func panicky(req sdk.Request, _ sdk.Response) bool {
	req.SetHeader("X-U", "from-panicky")
	if _, ok := req.Header("X-Panic"); ok {
		panic("panicky: on purpose")
	}
	return true
}

func reader(req sdk.Request, _ sdk.Response) bool {
	u, ok := req.Header("X-U")
	if !ok {
		u = "absent"
	}
	report, _ := req.Header("X-Report")
	req.SetHeader("X-Report", report+"|u="+u)
	return true
}
