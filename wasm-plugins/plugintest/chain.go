package plugintest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tremolo-dev/tremolo/platform/wasmchain"
)

// WriteChain writes, in a new directory, a copy of the chain file src with
// each plugin's module, and its bundle's, built for the test (Wasm) beside
// it, and returns
// the copy's path. edit, if not nil, may change each plugin's entry (its
// config as a map) first: tests raise rate limits with it, say.
func WriteChain(tb testing.TB, src string, edit func(p *wasmchain.Plugin, config map[string]any)) string {
	tb.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	var f wasmchain.File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		tb.Fatalf("%s: %v", src, err)
	}
	dir := tb.TempDir()
	for i := range f.Plugins {
		p := &f.Plugins[i]
		module := filepath.Join(dir, p.Name+".wasm")
		if err := os.WriteFile(module, Wasm(tb, p.Name, false), 0o644); err != nil {
			tb.Fatal(err)
		}
		p.Wasm = module
		if edit != nil {
			var cfg map[string]any
			if err := json.Unmarshal(p.Config, &cfg); err != nil {
				tb.Fatal(err)
			}
			edit(p, cfg)
			if p.Config, err = json.Marshal(cfg); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if f.Bundle != nil {
		module := filepath.Join(dir, "bundle.wasm")
		if err := os.WriteFile(module, Wasm(tb, "bundle", false), 0o644); err != nil {
			tb.Fatal(err)
		}
		f.Bundle.Wasm = module
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "chain.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// WithoutBundle writes, beside the chain file at path, the same chain
// without its bundle section (each plugin a module of its own) and returns
// the copy's path. The test fails if the file has no bundle: comparing
// the two forms would compare a chain with itself.
func WithoutBundle(tb testing.TB, path string) string {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var f wasmchain.File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if f.Bundle == nil {
		tb.Fatalf("%s has no bundle", path)
	}
	f.Bundle = nil
	out, err := yaml.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	modules := strings.TrimSuffix(path, filepath.Ext(path)) + "-modules.yaml"
	if err := os.WriteFile(modules, out, 0o644); err != nil {
		tb.Fatal(err)
	}
	return modules
}
