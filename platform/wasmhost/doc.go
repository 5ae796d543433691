// Package wasmhost runs edge middleware written as WebAssembly plugins: an
// implementation of the http-wasm http_handler ABI (v0.1) on wazero, plus
// Tremolo's optional tremolo host module, as wasm-plugins/ABI.md specifies.
//
// A Runtime loads plugins; a Plugin wraps an http.Handler:
//
//	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeOptions{CacheDir: dir, Logger: log, Registerer: reg})
//	jwt, err := rt.Load(ctx, wasmhost.PluginOptions{Name: "jwt", Wasm: wasm, Config: cfg, Budget: 5 * time.Millisecond})
//	handler := wasmhost.Chain(gateway, denyWithEnvelope, jwt, ratelimit, colour)
//
// # Isolation
//
// Each plugin has a wazero runtime of its own, so that its memory limit
// (MemoryLimitPages) and its termination checks (untrusted plugins are
// compiled with them, so a call can be stopped when its Budget runs out)
// are its own; the runtimes share one compilation cache, in memory and
// optionally on disk, so a module is compiled once. An instance serves one
// request at a time; a bounded pool of them is created at Load (Warm) and
// on demand (up to PoolSize). An instance that fails in any way is
// discarded, never reused: wazero lets a trapped module be called again,
// but the Go runtime inside it is in whatever state the trap left it.
// Healthy instances are recycled after MaxCalls calls or when their memory
// grew past RecycleAboveBytes.
//
// Guests get real clocks and crypto/rand through WASI preview1; their
// stdout and stderr go to the log, bounded per call. Modules built with Go's
// -buildmode=c-shared are initialised by their _initialize export (a
// command's _start, which would run main and exit, is not called).
//
// # Failure
//
// Nothing a guest says reaches a client. When a plugin fails on a request
// (FailureKind: a trap, its budget, an ABI violation, its memory limit, no
// instance), the failure is logged with the guest's output and counted,
// and the plugin's Policy decides: FailClosed answers through the edge's
// DenyFunc with an *Error that names the plugin and the kind only;
// FailOpen passes the request on as it was before the plugin ran. Changes
// a guest makes to a request or response are staged and applied only when
// its call succeeds, so a failed call leaves no trace on either.
//
// # Metrics
//
// All series are labelled by plugin, the name it was loaded under: a
// bundle of several plugins in one module (wasm-plugins/sdk's Bundle) has
// one set of series, its plugins' counters among them:
//
//	tremolo_wasm_calls_total{plugin,phase}
//	tremolo_wasm_failures_total{plugin,kind}
//	tremolo_wasm_call_duration_seconds{plugin,phase}
//	tremolo_wasm_instances{plugin}
//	tremolo_wasm_instances_created_total{plugin}
//	tremolo_wasm_instances_discarded_total{plugin,reason}
//	tremolo_wasm_pool_waits_total{plugin}
//	tremolo_wasm_warmup_seconds{plugin}
//	tremolo_wasm_bucket_errors_total{plugin}
//	tremolo_wasm_plugin_counter_total{plugin,name}
//
// Every failure kind's series exists from Load on, at zero.
package wasmhost
