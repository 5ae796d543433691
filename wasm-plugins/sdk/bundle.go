package sdk

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Bundle returns the Factory of a module that runs several plugins, one
// after the other, in one WebAssembly instance: one Go runtime and one heap
// where separate modules would have one each.
//
// Why: a host keeps every module's instances, and the CPU's caches keep
// whichever of them ran last. Under an edge's load the rest of each request
// (JSON, protobuf, database caches) evicts four small Go runtimes between
// two requests, and the WebAssembly chain pays for it on every request: in
// Tremolo's benchmarks (docs/benchmarks.md) the default chain as one module
// costs 24 µs of CPU a request over the same plugins compiled in, as four
// modules 41-42. The
// price is isolation: the plugins share one instance, one budget and one
// memory cap, and are changed together (their order and configuration are
// still the chain file's, through this config).
//
// The bundle's config names, in order, the plugins to run, each with its
// own config and policy:
//
//	{"plugins": [
//	  {"name": "jwt", "config": {...}},
//	  {"name": "ratelimit", "policy": "fail_open", "config": {...}}
//	]}
//
// name is a key of plugins. The first plugin that answers a request itself
// ends it, as in a chain of modules. policy is what happens when the plugin
// panics:
//
//   - "fail_closed" (the default): the panic fails the whole module call,
//     and the host applies the bundle's own policy (from the chain file),
//     undoing everything the bundle changed. A bundle holding a fail_closed
//     plugin must itself be fail_closed in the chain file.
//   - "fail_open": the plugin is skipped, as if absent: the host undoes
//     what the request's plugins changed (tremolo.undo_request), and they
//     run again without it (see HandleRequest). The failure is logged at
//     error level and counted (the counter "<name>_failures", see
//     CounterAdd), and the instance asks the host to discard it after this
//     request (tremolo.retire), since a recovered panic may leave the
//     plugin's state half-updated. In a host without the tremolo module
//     (the portable build), which cannot undo, the panic fails the module
//     call instead, as for fail_closed; so does a panic inside
//     Request.Body, which leaves the body half read.
//
// A failure the guest cannot recover from (a trap, the budget, the memory
// cap) fails the module call, whatever the plugin's policy.
//
// Plugins that handle responses (ResponseHandler) cannot be bundled: the
// Factory refuses them, so that the bundle itself skips the response phase.
func Bundle(plugins map[string]Factory) Factory {
	return func(config []byte) (Handler, error) { return newBundle(plugins, config) }
}

// BundleConfig is the configuration Bundle decodes.
type BundleConfig struct {
	Plugins []BundledPlugin `json:"plugins"`
}

// BundledPlugin is one plugin of a BundleConfig.
type BundledPlugin struct {
	Name   string          `json:"name"`
	Policy string          `json:"policy,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
}

// bundle is the Handler Bundle builds.
type bundle struct {
	stages []stage
}

// maxBundled bounds a bundle's plugins (HandleRequest's skip mask).
const maxBundled = 64

type stage struct {
	name     string
	h        Handler
	failOpen bool
	counter  string // name + "_failures"
}

func newBundle(plugins map[string]Factory, config []byte) (*bundle, error) {
	var c BundleConfig
	if err := DecodeConfig(config, &c); err != nil {
		return nil, err
	}
	if len(c.Plugins) == 0 {
		return nil, fmt.Errorf("config field plugins: empty; a bundle runs at least one plugin (it holds %s)", names(plugins))
	}
	if len(c.Plugins) > maxBundled {
		return nil, fmt.Errorf("config field plugins: %d plugins; a bundle runs at most %d", len(c.Plugins), maxBundled)
	}
	b := &bundle{}
	seen := make(map[string]bool, len(c.Plugins))
	for i, p := range c.Plugins {
		f := plugins[p.Name]
		if f == nil {
			return nil, fmt.Errorf("config field plugins[%d].name: %q is not in this bundle (it holds %s)", i, p.Name, names(plugins))
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("config field plugins[%d].name: %q is already in the bundle", i, p.Name)
		}
		seen[p.Name] = true
		s := stage{name: p.Name, counter: p.Name + "_failures"}
		switch p.Policy {
		case "", "fail_closed":
		case "fail_open":
			s.failOpen = true
		default:
			return nil, fmt.Errorf("config field plugins[%d].policy: %q; want fail_closed or fail_open", i, p.Policy)
		}
		h, err := f(p.Config)
		if err == nil && h == nil {
			err = fmt.Errorf("its Factory returned no Handler")
		}
		if err != nil {
			return nil, fmt.Errorf("config field plugins[%d] (%s): %w", i, p.Name, err)
		}
		if _, ok := h.(ResponseHandler); ok {
			return nil, fmt.Errorf("config field plugins[%d] (%s): the plugin handles responses, which a bundle does not; load it as a module of its own", i, p.Name)
		}
		s.h = h
		b.stages = append(b.stages, s)
	}
	return b, nil
}

// names lists the plugins a bundle holds, for error messages.
func names(plugins map[string]Factory) string {
	return strings.Join(slices.Sorted(maps.Keys(plugins)), ", ")
}

// HandleRequest runs the plugins in order until one answers the request.
// When a fail_open plugin panics, the request's changes so far are undone
// (tremolo.undo_request), and the plugins run again from the first, without
// the failed one: the request goes on as if that plugin were absent. Only
// the failure path pays for it; plugins before the failed one run twice
// (a rate limiter among them takes its tokens twice for that request).
func (b *bundle) HandleRequest(req Request, resp Response) bool {
	var skip uint64 // stages that failed, by bit
	for {
		next, failed, v := b.run(req, resp, skip)
		if failed < 0 {
			return next
		}
		s := &b.stages[failed]
		if !undoRequest() {
			Log(LevelError, "bundle: plugin "+s.name+" panicked reading the body, which cannot be undone: the bundle fails")
			panic(v)
		}
		retire()
		Log(LevelError, fmt.Sprintf("bundle: plugin %s panicked and was skipped (fail_open): %v", s.name, v))
		CounterAdd(s.counter, 1)
		skip |= 1 << failed
	}
}

// run runs the stages not in skip, and reports the fail_open stage that
// panicked (failed >= 0, with the panic's value), if one did.
func (b *bundle) run(req Request, resp Response, skip uint64) (next bool, failed int, v any) {
	i := 0
	defer func() {
		if i >= len(b.stages) {
			return
		}
		// Without undo (natively, or a portable build) a panic goes on
		// untouched, its stack intact: the call fails, as for fail_closed.
		if canUndo && b.stages[i].failOpen {
			if v = recover(); v != nil {
				next, failed = false, i
			}
		} else if canUndo {
			if v := recover(); v != nil {
				Log(LevelError, "bundle: plugin "+b.stages[i].name+" panicked (fail_closed): the bundle fails")
				panic(v)
			}
		}
	}()
	for ; i < len(b.stages); i++ {
		if skip&(1<<i) == 0 && !b.stages[i].h.HandleRequest(req, resp) {
			i = len(b.stages) // answered: nothing to recover
			return false, -1, nil
		}
	}
	return true, -1, nil
}
