package edge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tremolo-dev/tremolo/platform/rpc"
	"github.com/tremolo-dev/tremolo/platform/wasmchain"
)

// The default chain file's jwt plugin lets through without a token exactly
// the routes the edge's proto declares public: a route made public in the
// proto but not in the file would refuse the app, and the other way round
// the edge would still refuse (trustUserHeader), but the file would lie.
func TestDefaultChainPublicRoutes(t *testing.T) {
	path := "../../wasm-plugins/chain.yaml"
	if p := os.Getenv("TREMOLO_CHAIN_FILE"); p != "" { // Bazel: $(rootpath //wasm-plugins:chain.yaml)
		path = filepath.Join(os.Getenv("TEST_SRCDIR"), os.Getenv("TEST_WORKSPACE"), p)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f wasmchain.File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatal(err)
	}
	var public []string
	for _, p := range f.Plugins {
		if p.Name == "jwt" {
			var cfg struct {
				Public []string `json:"public"`
			}
			if err := json.Unmarshal(p.Config, &cfg); err != nil {
				t.Fatal(err)
			}
			public = cfg.Public
		}
	}
	var want []string
	for route, rt := range routes {
		if rt.method.Auth == rpc.AuthPublic || route == publishPath {
			want = append(want, route)
		}
	}
	slices.Sort(public)
	slices.Sort(want)
	if !slices.Equal(public, want) {
		t.Fatalf("%s: jwt public routes %v, want %v (the public routes of edge.proto, and publish, whose handler checks its own token)", path, public, want)
	}
}
