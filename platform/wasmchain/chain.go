package wasmchain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/wasmhost"
)

// Options configure a Chain.
type Options struct {
	// Path is the chain file.
	Path string
	// Vars fill ${name} references in the plugins' configs.
	Vars map[string]string
	// Runtime loads the plugins.
	Runtime *wasmhost.Runtime
	// Deny answers requests refused by a failing fail_closed plugin.
	Deny wasmhost.DenyFunc
	// Logger receives reloads and their failures. Default: discard.
	Logger *slog.Logger
	// Registerer receives the chain's metrics; nil: not exported.
	Registerer prometheus.Registerer
	// Poll is how often Watch looks at the file and its modules (default 1s).
	Poll time.Duration
	// Drain bounds how long a replaced chain waits for its requests to
	// finish before its plugins are closed (default 30s).
	Drain time.Duration
}

// Chain runs the plugins of a chain file in front of a handler, and follows
// the file: Reload (or Watch, on every change of the file or of a module)
// loads the new chain beside the old one, warms it up, then swaps it in.
// Requests already inside the old chain finish there; new ones enter the new
// one; the old plugins are closed once their last request is done. A chain
// file that does not load (a syntax error, a missing module, a plugin that
// fails to start) leaves the running chain in place, and says why in the log
// and in tremolo_wasm_chain_reloads_total{result="error"}.
type Chain struct {
	opts Options
	next http.Handler

	cur    atomic.Pointer[generation]
	mu     sync.Mutex // serialises reloads
	print  string     // fingerprint of the loaded file and modules
	failed string     // fingerprint of the last load that failed
	// overrides replace plugins' configs from the file (SetConfigs), as
	// JSON by plugin name.
	overrides map[string][]byte
	gen       int
	reloads   *prometheus.CounterVec
	current   prometheus.Gauge
	retired   sync.WaitGroup
	// closing is closed by Close: replaced chains stop waiting for their
	// requests and close at once.
	closing   chan struct{}
	closeOnce sync.Once
}

// generation is one loaded version of the chain.
type generation struct {
	n       int
	plugins []*wasmhost.Plugin
	h       http.Handler
	active  atomic.Int64
}

// New loads the chain file in front of next. It fails if the file does not
// load: a process should not start without the middleware it was told to
// run.
func New(ctx context.Context, next http.Handler, opts Options) (*Chain, error) {
	if opts.Runtime == nil {
		return nil, errors.New("wasmchain: Options.Runtime is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Drain <= 0 {
		opts.Drain = 30 * time.Second
	}
	c := &Chain{
		opts:    opts,
		next:    next,
		closing: make(chan struct{}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_chain_reloads_total",
			Help: "Loads of the edge's plugin chain file, by result (ok, error).",
		}, []string{"result"}),
		current: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tremolo_wasm_chain_generation",
			Help: "How many times the plugin chain has been loaded; the running chain's number.",
		}),
	}
	c.reloads.WithLabelValues("ok")
	c.reloads.WithLabelValues("error")
	if opts.Registerer != nil {
		for _, col := range []prometheus.Collector{c.reloads, c.current} {
			if err := opts.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("wasmchain: metrics: %w", err)
			}
		}
	}
	if _, err := c.Reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// ServeHTTP runs the request through the current chain.
func (c *Chain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := c.enter()
	defer g.active.Add(-1)
	g.h.ServeHTTP(w, r)
}

// enter returns the current generation, counted as in use: a generation is
// only retired once no request can still enter it.
func (c *Chain) enter() *generation {
	for {
		g := c.cur.Load()
		g.active.Add(1)
		if c.cur.Load() == g {
			return g
		}
		g.active.Add(-1) // swapped meanwhile: take the new one
	}
}

// Plugins returns the names of the running chain's plugins, in order.
func (c *Chain) Plugins() []string {
	g := c.cur.Load()
	names := make([]string, len(g.plugins))
	for i, p := range g.plugins {
		names[i] = p.Name()
	}
	return names
}

// Reload loads the chain file again if it or a module changed since the
// last load, and swaps it in. It reports whether a new chain runs now.
func (c *Chain) Reload(ctx context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked(ctx, false)
}

// reloadLocked is Reload with c.mu held; force loads even a fingerprint
// that failed before (new configs deserve their own verdict).
func (c *Chain) reloadLocked(ctx context.Context, force bool) (bool, error) {
	print, err := c.fingerprint()
	if err != nil {
		print = "unreadable: " + err.Error() // a missing file is said once too
	}
	print += c.overridesPrint()
	if c.cur.Load() != nil && (print == c.print || (print == c.failed && !force)) {
		return false, nil // unchanged, or as broken as last time (said once)
	}
	g, err := c.load(ctx)
	if err != nil {
		c.failed = print
		c.reloads.WithLabelValues("error").Inc()
		c.opts.Logger.Error("wasm chain: not loaded; the running chain stays", slog.String("file", c.opts.Path), slog.Any("error", err))
		return false, err
	}
	c.print = print
	old := c.cur.Swap(g)
	c.reloads.WithLabelValues("ok").Inc()
	c.current.Set(float64(g.n))
	c.opts.Logger.Info("wasm chain loaded", slog.String("file", c.opts.Path), slog.Int("generation", g.n), slog.Any("plugins", c.Plugins()))
	if old != nil {
		c.retired.Add(1)
		go func() {
			defer c.retired.Done()
			c.retire(old)
		}()
	}
	return true, nil
}

func (c *Chain) load(ctx context.Context) (*generation, error) {
	specs, err := readFile(c.opts.Path, c.opts.Vars, c.overrides, true)
	if err != nil {
		return nil, err
	}
	c.gen++
	g := &generation{n: c.gen}
	for _, spec := range specs {
		p, err := c.opts.Runtime.Load(ctx, spec)
		if err != nil {
			closeAll(ctx, g.plugins, c.opts.Logger)
			return nil, fmt.Errorf("wasmchain: %s: plugin %s: %w", c.opts.Path, spec.Name, err)
		}
		g.plugins = append(g.plugins, p)
	}
	g.h = wasmhost.Chain(c.next, c.opts.Deny, g.plugins...)
	return g, nil
}

// retire waits for the requests inside an old generation (at most Drain,
// less if the chain is closed meanwhile), then closes it.
func (c *Chain) retire(g *generation) {
	deadline := time.NewTimer(c.opts.Drain)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for g.active.Load() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			break wait
		case <-c.closing:
			break wait
		}
	}
	if n := g.active.Load(); n > 0 {
		c.opts.Logger.Warn("wasm chain: closing a replaced chain with requests still inside", slog.Int("generation", g.n), slog.Int64("requests", n))
	}
	// Bounded: a plugin call that never returns (a trusted guest looping)
	// must not hold the process's shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	closeAll(ctx, g.plugins, c.opts.Logger)
}

// closeWait bounds how long closing a replaced chain waits for its
// plugins' calls still under way.
const closeWait = 5 * time.Second

func closeAll(ctx context.Context, plugins []*wasmhost.Plugin, logger *slog.Logger) {
	for _, p := range plugins {
		if err := p.Close(ctx); err != nil {
			logger.Warn("wasm chain: closing a plugin", slog.String("plugin", p.Name()), slog.Any("error", err))
		}
	}
}

// fingerprint sums up the chain file's and its modules' sizes and times.
// A module that cannot be read makes the print differ, so the next Reload
// reports the problem.
func (c *Chain) fingerprint() (string, error) {
	st, err := os.Stat(c.opts.Path)
	if err != nil {
		return "", err
	}
	print := fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
	specs, err := readModulePaths(c.opts.Path)
	if err != nil {
		return print + "!", nil
	}
	for _, p := range specs {
		st, err := os.Stat(p)
		if err != nil {
			print += "|missing:" + p
			continue
		}
		print += fmt.Sprintf("|%d/%d", st.Size(), st.ModTime().UnixNano())
	}
	return print, nil
}

// readModulePaths returns the paths of the modules a chain file loads: a
// bundle's, not its plugins'.
func readModulePaths(path string) ([]string, error) {
	f, err := readChainFile(path)
	if err != nil {
		return nil, err
	}
	inBundle, err := checkBundle(path, f)
	if err != nil {
		return nil, err
	}
	var out []string
	abs := func(w string) string {
		if !filepath.IsAbs(w) {
			w = filepath.Join(filepath.Dir(path), w)
		}
		return w
	}
	if f.Bundle != nil {
		out = append(out, abs(f.Bundle.Wasm))
	}
	for _, p := range f.Plugins {
		if !inBundle[p.Name] {
			out = append(out, abs(p.Wasm))
		}
	}
	return out, nil
}

// Watch reloads the chain whenever the file or a module changes, until ctx
// ends.
func (c *Chain) Watch(ctx context.Context) {
	t := time.NewTicker(c.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = c.Reload(ctx) // failures are logged and counted
		}
	}
}

// Close closes the replaced chains at once, then the running chain's
// plugins, waiting for calls under way until ctx ends.
func (c *Chain) Close(ctx context.Context) error {
	c.closeOnce.Do(func() { close(c.closing) })
	retired := make(chan struct{})
	go func() { c.retired.Wait(); close(retired) }()
	select {
	case <-retired:
	case <-ctx.Done():
		return fmt.Errorf("wasmchain: replaced chains still closing: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.cur.Load(); g != nil {
		var errs []error
		for _, p := range g.plugins {
			errs = append(errs, p.Close(ctx))
		}
		return errors.Join(errs...)
	}
	return nil
}
