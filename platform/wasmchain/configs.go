package wasmchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"sigs.k8s.io/yaml"
)

// SetConfigs replaces the configs of the named plugins with configs (YAML
// or JSON each; ${name} variables are filled as in the file), over what the
// chain file says, and loads the chain with them at once: this is how
// dynamic configuration changes A/B rules or rate limits without touching
// the file. A plugin left out of configs goes back to the file's config.
//
// A config naming a plugin the chain does not run, one that is not YAML or
// JSON, or a chain that does not load with the new configs (the plugin
// refuses its config) is an error, and the running chain and its configs
// stay as they were.
func (c *Chain) SetConfigs(ctx context.Context, configs map[string][]byte) error {
	conv := make(map[string][]byte, len(configs))
	for name, raw := range configs {
		doc, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return fmt.Errorf("wasmchain: the config of plugin %q is neither YAML nor JSON: %w", name, err)
		}
		conv[name] = doc
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names, err := readPluginNames(c.opts.Path)
	if err != nil {
		return fmt.Errorf("wasmchain: %s: %w", c.opts.Path, err)
	}
	for name := range conv {
		if !slices.Contains(names, name) {
			return fmt.Errorf("wasmchain: a config for plugin %q, which %s does not run (it runs %v)", name, c.opts.Path, names)
		}
	}
	if maps.EqualFunc(conv, c.overrides, func(a, b []byte) bool { return string(a) == string(b) }) {
		return nil
	}
	old := c.overrides
	c.overrides = conv
	if _, err := c.reloadLocked(ctx, true); err != nil {
		c.overrides = old
		return err
	}
	return nil
}

// overridesPrint sums up the configs SetConfigs set, for the fingerprint.
func (c *Chain) overridesPrint() string {
	if len(c.overrides) == 0 {
		return ""
	}
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(c.overrides)) {
		fmt.Fprintf(h, "%s=%d:%s;", name, len(c.overrides[name]), c.overrides[name])
	}
	return "|configs:" + hex.EncodeToString(h.Sum(nil)[:8])
}

// readPluginNames returns the names of the plugins a chain file runs.
func readPluginNames(path string) ([]string, error) {
	raw, err := readChainFile(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw.Plugins))
	for _, p := range raw.Plugins {
		names = append(names, p.Name)
	}
	return names, nil
}
