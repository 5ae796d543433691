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
		{"warm above the pool", "plugins: [{name: a, wasm: a.wasm, pool_size: 2, warm: 3}]", nil, []string{"(a)", "warm 3 is more than pool_size 2"}},
		{"memory beyond 4 GiB", "plugins: [{name: a, wasm: a.wasm, memory_limit_mib: 268435456}]", nil, []string{"(a)", "memory_limit_mib 268435456"}},
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
	f.Add("plugins: [{name: a, wasm: a.wasm}, {name: b, config: {k: \"${k}\"}}, {name: c}]\nbundle: {wasm: a.wasm, plugins: [b, c]}")
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

// bundleChain is a chain file of three plugins, the last two bundled: the
// bundled ones name modules that do not exist (jwt) or none (colour).
const bundleChain = `
plugins:
  - name: first
    wasm: first.wasm
    trusted: true
    config: {k: "${k}"}
  - name: jwt
    wasm: missing-jwt.wasm
    policy: fail_closed
    trusted: true
    budget: 20ms
    pool_size: 4
    warm: 3
    max_calls: 10
    memory_limit_mib: 8
    config: {keys: [{key_base64: "${k}"}], id: 9007199254740993}
  - name: colour
    policy: fail_open
    trusted: true
    pool_size: 8
    warm: 1
    max_calls: 50
    memory_limit_mib: 4
    config: {cells: 16, label: "x-${k}"}
bundle:
  wasm: bundle.wasm
  plugins: [jwt, colour]
`

// A bundle is loaded as one plugin where its first member stands: its
// module, its members' entries (in order, variables filled) as its config,
// and the strictest policy, the sum of the budgets and the largest pool
// and memory settings of its members.
func TestReadFileBundle(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"first.wasm":  "module first",
		"bundle.wasm": "module bundle",
		"chain.yaml":  bundleChain,
	})
	got, err := wasmchain.ReadFile(filepath.Join(dir, "chain.yaml"), map[string]string{"k": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d plugins, want 2 (first, then the bundle): %+v", len(got), got)
	}
	if first := got[0]; first.Name != "first" || string(first.Wasm) != "module first" || string(first.Config) != `{"k":"secret"}` {
		t.Errorf("the plugin before the bundle: %+v", first)
	}
	b := got[1]
	if b.Name != "bundle" || string(b.Wasm) != "module bundle" {
		t.Errorf("bundle %q with module %q, want \"bundle\" with the bundle's module", b.Name, b.Wasm)
	}
	want := `{"plugins":[` +
		`{"name":"jwt","policy":"fail_closed","config":{"id":9007199254740993,"keys":[{"key_base64":"secret"}]}},` +
		`{"name":"colour","policy":"fail_open","config":{"cells":16,"label":"x-secret"}}]}`
	if string(b.Config) != want {
		t.Errorf("bundle config\n%s\nwant\n%s", b.Config, want)
	}
	if b.Policy != wasmhost.FailClosed {
		t.Errorf("bundle policy %v, want fail_closed (jwt is)", b.Policy)
	}
	if !b.Trusted {
		t.Error("bundle not trusted though all its plugins are")
	}
	if want := 20*time.Millisecond + wasmhost.DefaultBudget; b.Budget != want {
		t.Errorf("bundle budget %v, want %v (jwt's 20ms plus the default for colour)", b.Budget, want)
	}
	if b.PoolSize != 8 || b.Warm != 3 || b.MaxCalls != 10 || b.MemoryLimitPages != 8*16 {
		t.Errorf("bundle pool %d, warm %d, max calls %d, memory %d pages; want the largest pool, warm and memory and the smallest max calls of its plugins' (8, 3, 10, 128)",
			b.PoolSize, b.Warm, b.MaxCalls, b.MemoryLimitPages)
	}
}

// A bundle can stand first and have its own name; its policy is fail_open
// when all its plugins are, it is untrusted when one of them is, and a
// plugin without a config gives none.
func TestReadFileBundleNamedFirst(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"c.wasm":   "module c",
		"all.wasm": "module all",
		"chain.yaml": `
plugins:
  - {name: a, policy: fail_open, trusted: true}
  - {name: b, policy: fail_open, config: [1, 2]}
  - {name: c, wasm: c.wasm}
bundle: {name: all, wasm: all.wasm, plugins: [a, b]}
`,
	})
	got, err := wasmchain.ReadFile(filepath.Join(dir, "chain.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "all" || got[1].Name != "c" {
		t.Fatalf("plugins %+v, want the bundle \"all\" then c", got)
	}
	b := got[0]
	if string(b.Wasm) != "module all" || b.Policy != wasmhost.FailOpen || b.Trusted || b.Budget != 2*wasmhost.DefaultBudget {
		t.Errorf("bundle: %+v; want its module, fail_open, untrusted, twice the default budget", b)
	}
	if want := `{"plugins":[{"name":"a","policy":"fail_open"},{"name":"b","policy":"fail_open","config":[1,2]}]}`; string(b.Config) != want {
		t.Errorf("bundle config %s, want %s", b.Config, want)
	}
	if c := got[1]; string(c.Wasm) != "module c" || c.Policy != wasmhost.FailClosed {
		t.Errorf("plugin after the bundle: %+v", c)
	}
}

// ReadPlugins returns a bundle's plugins apart, as if there were no bundle,
// and reads no module at all.
func TestReadPluginsWithBundle(t *testing.T) {
	dir := writeFiles(t, map[string]string{"chain.yaml": bundleChain}) // no module exists
	got, err := wasmchain.ReadPlugins(filepath.Join(dir, "chain.yaml"), map[string]string{"k": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
		if p.Wasm != nil {
			t.Errorf("plugin %s: Wasm %q, want nil", p.Name, p.Wasm)
		}
	}
	if strings.Join(names, ",") != "first,jwt,colour" {
		t.Fatalf("plugins %v, want first,jwt,colour", names)
	}
	jwt, colour := got[1], got[2]
	if string(jwt.Config) != `{"id":9007199254740993,"keys":[{"key_base64":"secret"}]}` ||
		jwt.Policy != wasmhost.FailClosed || !jwt.Trusted || jwt.Budget != 20*time.Millisecond ||
		jwt.PoolSize != 4 || jwt.Warm != 3 || jwt.MaxCalls != 10 || jwt.MemoryLimitPages != 8*16 {
		t.Errorf("jwt: %+v (config %s)", jwt, jwt.Config)
	}
	if string(colour.Config) != `{"cells":16,"label":"x-secret"}` || colour.Policy != wasmhost.FailOpen ||
		colour.Budget != 0 || colour.PoolSize != 8 || colour.MemoryLimitPages != 4*16 {
		t.Errorf("colour: %+v (config %s)", colour, colour.Config)
	}
	if _, err := wasmchain.ReadPlugins(filepath.Join(dir, "chain.yaml"), nil); err == nil || !strings.Contains(err.Error(), "${k}") {
		t.Errorf("ReadPlugins without the variable a bundled plugin's config names: %v", err)
	}
}

// Every mistake in a bundle is named, with the chain file; all but an
// unreadable module are found by ReadPlugins too.
func TestReadFileBundleErrors(t *testing.T) {
	const plugins = "plugins: [{name: a, wasm: a.wasm}, {name: b, wasm: a.wasm}, {name: c, wasm: a.wasm}]\n"
	for _, c := range []struct {
		name, bundle string
		moduleOnly   bool // only ReadFile, which reads the module, sees it
		want         []string
	}{
		{"not adjacent", "{wasm: bundle.wasm, plugins: [a, c]}", false, []string{"bundle: plugins[1]", `"c" does not come right after "a"`}},
		{"out of order", "{wasm: bundle.wasm, plugins: [b, a]}", false, []string{"bundle: plugins[1]", `"a" does not come right after "b"`}},
		{"not a plugin", "{wasm: bundle.wasm, plugins: [a, z]}", false, []string{"bundle: plugins[1]", `"z" is not in plugins`}},
		{"named twice", "{wasm: bundle.wasm, plugins: [a, a]}", false, []string{"bundle: plugins[1]", `"a" is named twice`}},
		{"no plugins", "{wasm: bundle.wasm, plugins: []}", false, []string{"bundle", "plugins is empty"}},
		{"plugins left out", "{wasm: bundle.wasm}", false, []string{"bundle", "plugins is empty"}},
		{"no module", "{plugins: [a, b]}", false, []string{"bundle", "wasm (the module's path) is missing"}},
		{"a plugin's name", "{name: c, wasm: bundle.wasm, plugins: [a, b]}", false, []string{"bundle", `name "c" is also a plugin's`}},
		{"unknown field", "{wasm: bundle.wasm, plugins: [a], polcy: fail_open}", false, []string{"polcy"}},
		{"missing module", "{wasm: nope.wasm, plugins: [a, b]}", true, []string{"bundle", "nope.wasm", "reading the module"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"a.wasm": "x", "bundle.wasm": "y", "chain.yaml": plugins + "bundle: " + c.bundle + "\n"})
			path := filepath.Join(dir, "chain.yaml")
			check := func(read string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", read)
				}
				for _, w := range append([]string{path}, c.want...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q does not say %q", read, err, w)
					}
				}
			}
			_, err := wasmchain.ReadFile(path, nil)
			check("ReadFile", err)
			_, err = wasmchain.ReadPlugins(path, nil)
			if c.moduleOnly {
				if err != nil {
					t.Errorf("ReadPlugins, which reads no module: %v", err)
				}
				return
			}
			check("ReadPlugins", err)
		})
	}
	// The default name "bundle" counts too.
	dir := writeFiles(t, map[string]string{"bundle.wasm": "y", "chain.yaml": "plugins: [{name: bundle}, {name: b}]\nbundle: {wasm: bundle.wasm, plugins: [b]}\n"})
	if _, err := wasmchain.ReadFile(filepath.Join(dir, "chain.yaml"), nil); err == nil || !strings.Contains(err.Error(), `name "bundle" is also a plugin's`) {
		t.Errorf("a plugin named bundle beside an unnamed bundle: %v", err)
	}
}

// A bundle's pool follows its plugins' entries where they leave a setting
// to wasmhost's default (0): the default pool and warm-up, the default
// memory cap when it is the larger; warm never exceeds the pool, and
// instances are never recycled only if no plugin wants them to be.
func TestReadFileBundleDefaults(t *testing.T) {
	for _, c := range []struct {
		name, a, b                  string
		pool, warm, maxCalls, pages int
	}{
		{"one leaves the pool to the default", "warm: 8", "pool_size: 4", max(4, wasmhost.DefaultPoolSize()), min(8, max(4, wasmhost.DefaultPoolSize())), wasmhost.DefaultMaxCalls, wasmhost.DefaultMemoryLimitPages},
		{"the largest pool and warm-up", "{pool_size: 64, warm: 32}", "warm: 2", max(64, wasmhost.DefaultPoolSize()), 32, wasmhost.DefaultMaxCalls, wasmhost.DefaultMemoryLimitPages},
		{"never recycled only if both say so", "max_calls: -1", "max_calls: -1", 0, 0, -1, wasmhost.DefaultMemoryLimitPages},
		{"recycled as often as one asks", "max_calls: -1", "max_calls: 7", 0, 0, 7, wasmhost.DefaultMemoryLimitPages},
		{"the default memory cap when larger", "memory_limit_mib: 4", "{}", 0, 0, wasmhost.DefaultMaxCalls, wasmhost.DefaultMemoryLimitPages},
		{"a larger memory cap", "memory_limit_mib: 128", "{}", 0, 0, wasmhost.DefaultMaxCalls, 128 * 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			entry := func(name, extra string) string {
				if strings.HasPrefix(extra, "{") {
					extra = strings.Trim(extra, "{}")
					extra = strings.ReplaceAll(extra, ", ", "\n    ")
				}
				return "  - name: " + name + "\n    " + extra + "\n"
			}
			dir := writeFiles(t, map[string]string{
				"bundle.wasm": "module bundle",
				"chain.yaml": "plugins:\n" + entry("a", c.a) + entry("b", c.b) +
					"bundle: {wasm: bundle.wasm, plugins: [a, b]}\n",
			})
			got, err := wasmchain.ReadFile(filepath.Join(dir, "chain.yaml"), nil)
			if err != nil {
				t.Fatal(err)
			}
			b := got[0]
			if b.PoolSize != c.pool || b.Warm != c.warm || b.MaxCalls != c.maxCalls || int(b.MemoryLimitPages) != c.pages {
				t.Errorf("pool %d, warm %d, max calls %d, memory %d pages; want %d, %d, %d, %d",
					b.PoolSize, b.Warm, b.MaxCalls, b.MemoryLimitPages, c.pool, c.warm, c.maxCalls, c.pages)
			}
		})
	}
}
