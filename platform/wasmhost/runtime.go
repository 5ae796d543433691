package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"
)

// RuntimeOptions configure NewRuntime. The zero value is usable.
type RuntimeOptions struct {
	// CacheDir, if set, is where compiled plugins are kept between runs
	// (wazero's file compilation cache), so a restarted edge loads its
	// plugins without compiling them again. The directory is created if
	// missing and must not be written by anything else.
	CacheDir string
	// Logger receives the host's own messages and the plugins' (their log
	// calls, stdout and stderr), each with a "plugin" attribute. Default:
	// discard.
	Logger *slog.Logger
	// Registerer receives the host's metrics (see the package
	// documentation). Default: a private registry, i.e. not exported.
	Registerer prometheus.Registerer
	// Buckets stores the token buckets of tremolo.bucket_take. Default: an
	// in-process ratelimit.Memory, so limits hold across the instances of a
	// plugin but not across edge replicas; give a ratelimit.Redis for that.
	// The host passes Take a key in a buffer it reuses, which a store must
	// not keep (see ratelimit.Store).
	Buckets ratelimit.Store
}

// Runtime loads plugins. It holds what they share: the compilation cache,
// the metrics, the bucket store and the parsed keys of tremolo.key_register.
// Each plugin gets a wazero runtime of its own, because the memory limit
// and the termination checks are per wazero runtime and per plugin here;
// they share the compilation cache, so nothing is compiled twice.
type Runtime struct {
	logger  *slog.Logger
	cache   wazero.CompilationCache
	metrics *metrics
	buckets ratelimit.Store
	// bucketsInProcess: buckets answers at once (ratelimit.InProcess).
	bucketsInProcess bool
	keys             *keyCache

	mu      sync.Mutex
	plugins map[string][]*Plugin // by name: two while a reload swaps versions
	closed  bool
}

// NewRuntime returns a Runtime. It fails if CacheDir cannot be created or
// the metrics cannot be registered (a different collector holds a name).
func NewRuntime(ctx context.Context, opts RuntimeOptions) (*Runtime, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Buckets == nil {
		opts.Buckets = ratelimit.NewMemory(ratelimit.MemoryOptions{})
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("wasmhost: register metrics: %w", err)
	}
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		if cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache in %s: %w", opts.CacheDir, err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	return &Runtime{
		logger:           opts.Logger,
		cache:            cache,
		metrics:          m,
		buckets:          opts.Buckets,
		bucketsInProcess: ratelimit.InProcess(opts.Buckets),
		keys:             newKeyCache(maxCachedKeys),
		plugins:          make(map[string][]*Plugin),
	}, nil
}

// ErrClosed is returned by Load on a closed Runtime.
var ErrClosed = errors.New("wasmhost: runtime closed")

// Close closes every plugin still loaded (see Plugin.Close: calls in
// flight may finish until ctx ends), then the compilation cache. Plugins
// cannot be loaded afterwards.
func (rt *Runtime) Close(ctx context.Context) error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	var plugins []*Plugin
	for _, ps := range rt.plugins {
		plugins = append(plugins, ps...)
	}
	rt.mu.Unlock()
	var errs []error
	for _, p := range plugins {
		errs = append(errs, p.Close(ctx))
	}
	if err := rt.cache.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("wasmhost: close compilation cache: %w", err))
	}
	return errors.Join(errs...)
}

// add registers a plugin by name. A name labels the plugin's metrics and
// prefixes its buckets, and is meant to name one plugin; two plugins share
// a name while a new version of a plugin replaces the old one (see
// platform/wasmchain), and then share its metrics and buckets too, which is
// what continuity across a reload wants.
func (rt *Runtime) add(p *Plugin) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return ErrClosed
	}
	rt.plugins[p.name] = append(rt.plugins[p.name], p)
	return nil
}

// remove unregisters p and reports whether it was the last of its name
// (whose metric series can then go).
func (rt *Runtime) remove(p *Plugin) (last bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ps := rt.plugins[p.name]
	for i, q := range ps {
		if q == p {
			ps = append(ps[:i], ps[i+1:]...)
			break
		}
	}
	if len(ps) == 0 {
		delete(rt.plugins, p.name)
		return true
	}
	rt.plugins[p.name] = ps
	return false
}
