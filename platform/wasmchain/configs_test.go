package wasmchain_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/metrics/metricstest"
)

// Configs set at run time replace the file's for the plugins they name,
// take effect at once, and go away when no longer set; bad ones change
// nothing.
func TestSetConfigs(t *testing.T) {
	dir := chainDir(t)
	c, reg := newChain(t, writeChain(t, dir, "one", "two"), seen{})
	ctx := context.Background()

	if err := c.SetConfigs(ctx, map[string][]byte{"two": []byte("from-config")}); err != nil {
		t.Fatal(err)
	}
	if got := get(c); got != `"from-config"` {
		t.Fatalf("after SetConfigs next saw %s, want the new config", got)
	}
	gen := metricstest.Value(t, reg, "tremolo_wasm_chain_generation")
	if err := c.SetConfigs(ctx, map[string][]byte{"two": []byte("from-config")}); err != nil {
		t.Fatal(err)
	}
	if again := metricstest.Value(t, reg, "tremolo_wasm_chain_generation"); again != gen {
		t.Fatalf("the same configs reloaded the chain (generation %v -> %v)", gen, again)
	}

	for _, bad := range []map[string][]byte{
		{"three": []byte("x")},     // no such plugin
		{"two": []byte("a: [b")},   // not YAML
		{"two": []byte("${nope}")}, // unknown variable
	} {
		if err := c.SetConfigs(ctx, bad); err == nil {
			t.Errorf("SetConfigs(%q) succeeded", bad)
		}
		if got := get(c); got != `"from-config"` {
			t.Fatalf("after a refused SetConfigs next saw %s, want the configs in force", got)
		}
	}
	err := c.SetConfigs(ctx, map[string][]byte{"three": []byte("x")})
	if err == nil || !strings.Contains(err.Error(), `plugin "three"`) {
		t.Errorf("error %v does not name the unknown plugin", err)
	}

	if err := c.SetConfigs(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := get(c); got != `"two"` {
		t.Fatalf("with no configs set next saw %s, want the file's", got)
	}
}

// A config set at run time for a bundled plugin reaches the bundle's
// config, in that plugin's entry. The bundle's module is the passthrough
// guest, which shows the next handler its config: the bundle's.
func TestSetConfigsOfABundledPlugin(t *testing.T) {
	dir := chainDir(t)
	path := filepath.Join(dir, "chain.yaml")
	chain := `
plugins:
  - {name: one, wasm: passthrough.wasm, trusted: true, config: one}
  - {name: two, trusted: true, config: two}
  - {name: three, trusted: true, policy: fail_open, config: {rate: 1}}
bundle: {wasm: passthrough.wasm, plugins: [two, three]}
`
	if err := os.WriteFile(path, []byte(chain), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := newChain(t, path, seen{})
	if got := strings.Join(c.Plugins(), ","); got != "one,bundle" {
		t.Fatalf("Plugins() = %s, want one,bundle", got)
	}
	const fromFile = `{"plugins":[{"name":"two","policy":"fail_closed","config":"two"},{"name":"three","policy":"fail_open","config":{"rate":1}}]}`
	if got := get(c); got != fromFile {
		t.Fatalf("the bundle's config is %s, want %s", got, fromFile)
	}
	ctx := context.Background()

	if err := c.SetConfigs(ctx, map[string][]byte{"three": []byte("{rate: 7, names: [x]}")}); err != nil {
		t.Fatal(err)
	}
	const set = `{"plugins":[{"name":"two","policy":"fail_closed","config":"two"},{"name":"three","policy":"fail_open","config":{"names":["x"],"rate":7}}]}`
	if got := get(c); got != set {
		t.Fatalf("after SetConfigs of three the bundle's config is %s, want %s", got, set)
	}
	// The bundle is not a plugin of the file: its config is its plugins'.
	if err := c.SetConfigs(ctx, map[string][]byte{"bundle": []byte("{}")}); err == nil {
		t.Error("SetConfigs of the bundle itself succeeded")
	}
	if err := c.SetConfigs(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := get(c); got != fromFile {
		t.Fatalf("with no configs set the bundle's config is %s, want the file's %s", got, fromFile)
	}
}
