package wasmchain_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/platform/wasmhost"
)

// writeFiles writes name -> content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadFile(t *testing.T) {
	elsewhere := writeFiles(t, map[string]string{"b.wasm": "module b"}) // b is named by an absolute path
	dir := writeFiles(t, map[string]string{
		"a.wasm": "module a",
		"chain.yaml": `
plugins:
  - name: a
    wasm: a.wasm
    policy: fail_open
    trusted: true
    budget: 15ms
    pool_size: 4
    warm: 2
    max_calls: 100
    memory_limit_mib: 8
    config: {key: "${k}", id: 9007199254740993, keys: [{k: "x-${k}-y"}]}
  - name: b
    wasm: ` + filepath.Join(elsewhere, "b.wasm") + `
`,
	})

	got, err := wasmchain.ReadFile(filepath.Join(dir, "chain.yaml"), map[string]string{"k": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d plugins, want 2", len(got))
	}
	a := got[0]
	if a.Name != "a" || string(a.Wasm) != "module a" || a.Policy != wasmhost.FailOpen || !a.Trusted ||
		a.Budget != 15*time.Millisecond || a.PoolSize != 4 || a.Warm != 2 || a.MaxCalls != 100 || a.MemoryLimitPages != 8*16 {
		t.Errorf("plugin a: %+v", a)
	}
	if want := `{"id":9007199254740993,"key":"secret","keys":[{"k":"x-secret-y"}]}`; string(a.Config) != want {
		t.Errorf("config %s, want %s (variables filled, numbers kept exactly)", a.Config, want)
	}
	if b := got[1]; b.Name != "b" || string(b.Wasm) != "module b" || b.Policy != wasmhost.FailClosed || b.Config != nil {
		t.Errorf("plugin b (absolute path, defaults): %+v", b)
	}
}

// Every mistake in a chain file is named: the file, the plugin (by index
// and name) and the field.
func TestReadFileErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		vars       map[string]string
		want       []string
	}{
		{"no name", "plugins: [{wasm: a.wasm}]", nil, []string{"plugins[0]", "name is missing"}},
		{"twice the same name", "plugins: [{name: a, wasm: a.wasm}, {name: a, wasm: a.wasm}]", nil, []string{"plugins[1] (a)", "a second plugin of this name"}},
		{"no module", "plugins: [{name: a}]", nil, []string{"plugins[0] (a)", "wasm"}},
		{"missing module", "plugins: [{name: a, wasm: nope.wasm}]", nil, []string{"plugins[0] (a)", "nope.wasm", "build.sh"}},
		{"bad policy", "plugins: [{name: a, wasm: a.wasm, policy: maybe}]", nil, []string{"(a)", `policy "maybe"`}},
		{"bad budget", "plugins: [{name: a, wasm: a.wasm, budget: soon}]", nil, []string{"(a)", `budget "soon"`}},
		{"negative budget", "plugins: [{name: a, wasm: a.wasm, budget: -1s}]", nil, []string{"(a)", "budget"}},
		{"negative pool", "plugins: [{name: a, wasm: a.wasm, pool_size: -1}]", nil, []string{"(a)", "negative"}},
		{"unknown field", "plugins: [{name: a, wasm: a.wasm, polcy: fail_open}]", nil, []string{"chain.yaml", "polcy"}},
		{"unknown variable", `plugins: [{name: a, wasm: a.wasm, config: {k: "${nope}"}}]`, nil, []string{"(a)", "config", "${nope}"}},
		{"not YAML", "plugins: [", nil, []string{"chain.yaml"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"a.wasm": "x", "chain.yaml": c.yaml})
			_, err := wasmchain.ReadFile(filepath.Join(dir, "chain.yaml"), c.vars)
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
	if _, err := wasmchain.ReadFile(filepath.Join(t.TempDir(), "none.yaml"), nil); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing chain file: %v", err)
	}
}

// FuzzReadFile: whatever the file holds, ReadFile answers with plugins or
// an error, never a panic.
func FuzzReadFile(f *testing.F) {
	f.Add("plugins: [{name: a, wasm: a.wasm, config: {k: \"${k}\"}}]")
	f.Add("plugins: [{name: a, wasm: a.wasm, budget: 1ms, policy: fail_open}]")
	f.Add("{\"plugins\": [{\"name\": \"a\", \"wasm\": \"a.wasm\", \"config\": [1, \"${k}\", {\"x\": null}]}]}")
	f.Fuzz(func(t *testing.T, doc string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "a.wasm"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "chain.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = wasmchain.ReadFile(path, map[string]string{"k": "v"})
	})
}
