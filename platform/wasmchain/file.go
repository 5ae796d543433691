package wasmchain

import (
	"bytes"
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
type File struct {
	// Plugins run in this order on requests, in reverse on responses.
	Plugins []Plugin `json:"plugins"`
}

// Plugin is one entry of a chain file. Zero values take wasmhost's
// defaults.
type Plugin struct {
	// Name identifies the plugin in metrics and logs.
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

// variable matches ${name} in a config string.
var variable = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// ReadFile parses the chain file at path and reads the modules it names.
// vars fill the ${name} references in plugin configs; an unknown name is an
// error, as is any field the format does not define.
func ReadFile(path string, vars map[string]string) ([]wasmhost.PluginOptions, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasmchain: reading the chain file: %w", err)
	}
	var f File
	if err := unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("wasmchain: %s: %w", path, err)
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
		if p.Wasm == "" {
			return nil, fmt.Errorf("wasmchain: %s: wasm (the module's path) is missing", where)
		}
		wasmPath := p.Wasm
		if !filepath.IsAbs(wasmPath) {
			wasmPath = filepath.Join(dir, wasmPath)
		}
		wasm, err := os.ReadFile(wasmPath)
		if err != nil {
			return nil, fmt.Errorf("wasmchain: %s: reading the module: %w (build the plugins with wasm-plugins/build.sh)", where, err)
		}
		opts := wasmhost.PluginOptions{
			Name: p.Name, Wasm: wasm, Trusted: p.Trusted,
			PoolSize: p.PoolSize, Warm: p.Warm, MaxCalls: p.MaxCalls,
			MemoryLimitPages: uint32(p.MemoryLimitMiB) * 16,
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
		if len(p.Config) > 0 {
			cfg, err := expand(p.Config, vars)
			if err != nil {
				return nil, fmt.Errorf("wasmchain: %s: config: %w", where, err)
			}
			opts.Config = cfg
		}
		out = append(out, opts)
	}
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
