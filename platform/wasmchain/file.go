package wasmchain

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tremolo-dev/tremolo/platform/wasmhost"
)

// File is a chain file: the edge's plugins, outermost first. It is YAML (or
// JSON), for example:
//
//	plugins:
//	  - name: colour
//	    wasm: colour.wasm          # relative to the chain file
//	    policy: fail_open
//	    trusted: true
//	    config: {cells: 16}
//	  - name: jwt
//	    wasm: jwt.wasm
//	    policy: fail_closed
//	    budget: 20ms
//	    config:
//	      keys: [{alg: HS256, key_base64: "${jwt_key_base64}"}]
//
// Strings in a plugin's config may name variables as ${name}; the program
// that loads the file supplies them (the edge supplies jwt_key_base64, the
// token key, so the key never has to be copied into the file).
//
// A bundle runs several plugins, next to each other in Plugins, in one
// module built with the guest SDK's sdk.Bundle (wasm-plugins/bundle):
//
//	bundle:
//	  wasm: bundle.wasm
//	  plugins: [jwt, colour]
//
// The plugins keep their entries (order, config, policy); the host loads the
// bundle's module once, where the first of them stands, instead of theirs.
type File struct {
	// Plugins run in this order on requests, in reverse on responses.
	Plugins []Plugin `json:"plugins"`
	// Bundle, if set, runs some of Plugins in one module.
	Bundle *Bundle `json:"bundle,omitempty"`
}

// Bundle is the bundle of a chain file: plugins run by one module.
//
// Why: each module is a runtime of its own (a Go guest's is several MB of
// code and heap), and an edge under load keeps few of them in the CPU's
// caches; the edge's default chain as one module costs about 40% less CPU
// than as one module per plugin (docs/benchmarks.md). What the plugins give up is isolation: one
// instance pool, budget and memory cap for all of them, and a failure the
// guest cannot recover from (a trap, the budget) fails them together.
//
// The module is loaded as one plugin named Name, with:
//   - config {"plugins": [{"name", "policy", "config"}, ...]}, the bundled
//     plugins' entries in order (sdk.BundleConfig): the guest applies each
//     one's policy to its panics;
//   - policy fail_closed if any of them is, else fail_open;
//   - trusted only if all of them are;
//   - a budget the sum of theirs (wasmhost.DefaultBudget for those without);
//   - the largest memory cap of theirs (wasmhost's default for those
//     without), since their heaps share the instance;
//   - the largest pool_size of theirs (wasmhost.DefaultPoolSize for those
//     without; the default itself when all are), and the largest warm of
//     those who set one, at most the pool;
//   - the smallest max_calls of theirs (wasmhost's default for those
//     without, never recycled only if all of them say so).
//
// Their own wasm is not read, so it may be left out. The host knows only
// the bundle: metrics (calls, latencies, failures, the plugins' counters)
// and the rate-limit buckets' key prefix are the bundle's name, not
// theirs; a plugin that fails inside is named in the log.
type Bundle struct {
	// Name identifies the bundle in metrics and logs (default "bundle");
	// it must not be a plugin's name.
	Name string `json:"name"`
	// Wasm is the module's path, relative to the chain file's directory.
	Wasm string `json:"wasm"`
	// Plugins are the bundled plugins' names, in their order in Plugins.
	Plugins []string `json:"plugins"`
}

// Plugin is one entry of a chain file. Zero values take wasmhost's
// defaults.
type Plugin struct {
	// Name identifies the plugin in metrics and logs (a bundled plugin's
	// are the bundle's: see Bundle) and in dynamic configs.
	Name string `json:"name"`
	// Wasm is the module's path, relative to the chain file's directory.
	Wasm string `json:"wasm"`
	// Policy is "fail_closed" (deny the request when the plugin fails; the
	// default) or "fail_open" (skip the plugin).
	Policy string `json:"policy"`
	// Trusted turns wazero's termination checks off (faster; a looping
	// guest then holds its request).
	Trusted bool `json:"trusted"`
	// Budget is the time a guest call may take, e.g. "20ms".
	Budget string `json:"budget"`
	// PoolSize, Warm and MaxCalls size the plugin's instance pool.
	PoolSize int `json:"pool_size"`
	Warm     int `json:"warm"`
	MaxCalls int `json:"max_calls"`
	// MemoryLimitMiB caps each instance's memory.
	MemoryLimitMiB int `json:"memory_limit_mib"`
	// Config is given to the plugin as JSON.
	Config json.RawMessage `json:"config"`
}

// maxMemoryMiB is the most memory_limit_mib can say: 32-bit WebAssembly's
// 4 GiB.
const maxMemoryMiB = 4096

// variable matches ${name} in a config string.
var variable = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// ReadFile parses the chain file at path and reads the modules it names:
// what the host loads, a bundle's plugins as one. vars fill the ${name}
// references in plugin configs; an unknown name is an error, as is any
// field the format does not define.
func ReadFile(path string, vars map[string]string) ([]wasmhost.PluginOptions, error) {
	return readFile(path, vars, nil, true)
}

// ReadPlugins is ReadFile with every plugin apart, a bundle's too, and no
// module read (Wasm is nil): what a program that runs the same plugins
// compiled in (the edge's -edge-middleware=go) needs.
func ReadPlugins(path string, vars map[string]string) ([]wasmhost.PluginOptions, error) {
	return readFile(path, vars, nil, false)
}

// readFile reads the chain file at path, with the plugin configs in
// overrides (JSON, by plugin name) instead of the file's. bundled: load a
// bundle's module for its plugins; else no module is read at all.
func readFile(path string, vars map[string]string, overrides map[string][]byte, bundled bool) ([]wasmhost.PluginOptions, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasmchain: reading the chain file: %w", err)
	}
	var f File
	if err := unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("wasmchain: %s: %w", path, err)
	}
	inBundle, err := checkBundle(path, f)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	seen := map[string]bool{}
	out := make([]wasmhost.PluginOptions, 0, len(f.Plugins))
	for i, p := range f.Plugins {
		where := fmt.Sprintf("%s: plugins[%d]", path, i)
		if p.Name == "" {
			return nil, fmt.Errorf("wasmchain: %s: name is missing", where)
		}
		where = fmt.Sprintf("%s (%s)", where, p.Name)
		if seen[p.Name] {
			return nil, fmt.Errorf("wasmchain: %s: a second plugin of this name", where)
		}
		seen[p.Name] = true
		opts := wasmhost.PluginOptions{
			Name: p.Name, Trusted: p.Trusted,
			PoolSize: p.PoolSize, Warm: p.Warm, MaxCalls: p.MaxCalls,
			MemoryLimitPages: uint32(p.MemoryLimitMiB) * 16,
		}
		if bundled && !inBundle[p.Name] {
			if p.Wasm == "" {
				return nil, fmt.Errorf("wasmchain: %s: wasm (the module's path) is missing", where)
			}
			if opts.Wasm, err = readModule(dir, p.Wasm); err != nil {
				return nil, fmt.Errorf("wasmchain: %s: %w", where, err)
			}
		}
		switch p.Policy {
		case "", "fail_closed":
			opts.Policy = wasmhost.FailClosed
		case "fail_open":
			opts.Policy = wasmhost.FailOpen
		default:
			return nil, fmt.Errorf("wasmchain: %s: policy %q: want fail_closed or fail_open", where, p.Policy)
		}
		if p.Budget != "" {
			d, err := time.ParseDuration(p.Budget)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("wasmchain: %s: budget %q: want a positive duration such as 20ms", where, p.Budget)
			}
			opts.Budget = d
		}
		if p.MemoryLimitMiB < 0 || p.PoolSize < 0 || p.Warm < 0 {
			return nil, fmt.Errorf("wasmchain: %s: pool_size, warm and memory_limit_mib cannot be negative", where)
		}
		if p.MemoryLimitMiB > maxMemoryMiB {
			return nil, fmt.Errorf("wasmchain: %s: memory_limit_mib %d: WebAssembly memory holds at most %d", where, p.MemoryLimitMiB, maxMemoryMiB)
		}
		if p.PoolSize > 0 && p.Warm > p.PoolSize {
			// Checked here, not only by the host, so that a bundled
			// plugin's entry stays valid on its own.
			return nil, fmt.Errorf("wasmchain: %s: warm %d is more than pool_size %d", where, p.Warm, p.PoolSize)
		}
		cfg := json.RawMessage(p.Config)
		if o, ok := overrides[p.Name]; ok {
			cfg = o
		}
		if len(cfg) > 0 {
			if opts.Config, err = expand(cfg, vars); err != nil {
				what := "config"
				if _, ok := overrides[p.Name]; ok {
					what = "the config set at run time"
				}
				return nil, fmt.Errorf("wasmchain: %s: %s: %w", where, what, err)
			}
		}
		out = append(out, opts)
	}
	if !bundled || f.Bundle == nil {
		return out, nil
	}
	wasm, err := readModule(dir, f.Bundle.Wasm)
	if err != nil {
		return nil, fmt.Errorf("wasmchain: %s: bundle: %w", path, err)
	}
	return joinBundle(out, inBundle, bundleName(f.Bundle), wasm)
}

// readModule reads the module at p, relative to dir.
func readModule(dir, p string) ([]byte, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	wasm, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading the module: %w (build the plugins with wasm-plugins/build.sh)", err)
	}
	return wasm, nil
}

func bundleName(b *Bundle) string {
	if b.Name == "" {
		return "bundle"
	}
	return b.Name
}

// checkBundle checks f's bundle against its plugins and returns the set of
// bundled plugin names (empty without a bundle).
func checkBundle(path string, f File) (map[string]bool, error) {
	b := f.Bundle
	if b == nil {
		return nil, nil
	}
	where := path + ": bundle"
	if b.Wasm == "" {
		return nil, fmt.Errorf("wasmchain: %s: wasm (the module's path) is missing", where)
	}
	if len(b.Plugins) == 0 {
		return nil, fmt.Errorf("wasmchain: %s: plugins is empty; name the plugins the module runs", where)
	}
	index := make(map[string]int, len(f.Plugins))
	for i, p := range f.Plugins {
		if _, dup := index[p.Name]; dup {
			return nil, nil // readFile reports the second plugin of this name
		}
		index[p.Name] = i
	}
	name := bundleName(b)
	if _, ok := index[name]; ok {
		return nil, fmt.Errorf("wasmchain: %s: name %q is also a plugin's; give the bundle a name of its own", where, name)
	}
	in := make(map[string]bool, len(b.Plugins))
	for k, n := range b.Plugins {
		i, ok := index[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("wasmchain: %s: plugins[%d]: %q is not in plugins", where, k, n)
		case in[n]:
			return nil, fmt.Errorf("wasmchain: %s: plugins[%d]: %q is named twice", where, k, n)
		case k > 0 && i != index[b.Plugins[k-1]]+1:
			return nil, fmt.Errorf("wasmchain: %s: plugins[%d]: %q does not come right after %q in plugins; a bundle runs plugins that are next to each other, in their order", where, k, n, b.Plugins[k-1])
		}
		in[n] = true
	}
	return in, nil
}

// bundledPlugin is one entry of the config a bundle's module receives
// (sdk.BundledPlugin in wasm-plugins/sdk).
type bundledPlugin struct {
	Name   string          `json:"name"`
	Policy string          `json:"policy"`
	Config json.RawMessage `json:"config,omitempty"`
}

// joinBundle replaces the bundled plugins of specs (next to each other, as
// checkBundle made sure) by one, named name, running wasm (see Bundle).
func joinBundle(specs []wasmhost.PluginOptions, in map[string]bool, name string, wasm []byte) ([]wasmhost.PluginOptions, error) {
	out := make([]wasmhost.PluginOptions, 0, len(specs))
	var members []bundledPlugin
	b := wasmhost.PluginOptions{Name: name, Wasm: wasm, Trusted: true, Policy: wasmhost.FailOpen, MaxCalls: -1}
	explicitPool := false
	at := -1
	for _, s := range specs {
		if !in[s.Name] {
			out = append(out, s)
			continue
		}
		if at < 0 {
			at = len(out)
			out = append(out, wasmhost.PluginOptions{}) // the bundle's place
		}
		policy := "fail_open"
		if s.Policy == wasmhost.FailClosed {
			policy = "fail_closed"
			b.Policy = wasmhost.FailClosed
		}
		members = append(members, bundledPlugin{Name: s.Name, Policy: policy, Config: s.Config})
		b.Trusted = b.Trusted && s.Trusted
		b.Budget += cmp.Or(s.Budget, wasmhost.DefaultBudget)
		b.MemoryLimitPages = max(b.MemoryLimitPages, cmp.Or(s.MemoryLimitPages, wasmhost.DefaultMemoryLimitPages))
		explicitPool = explicitPool || s.PoolSize > 0
		b.PoolSize = max(b.PoolSize, cmp.Or(s.PoolSize, wasmhost.DefaultPoolSize()))
		b.Warm = max(b.Warm, s.Warm)
		if calls := cmp.Or(s.MaxCalls, wasmhost.DefaultMaxCalls); calls > 0 && (b.MaxCalls < 0 || calls < b.MaxCalls) {
			b.MaxCalls = calls
		}
	}
	b.Warm = min(b.Warm, b.PoolSize)
	if !explicitPool {
		b.PoolSize = 0 // the default, decided where the bundle loads
	}
	cfg, err := json.Marshal(map[string]any{"plugins": members})
	if err != nil {
		return nil, fmt.Errorf("wasmchain: bundle %s: %w", name, err)
	}
	b.Config = cfg
	out[at] = b
	return out, nil
}

// unmarshal parses a chain file, refusing fields the format does not define.
func unmarshal(raw []byte, f *File) error { return yaml.UnmarshalStrict(raw, f) }

// readChainFile reads and parses the chain file, without its modules.
func readChainFile(path string) (File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	var f File
	return f, unmarshal(raw, &f)
}

// expand replaces ${name} in every string of a JSON document.
func expand(doc json.RawMessage, vars map[string]string) ([]byte, error) {
	// Numbers stay as written (json.Number), so that an id or a limit
	// beyond 2^53 is not rounded through a float64.
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var missing []string
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case string:
			return variable.ReplaceAllStringFunc(x, func(ref string) string {
				name := ref[2 : len(ref)-1]
				val, ok := vars[name]
				if !ok {
					missing = append(missing, name)
				}
				return val
			})
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		}
		return x
	}
	v = walk(v)
	if len(missing) > 0 {
		return nil, fmt.Errorf("unknown variable ${%s}", strings.Join(missing, "}, ${"))
	}
	return json.Marshal(v)
}
