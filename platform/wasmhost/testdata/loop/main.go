// Command loop is a test guest that loops forever when the request has the
// header X-Loop, and passes requests on otherwise.
package main

func main() {}

var sink int

//go:wasmexport handle_request
func handleRequest() uint64 {
	if header(0, "X-Loop") != "" {
		for i := 0; ; i++ {
			sink += i
		}
	}
	setHeader(0, "X-Plugin", "loop")
	return 1
}
