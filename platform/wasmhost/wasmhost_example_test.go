package wasmhost_test

import (
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"
	"github.com/tremolo-dev/tremolo/platform/wasmhost"
)

// An edge loads its plugins once at start-up and wraps its gateway in them.
// The deny hook is where the edge writes its own error envelope: the
// platform does not know it.
func Example() {
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeOptions{
		CacheDir:   "/var/cache/tremolo/wasm",
		Logger:     slog.Default(),
		Registerer: prometheus.DefaultRegisterer,
		Buckets:    ratelimit.NewMemory(ratelimit.MemoryOptions{}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	wasm, err := os.ReadFile("jwt.wasm")
	if err != nil {
		log.Fatal(err)
	}
	jwt, err := rt.Load(ctx, wasmhost.PluginOptions{
		Name:   "jwt",
		Wasm:   wasm,
		Config: []byte(`{"hs256_secret":"…"}`),
		Policy: wasmhost.FailClosed, // a token check must not be skipped
		Budget: 5 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err) // names the plugin and why: not WebAssembly, a missing export, a trap in _initialize…
	}
	log.Printf("jwt: warm in %v", jwt.WarmUp())

	deny := func(w http.ResponseWriter, r *http.Request, err error) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status_code": 1014, "status_msg": "service unavailable"})
	}
	gateway := http.NotFoundHandler()
	http.ListenAndServe("127.0.0.1:8080", wasmhost.Chain(gateway, deny, jwt))
}
