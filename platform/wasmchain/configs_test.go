package wasmchain_test

import (
	"context"
	"strings"
	"testing"
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
	gen := value(t, reg, "tremolo_wasm_chain_generation", "")
	if err := c.SetConfigs(ctx, map[string][]byte{"two": []byte("from-config")}); err != nil {
		t.Fatal(err)
	}
	if again := value(t, reg, "tremolo_wasm_chain_generation", ""); again != gen {
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
