package wasmhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// PluginOptions configure Load. Name and Wasm are required; every other
// zero value means the default documented on the field.
type PluginOptions struct {
	// Name identifies the plugin in metrics, logs and bucket keys: lower
	// case letters, digits, '-', '_' and '.', at most 63 bytes. Two loaded
	// plugins share a name only while one replaces the other.
	Name string
	// Wasm is the module: a guest of the http_handler ABI, such as a Go
	// program built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
	Wasm []byte
	// Config is what the guest reads with get_config (JSON by convention).
	Config []byte
	// Policy is what happens to a request the plugin fails on.
	Policy Policy
	// Trusted plugins run without wazero's termination checks, which cost
	// about five times the per-call overhead of a small plugin: a trusted
	// plugin that loops forever holds its instance and its request forever.
	// An untrusted plugin's call is stopped when its Budget runs out. Either
	// way a call that returns after its budget counts as a timeout and its
	// result is not used.
	Trusted bool
	// Budget is the time one guest call (handle_request or handle_response)
	// may take. Default 50ms.
	Budget time.Duration
	// PoolSize bounds the instances (default 4 × GOMAXPROCS). A request
	// holds an instance while the guest runs, and, if the guest exports
	// handle_response, until the next handler has answered, so the pool
	// also bounds the requests in flight through the plugin.
	PoolSize int
	// Warm is the number of instances created by Load (default
	// min(GOMAXPROCS, PoolSize), at least 1, so a broken plugin fails to
	// load instead of on its first request) and kept alive afterwards:
	// discarded instances are replaced in the background.
	Warm int
	// PoolWait is how long a request waits for an instance when all are in
	// use before the plugin fails with KindBusy. Default 1s.
	PoolWait time.Duration
	// MaxCalls recycles an instance after this many guest calls (default
	// 100,000; negative: never), bounding what a slow leak in a guest costs.
	// A new Go instance costs about 3 ms of CPU: at 10,000 calls that was
	// 4% of the default chain's CPU (BenchmarkMiddleware in services/edge),
	// at 100,000 it is 0.4%; RecycleAboveBytes still catches a guest whose
	// memory grows.
	MaxCalls int
	// MemoryLimitPages caps each instance's linear memory in 64 KiB pages
	// (default 1024, 64 MiB). A guest that needs more fails with KindMemory.
	MemoryLimitPages uint32
	// RecycleAboveBytes recycles an instance whose memory grew past this
	// after a call (default three quarters of the limit): a Go guest's heap
	// never shrinks.
	RecycleAboveBytes uint64
	// StderrLimit bounds the guest output (each of stdout and stderr) kept
	// per call for the log (default 4 KiB); the rest is counted.
	StderrLimit int
	// MaxBodyBytes bounds a request body the guest reads and a body the
	// guest writes or buffers (default 1 MiB).
	MaxBodyBytes int
}

// Defaults of PluginOptions.
const (
	DefaultBudget           = 50 * time.Millisecond
	DefaultPoolWait         = time.Second
	DefaultMaxCalls         = 100_000
	DefaultMemoryLimitPages = 1024
	DefaultStderrLimit      = 4 << 10
	DefaultMaxBodyBytes     = 1 << 20
)

// instantiateTimeout bounds the creation of an instance (its _initialize).
const instantiateTimeout = 10 * time.Second

var pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// DefaultPoolSize is PluginOptions.PoolSize's default: 4 × GOMAXPROCS.
func DefaultPoolSize() int { return 4 * runtime.GOMAXPROCS(0) }

// withDefaults validates o and fills in the defaults.
func (o PluginOptions) withDefaults() (PluginOptions, error) {
	if !pluginName.MatchString(o.Name) {
		return o, fmt.Errorf("wasmhost: plugin name %q: want lower case letters, digits, '-', '_' and '.', at most 63 bytes", o.Name)
	}
	if len(o.Wasm) == 0 {
		return o, fmt.Errorf("wasmhost: plugin %q: no WebAssembly module given", o.Name)
	}
	if o.Policy != FailClosed && o.Policy != FailOpen {
		return o, fmt.Errorf("wasmhost: plugin %q: unknown policy %v", o.Name, o.Policy)
	}
	procs := runtime.GOMAXPROCS(0)
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize()
	}
	if o.Warm < 0 || o.Warm > o.PoolSize {
		return o, fmt.Errorf("wasmhost: plugin %q: Warm %d is not between 0 and PoolSize %d", o.Name, o.Warm, o.PoolSize)
	}
	if o.Warm == 0 {
		o.Warm = min(procs, o.PoolSize)
	}
	if o.PoolWait <= 0 {
		o.PoolWait = DefaultPoolWait
	}
	if o.MaxCalls == 0 {
		o.MaxCalls = DefaultMaxCalls
	}
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if o.MemoryLimitPages > 65536 {
		return o, fmt.Errorf("wasmhost: plugin %q: MemoryLimitPages %d is over 65536 (4 GiB)", o.Name, o.MemoryLimitPages)
	}
	limitBytes := uint64(o.MemoryLimitPages) * 65536
	if o.RecycleAboveBytes == 0 || o.RecycleAboveBytes > limitBytes {
		o.RecycleAboveBytes = limitBytes / 4 * 3
	}
	if o.StderrLimit <= 0 {
		o.StderrLimit = DefaultStderrLimit
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	o.Config = bytes.Clone(o.Config)
	return o, nil
}

// Plugin is a loaded plugin: its compiled module, its pool of instances and
// its metrics. Wrap it around a handler to run it on requests. It is safe
// for concurrent use.
type Plugin struct {
	rt      *Runtime
	name    string
	opts    PluginOptions
	logger  *slog.Logger
	metrics *pluginMetrics
	keys    *pluginKeys

	wr          wazero.Runtime
	compiled    wazero.CompiledModule
	modConfig   wazero.ModuleConfig
	hasResponse bool
	pool        *pool
	warmup      time.Duration

	lastBucketLog atomic.Int64
	closeOnce     sync.Once
	closeErr      error
}

// Load compiles a plugin and warms its pool. It fails, with the reason, if
// the options are invalid, the module does not compile (not WebAssembly,
// a memory larger than MemoryLimitPages), does not export handle_request
// () -> i64 and a memory, imports something the host does not provide, or
// an instance cannot be created (its _initialize traps).
func (rt *Runtime) Load(ctx context.Context, opts PluginOptions) (*Plugin, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Plugin{
		rt:     rt,
		name:   o.Name,
		opts:   o,
		logger: rt.logger.With("plugin", o.Name),
		keys:   &pluginKeys{byID: make(map[[32]byte]int32)},
	}
	if err := rt.add(p); err != nil {
		return nil, err
	}
	if err := p.load(ctx); err != nil {
		if rt.remove(p) && p.metrics != nil {
			p.metrics.forget()
		}
		if p.wr != nil {
			err = errors.Join(err, p.wr.Close(ctx))
		}
		return nil, fmt.Errorf("wasmhost: plugin %q: %w", o.Name, err)
	}
	p.logger.Info("wasm plugin loaded", "instances", o.Warm, "warmup", p.warmup, "trusted", o.Trusted, "policy", o.Policy.String())
	return p, nil
}

func (p *Plugin) load(ctx context.Context) error {
	o := &p.opts
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(p.rt.cache).
		WithMemoryLimitPages(o.MemoryLimitPages).
		WithCloseOnContextDone(!o.Trusted)
	p.wr = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.wr); err != nil {
		return fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, p.wr, "http_handler", httpHandlerFuncs); err != nil {
		return err
	}
	if err := instantiateHostModule(ctx, p.wr, "tremolo", tremoloFuncs); err != nil {
		return err
	}
	compiled, err := p.wr.CompileModule(ctx, o.Wasm)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	p.compiled = compiled
	if err := p.checkExports(); err != nil {
		return err
	}
	p.modConfig = wazero.NewModuleConfig().
		WithName(""). // anonymous: a pool holds many instances of one module
		WithStartFunctions("_initialize").
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader) // random_get: real entropy, e.g. for request ids
	p.metrics = p.rt.metrics.forPlugin(p.name)
	p.pool = newPool(p, o.PoolSize)
	p.warmup, err = p.pool.warm(ctx, o.Warm)
	p.rt.metrics.warmup.WithLabelValues(p.name).Set(p.warmup.Seconds())
	if err != nil {
		return errors.Join(fmt.Errorf("warm-up: %w", err), p.pool.close(ctx))
	}
	return nil
}

// checkExports checks the exports the host calls, so a module that is not
// a plugin fails at Load and not on a request.
func (p *Plugin) checkExports() error {
	fns := p.compiled.ExportedFunctions()
	hr, ok := fns["handle_request"]
	if !ok {
		return errors.New("the module does not export handle_request: not an http_handler guest")
	}
	if len(hr.ParamTypes()) != 0 || !equalTypes(hr.ResultTypes(), i64) {
		return fmt.Errorf("handle_request has signature %s, want () -> i64", signature(hr))
	}
	if hresp, ok := fns["handle_response"]; ok {
		if !equalTypes(hresp.ParamTypes(), i32, i32) || len(hresp.ResultTypes()) != 0 {
			return fmt.Errorf("handle_response has signature %s, want (i32, i32) -> ()", signature(hresp))
		}
		p.hasResponse = true
	}
	if _, ok := p.compiled.ExportedMemories()["memory"]; !ok {
		return errors.New(`the module does not export its memory as "memory"`)
	}
	return nil
}

func equalTypes(got []api.ValueType, want ...api.ValueType) bool {
	return bytes.Equal(got, want)
}

func signature(f api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(f.ParamTypes()) + " -> " + names(f.ResultTypes())
}

// firstLine returns s's first non-empty line, at most limit bytes.
func firstLine(s string, limit int) string {
	s = strings.TrimLeft(s, "\n")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

// instantiate creates an instance and runs its _initialize.
func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	inst := &instance{}
	inst.stdout.limit, inst.stderr.limit = p.opts.StderrLimit, p.opts.StderrLimit
	ex := &exchange{p: p, inst: inst}
	ctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), exchangeKey{}, ex), instantiateTimeout)
	defer cancel()
	mod, err := p.wr.InstantiateModule(ctx, p.compiled, p.modConfig.WithStdout(&inst.stdout).WithStderr(&inst.stderr))
	var said string // read before flush empties the buffer
	if err != nil {
		said = firstLine(inst.stderr.buf.String(), 512)
	}
	inst.stdout.flush(p.logger, "stdout")
	inst.stderr.flush(p.logger, "stderr")
	if err != nil {
		p.metrics.failures[KindInstantiate].Inc()
		p.logger.Error("wasm plugin: instantiate failed", "error", err)
		if said != "" {
			// What the guest wrote first is usually why (the Go SDK writes
			// the Factory's error, naming the config field): the operator
			// loading the plugin reads it here, not only in the log.
			return nil, fmt.Errorf("instantiate: %w; the guest wrote: %s", err, said)
		}
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	inst.mod = mod
	inst.mem = mod.Memory()
	inst.handleRequest = mod.ExportedFunction("handle_request")
	inst.handleResponse = mod.ExportedFunction("handle_response")
	return inst, nil
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// WarmUp returns how long Load took to create the warm instances, which is
// what a cold start of an instance costs (divide by Warm).
func (p *Plugin) WarmUp() time.Duration { return p.warmup }

// Close stops the plugin: requests that reach it from now on fail with
// KindClosed (and get its policy), idle instances are closed at once and
// those in use when their request ends. Close waits for them until ctx
// ends; then, if some are still in use (a trusted guest that never
// returns), it returns an error and leaves the plugin's wazero runtime to
// be freed when the last of them is released, since freeing it under a
// running guest is not safe. The plugin's metric series are removed.
func (p *Plugin) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		defer func() {
			if p.rt.remove(p) {
				p.metrics.forget()
			}
		}()
		if err := p.pool.close(ctx); err != nil {
			p.closeErr = fmt.Errorf("wasmhost: plugin %q: %w", p.name, err)
			go func() {
				p.pool.close(context.Background()) //nolint:errcheck // without a deadline it only returns when done
				p.closeRuntime(context.Background())
			}()
			return
		}
		p.closeErr = p.closeRuntime(ctx)
	})
	return p.closeErr
}

func (p *Plugin) closeRuntime(ctx context.Context) error {
	if err := p.wr.Close(ctx); err != nil {
		err = fmt.Errorf("wasmhost: plugin %q: close runtime: %w", p.name, err)
		p.logger.Error("wasm plugin", "error", err)
		return err
	}
	return nil
}

// callError is a failed guest call or acquisition, with its kind and the
// full cause for the log.
type callError struct {
	kind  FailureKind
	cause error
}

func (e *callError) Error() string { return string(e.kind) + ": " + e.cause.Error() }

// call runs one guest function under the plugin's budget, logs the
// guest's output, and classifies a failure.
func (p *Plugin) call(ex *exchange, fn api.Function, stack []uint64, phase string) error {
	inst := ex.inst
	start := time.Now()
	ex.deadline = start.Add(p.opts.Budget)
	ctx := context.WithValue(ex.orig.Context(), exchangeKey{}, ex)
	var ctxErr error
	var err error
	if p.opts.Trusted {
		// No termination checks watch the context, so a deadline on it
		// would only cost a timer: the budget is checked on return.
		err = fn.CallWithStack(ctx, stack)
		ctxErr = ctx.Err()
	} else {
		dctx, cancel := context.WithDeadline(ctx, ex.deadline)
		err = fn.CallWithStack(dctx, stack)
		ctxErr = dctx.Err()
		cancel()
	}
	elapsed := time.Since(start)
	if ctxErr == nil && elapsed > p.opts.Budget {
		ctxErr = context.DeadlineExceeded
	}
	inst.calls++
	if phase == "request" {
		p.metrics.callsReq.Inc()
		p.metrics.durReq.Observe(elapsed.Seconds())
	} else {
		p.metrics.callsResp.Inc()
		p.metrics.durResp.Observe(elapsed.Seconds())
	}
	oom := bytes.Contains(inst.stderr.buf.Bytes(), []byte("out of memory"))
	inst.stdout.flush(p.logger, "stdout")
	inst.stderr.flush(p.logger, "stderr")
	if ex.logsDropped > 0 {
		p.logger.Warn("wasm plugin: log messages dropped", "dropped", ex.logsDropped, "limit", maxLogsPerCall)
		ex.logs, ex.logsDropped = 0, 0
	}
	if err == nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
		return nil
	}
	kind := p.classify(ex, err, ctxErr, oom)
	if err == nil {
		err = fmt.Errorf("returned after %v, past its budget of %v", elapsed.Round(time.Microsecond), p.opts.Budget)
	}
	p.metrics.failures[kind].Inc()
	p.logger.Warn("wasm plugin call failed", "phase", phase, "kind", string(kind), "elapsed", elapsed, "error", err)
	return &callError{kind: kind, cause: err}
}

// classify names the kind of a failed call.
func (p *Plugin) classify(ex *exchange, err, ctxErr error, oom bool) FailureKind {
	if ex.abiErr != nil {
		return ex.abiErr.kind
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return KindTimeout
		case sys.ExitCodeContextCanceled:
			return KindCanceled
		}
	}
	switch {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return KindTimeout
	case errors.Is(ctxErr, context.Canceled):
		return KindCanceled
	}
	// A guest that cannot grow its memory either traps or, like Go, says
	// so on stderr and exits; its memory is then near the limit.
	limit := uint64(p.opts.MemoryLimitPages) * 65536
	if oom || uint64(ex.inst.mem.Size()) >= limit-limit/16 {
		return KindMemory
	}
	return KindTrap
}

// Wrap returns a handler that runs the plugin on each request before next.
// deny writes the response when the plugin fails and its Policy is
// FailClosed; nil means DefaultDeny.
func (p *Plugin) Wrap(next http.Handler, deny DenyFunc) http.Handler {
	if deny == nil {
		deny = DefaultDeny
	}
	return &handler{p: p, next: next, deny: deny}
}

// Chain wraps next in plugins, the first outermost: a request passes the
// plugins in order, a response returns through them in reverse.
func Chain(next http.Handler, deny DenyFunc, plugins ...*Plugin) http.Handler {
	h := next
	for i := len(plugins) - 1; i >= 0; i-- {
		h = plugins[i].Wrap(h, deny)
	}
	return h
}

type handler struct {
	p    *Plugin
	next http.Handler
	deny DenyFunc
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.p
	inst, err := p.pool.acquire(r.Context(), p.opts.PoolWait)
	if err != nil {
		kind := KindInstantiate
		switch {
		case errors.Is(err, errPoolBusy):
			kind = KindBusy
		case errors.Is(err, errPoolClosed):
			kind = KindClosed
		case r.Context().Err() != nil:
			kind = KindCanceled
		}
		if kind != KindInstantiate { // instantiate counted it already
			p.metrics.failures[kind].Inc()
		}
		p.logger.Warn("wasm plugin: no instance", "kind", string(kind), "error", err)
		h.failed(w, r, nil, kind)
		return
	}
	ex := &exchange{p: p, inst: inst, orig: r, r: r, w: w, features: inst.features}
	// The guest changes r's headers in place: whichever way this handler
	// ends, the handlers around it see them as they came.
	defer ex.undoHeaders()
	stack := inst.stack[:]
	if err := p.call(ex, inst.handleRequest, stack, "request"); err != nil {
		p.pool.discard(inst, discardFailure)
		ex.undoHeaders()
		h.failed(w, r, ex, err.(*callError).kind)
		return
	}
	ctxNext := stack[0]
	switch uint32(ctxNext) {
	case 0: // the guest answered
		p.pool.release(inst)
		ex.commitResponse(w)
		return
	case 1:
	default:
		p.pool.discard(inst, discardFailure)
		p.metrics.failures[KindABI].Inc()
		p.logger.Warn("wasm plugin call failed", "phase", "request", "kind", string(KindABI), "error", fmt.Sprintf("handle_request returned next=%d (want 0 or 1)", uint32(ctxNext)))
		ex.undoHeaders()
		h.failed(w, r, ex, KindABI)
		return
	}
	next := ex.commitRequest()
	ex.commitHeader(w)
	if inst.handleResponse == nil || ex.features&featureSkipResponse != 0 {
		// Nothing to call after next: free the instance now, so a slow
		// next handler does not hold it.
		p.pool.release(inst)
		h.next.ServeHTTP(w, next)
		return
	}
	h.serveWithResponse(w, next, ex, uint32(ctxNext>>32))
}

// serveWithResponse calls next, then handle_response on the same instance.
func (h *handler) serveWithResponse(w http.ResponseWriter, next *http.Request, ex *exchange, reqCtx uint32) {
	p, inst := h.p, ex.inst
	var before http.Header // the headers to deny with if handle_response fails
	if p.opts.Policy == FailClosed {
		before = w.Header().Clone()
	}
	ex.resp = &responseState{}
	var rw http.ResponseWriter
	if ex.features&featureBufferResponse != 0 {
		ex.resp.rec = &recorder{w: w, limit: p.opts.MaxBodyBytes}
		rw = ex.resp.rec
	} else {
		ex.resp.trk = &tracker{ResponseWriter: w}
		rw = ex.resp.trk
	}
	panicked, recovered := serveNext(h.next, rw, next)
	ex.afterNext = true
	ex.header, ex.headerSet, ex.status, ex.body, ex.respRead = nil, false, 0, nil, 0
	var isError uint64
	if panicked {
		isError = 1
	}
	stack := inst.stack[:]
	stack[0], stack[1] = uint64(reqCtx), isError
	err := p.call(ex, inst.handleResponse, stack, "response")
	switch {
	case err == nil:
		p.pool.release(inst)
		ex.commitAfterNext(w)
	case ex.resp.sent():
		p.pool.discard(inst, discardFailure) // nothing else to do: the client has the response
	case p.opts.Policy == FailOpen:
		p.pool.discard(inst, discardFailure)
		if ex.resp.rec != nil {
			ex.resp.rec.flush()
		}
	default:
		p.pool.discard(inst, discardFailure)
		clear(w.Header())
		for k, v := range before {
			w.Header()[k] = v
		}
		h.deny(w, next, &Error{Plugin: p.name, Kind: err.(*callError).kind})
	}
	if panicked {
		panic(recovered)
	}
}

// serveNext calls next, recovering a panic so that handle_response learns
// of it (is_error) before the panic goes on.
func serveNext(next http.Handler, w http.ResponseWriter, r *http.Request) (panicked bool, v any) {
	defer func() {
		if v = recover(); v != nil {
			panicked = true
		}
	}()
	next.ServeHTTP(w, r)
	return false, nil
}

// failed applies the policy to a request the plugin failed on.
func (h *handler) failed(w http.ResponseWriter, r *http.Request, ex *exchange, kind FailureKind) {
	if h.p.opts.Policy == FailClosed {
		h.deny(w, r, &Error{Plugin: h.p.name, Kind: kind})
		return
	}
	if ex != nil {
		ex.restoreBody()
	}
	h.next.ServeHTTP(w, r)
}

// restoreBody gives the request back the body bytes the guest read.
func (ex *exchange) restoreBody() {
	if len(ex.bodyRead) > 0 {
		ex.orig.Body = readCloser{io.MultiReader(bytes.NewReader(ex.bodyRead), ex.orig.Body), ex.orig.Body}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// commitRequest returns the request next receives: the guest's changes,
// and the body as ABI.md says (what the guest wrote; else, with
// featureBufferRequest, all of it; else what the guest did not read).
func (ex *exchange) commitRequest() *http.Request {
	r := ex.r
	switch {
	case ex.newBody != nil:
		if r == ex.orig {
			r = ex.orig.Clone(ex.orig.Context())
		} else {
			// r shares orig's header map (see mutable): journal the
			// change, so that undo puts Content-Length back for the
			// handlers around the plugin.
			ex.requestHeader("write_body", "Content-Length")
		}
		r.Body = io.NopCloser(bytes.NewReader(ex.newBody.Bytes()))
		r.ContentLength = int64(ex.newBody.Len())
		r.Header.Del("Content-Length")
		r.TransferEncoding = nil
	case ex.features&featureBufferRequest != 0:
		ex.restoreBody()
		r.Body = ex.orig.Body
	default:
		r.Body = ex.orig.Body
	}
	return r
}

// commitHeader applies the staged response headers to w.
func (ex *exchange) commitHeader(w http.ResponseWriter) {
	if !ex.headerSet {
		return
	}
	h := w.Header()
	clear(h)
	for k, v := range ex.header {
		h[k] = v
	}
}

// commitResponse writes the response a guest answered with (next=0).
func (ex *exchange) commitResponse(w http.ResponseWriter) {
	ex.commitHeader(w)
	w.WriteHeader(max(ex.status, http.StatusOK))
	if ex.body != nil {
		w.Write(ex.body.Bytes()) //nolint:errcheck // the client went away; nothing to do
	}
}

// commitAfterNext sends the response after a successful handle_response:
// next's, with the guest's changes.
func (ex *exchange) commitAfterNext(w http.ResponseWriter) {
	rs := ex.resp
	switch {
	case rs.buffered():
		ex.commitHeader(w)
		code := ex.status
		if code == 0 {
			code = max(rs.rec.code, http.StatusOK)
		}
		w.WriteHeader(code)
		body := rs.rec.body.Bytes()
		if ex.body != nil {
			body = ex.body.Bytes()
		}
		w.Write(body) //nolint:errcheck // the client went away; nothing to do
	case rs.sent(): // only trailers can still change
		if ex.headerSet {
			for k, v := range ex.header {
				if strings.HasPrefix(k, http.TrailerPrefix) {
					w.Header()[k] = v
				}
			}
		}
	default: // next wrote nothing: the guest may answer
		ex.commitHeader(w)
		if ex.status != 0 || ex.body != nil {
			ex.commitResponse(w)
		}
	}
}
