// Package sdk is the guest SDK of Tremolo's edge plugins: WebAssembly
// modules, built from standard Go, that speak the http-wasm http_handler ABI
// (see ../ABI.md) and so load in Tremolo's host (platform/wasmhost) as well
// as in any other http-wasm host (Traefik, Dapr, http-wasm-host-go).
//
// A plugin is written once, against Request, Response and Handler, and runs
// two ways:
//
//   - as WebAssembly: its package main calls Register from an init function
//     and is built with
//     GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. The glue in this
//     package (files built for wasip1 only) exports handle_request and
//     handle_response and forwards them to the registered Handler;
//   - as native Go middleware, through the sibling package sdk/nethttp, which
//     adapts the same Handler to net/http. That is how plugin logic is unit
//     tested, and the baseline the edge's benchmarks compare the WebAssembly
//     build against.
//
// # Hot paths
//
// In WebAssembly every accessor is a call into the host that copies bytes
// into guest memory. The glue copies them into one per-instance arena that
// is reset at the start of each request, so reading a header or the URI
// allocates nothing once the arena has grown to fit a typical request. The
// price: strings a Request or Response returns are only valid until the
// request ends (its handle_response, or handle_request when it answers the
// request itself). Code that keeps one longer (a map key, a cache) must copy
// it with strings.Clone.
//
// Code that runs on every request also pays more for some Go than it does
// natively. Go compiles each function to WebAssembly as a resumable loop:
// every jump between basic blocks goes through the function's dispatch
// table and every call writes its return address to memory, while
// strings.IndexByte, comparisons and copies are assembly. So the plugins
// here search with IndexByte rather than byte loops, call few small
// helpers, and build header values in stack buffers (SetHeaderBytes) so
// that a request allocates nothing; with the edge's other work keeping
// the caches cold, that cut what the chain cost by about 40%
// (docs/benchmarks.md, "Tenth session").
//
// # The tremolo host module
//
// Some work is slow or impossible in a sandboxed guest: HMAC-SHA256 in a Go
// guest is about 45 times slower than native, and a token bucket inside one
// instance only limits that instance. Tremolo's host offers the optional
// import module "tremolo" for them (signature_verify, bucket_take,
// counter_add, and undo_request and retire, with which a Bundle skips a
// fail-open plugin that panicked). Key, Buckets, CounterAdd and Bundle use
// it when the plugin is built with -tags tremolo, and fall back to pure Go
// (or, for Bundle, to failing the call) otherwise, so that the untagged
// ("portable") build imports nothing but http_handler and WASI and loads in
// any http-wasm host.
//
// # What a host must give a Go guest
//
// A Go wasip1 module built as c-shared is a reactor: the host must call its
// _initialize export (wazero: ModuleConfig.WithStartFunctions("_initialize"))
// or the Go runtime never starts. Plugins read the clock (token expiry,
// bucket refills) and random numbers (request ids), so the host should also
// give the module the real clocks and a real random source (wazero:
// WithSysWalltime, WithSysNanotime, WithRandSource(crypto/rand.Reader));
// wazero's defaults are deterministic fakes.
package sdk
