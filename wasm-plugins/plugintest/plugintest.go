// Package plugintest builds the edge plugins into WebAssembly for tests and
// runs them in http-wasm-host-go, the reference http-wasm host: proof that a
// plugin built with the SDK that uses only the http-wasm ABI loads in any
// http-wasm host, and the "portable build" side of the benchmarks.
//
// Modules are built once per test binary (go build, GOOS=wasip1
// GOARCH=wasm, -buildmode=c-shared, the flags of build.sh) into a temporary
// directory, or taken from the directory named by TREMOLO_PLUGINS_DIR or the
// space-separated paths of TREMOLO_PLUGIN_FILES, so a build system (Bazel)
// can supply prebuilt ones; files are named as build.sh names them.
package plugintest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-wasm/http-wasm-host-go/api"
	"github.com/http-wasm/http-wasm-host-go/handler"
	wasm "github.com/http-wasm/http-wasm-host-go/handler/nethttp"
	"github.com/tetratelabs/wazero"

	"github.com/tremolo-dev/tremolo/platform/wasmhost/wasmhosttest"
)

// DirEnv names the environment variable of a directory of prebuilt modules.
const DirEnv = "TREMOLO_PLUGINS_DIR"

// FilesEnv names the environment variable listing prebuilt modules, paths
// separated by spaces (what Bazel's $(rootpaths) gives a test).
const FilesEnv = "TREMOLO_PLUGIN_FILES"

// HostModulePlugins are the plugins that use the tremolo host module, and
// so are built twice: <name>.wasm with -tags tremolo, <name>.portable.wasm
// without. build.sh keeps the same list.
var HostModulePlugins = map[string]bool{"jwt": true, "ratelimit": true, "bundle": true}

// FileName returns the module file of plugin name: the portable build when
// portable is true (the only build of a plugin without the host module).
func FileName(name string, portable bool) string {
	if portable && HostModulePlugins[name] {
		return name + ".portable.wasm"
	}
	return name + ".wasm"
}

var (
	mu      sync.Mutex
	tempDir string
	builds  = map[string]*build{}
)

type build struct {
	once sync.Once
	wasm []byte
	err  error
}

// Main runs the package's tests and removes the modules built for them.
// Use it from TestMain: os.Exit(plugintest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if tempDir != "" {
		_ = os.RemoveAll(tempDir)
	}
	return code
}

// Wasm returns plugin name's module (see FileName), building it on first
// use; the test fails when it cannot be had.
func Wasm(tb testing.TB, name string, portable bool) []byte {
	tb.Helper()
	file := FileName(name, portable)
	b := getBuild(file)
	b.once.Do(func() {
		if dir := os.Getenv(DirEnv); dir != "" {
			b.wasm, b.err = os.ReadFile(filepath.Join(dir, file))
			return
		}
		if files := os.Getenv(FilesEnv); files != "" {
			for _, f := range strings.Fields(files) {
				if filepath.Base(f) == file {
					b.wasm, b.err = os.ReadFile(RunfilePath(f))
					return
				}
			}
			b.err = fmt.Errorf("%s lists no %s", FilesEnv, file)
			return
		}
		tags := ""
		if !portable && HostModulePlugins[name] {
			tags = "tremolo"
		}
		b.wasm, b.err = goBuild("./wasm-plugins/"+name+"/plugin", tags, file)
	})
	if b.err != nil {
		tb.Fatalf("plugin module %s: %v", file, b.err)
	}
	return b.wasm
}

func getBuild(file string) *build {
	mu.Lock()
	defer mu.Unlock()
	b := builds[file]
	if b == nil {
		b = &build{}
		builds[file] = b
	}
	return b
}

func outDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if tempDir == "" {
		d, err := os.MkdirTemp("", "tremolo-plugins-")
		if err != nil {
			return "", err
		}
		tempDir = d
	}
	return tempDir, nil
}

// RunfilePath resolves a path Bazel gave a test ($(rootpath ...), relative
// to the workspace's runfiles, while the test runs in its package's
// directory). Other paths are returned as they are.
func RunfilePath(p string) string {
	if srcdir := os.Getenv("TEST_SRCDIR"); srcdir != "" && !filepath.IsAbs(p) {
		return filepath.Join(srcdir, os.Getenv("TEST_WORKSPACE"), p)
	}
	return p
}

// RepoRoot returns the directory of the module's go.mod, found upwards from
// the working directory (a test's package directory).
func RepoRoot() (string, error) { return wasmhosttest.RepoRoot() }

// Package returns the module built from the package at pkg, a path from the
// repository's root ("./wasm-plugins/bundle/testdata/faulty"), with build
// tags (none when empty): test modules that are not plugins of their own.
// It is built once per test binary, with the go command, so it runs under
// go test only.
func Package(tb testing.TB, pkg, tags string) []byte {
	tb.Helper()
	file := strings.NewReplacer("/", "_", ".", "_").Replace(pkg) + "_" + tags + ".wasm"
	b := getBuild(file)
	b.once.Do(func() { b.wasm, b.err = goBuild(pkg, tags, file) })
	if b.err != nil {
		tb.Fatalf("module %s: %v", pkg, b.err)
	}
	return b.wasm
}

func goBuild(pkg, tags, file string) ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := outDir()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, file)
	args := []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, pkg)
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return os.ReadFile(out)
}

// FaultyGuest returns one of the misbehaving test guests of
// platform/wasmhost (panic, loop, alloc, garbage, ...): see wasmhosttest.
func FaultyGuest(tb testing.TB, name string) []byte {
	tb.Helper()
	return wasmhosttest.Guest(tb, name)
}

// RustWasm returns the Rust colour plugin (colour-rs.wasm), built with
// Debian's rustc as build.sh builds it. It skips the test when that rustc
// or its wasm32-wasi standard library is missing.
func RustWasm(tb testing.TB) []byte {
	tb.Helper()
	b := getBuild("colour-rs.wasm")
	b.once.Do(func() {
		if dir := os.Getenv(DirEnv); dir != "" {
			b.wasm, b.err = os.ReadFile(filepath.Join(dir, "colour-rs.wasm"))
			return
		}
		b.wasm, b.err = rustBuild()
	})
	if b.err == errNoRust {
		tb.Skip("colour-rs: /usr/bin/rustc or its wasm32-wasi std (/usr/lib/rustlib/wasm32-wasi) is missing")
	}
	if b.err != nil {
		tb.Fatalf("colour-rs.wasm: %v", b.err)
	}
	return b.wasm
}

var errNoRust = fmt.Errorf("no rustc for wasm32-wasi")

// Rustc is the compiler the Rust plugin is built with: Debian's, whose
// wasm32-wasi std is installed, not a rustup one.
const Rustc = "/usr/bin/rustc"

func rustBuild() ([]byte, error) {
	if _, err := os.Stat(Rustc); err != nil {
		return nil, errNoRust
	}
	if _, err := os.Stat("/usr/lib/rustlib/wasm32-wasi"); err != nil {
		return nil, errNoRust
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := outDir()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "colour-rs.wasm")
	args := append([]string{filepath.Join(root, "wasm-plugins", "colour-rs", "src", "lib.rs")}, RustFlags...)
	args = append(args, "-o", out)
	cmd := exec.Command(Rustc, args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", Rustc, strings.Join(args, " "), err, msg)
	}
	return os.ReadFile(out)
}

// RustFlags are the rustc flags of the Rust plugin (build.sh uses the
// same).
var RustFlags = []string{"--target", "wasm32-wasi", "--crate-type", "cdylib", "--crate-name", "colour_rs", "--edition", "2021", "-O", "-C", "panic=abort", "-C", "strip=symbols", "-C", "lto"}

// ModuleConfig is the wazero module configuration a Go plugin needs from
// any host: _initialize run (Go c-shared modules are reactors), the real
// clocks (token expiry, buckets) and a real random source (request ids).
// stderr, when not nil, receives what the module writes there.
func ModuleConfig(stderr *bytes.Buffer) wazero.ModuleConfig {
	c := wazero.NewModuleConfig().
		WithStartFunctions("_initialize").
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	if stderr != nil {
		c = c.WithStderr(stderr)
	}
	return c
}

// cache shares compiled modules between the test binary's middlewares:
// compiling a 2-3 MB Go module is the slow part of loading it.
var cache = wazero.NewCompilationCache()

// Logger collects what a plugin logs.
type Logger struct {
	mu  sync.Mutex
	buf strings.Builder
}

// IsEnabled implements api.Logger: everything from debug up is kept.
func (l *Logger) IsEnabled(level api.LogLevel) bool { return level < api.LogLevelNone }

// Log implements api.Logger.
func (l *Logger) Log(_ context.Context, level api.LogLevel, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, "[%d] %s\n", level, msg)
}

// String returns everything logged so far.
func (l *Logger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// NewMiddleware loads module with config into http-wasm-host-go's net/http
// host. logger may be nil.
func NewMiddleware(ctx context.Context, module, config []byte, logger api.Logger, stderr *bytes.Buffer) (wasm.Middleware, error) {
	if logger == nil {
		logger = api.NoopLogger{}
	}
	return wasm.NewMiddleware(ctx, module,
		handler.GuestConfig(config),
		handler.ModuleConfig(ModuleConfig(stderr)),
		handler.Logger(logger),
		handler.Runtime(func(ctx context.Context) (wazero.Runtime, error) {
			return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache)), nil
		}),
	)
}

// Handler returns next behind module with config in http-wasm-host-go,
// failing the test when the module does not load; the middleware is closed
// when the test ends.
func Handler(tb testing.TB, module, config []byte, next http.Handler) http.Handler {
	tb.Helper()
	logger := &Logger{}
	var stderr bytes.Buffer
	mw, err := NewMiddleware(context.Background(), module, config, logger, &stderr)
	if err != nil {
		tb.Fatalf("loading the module in http-wasm-host-go: %v\nplugin log:\n%s\nstderr:\n%s", err, logger, stderr.String())
	}
	tb.Cleanup(func() { _ = mw.Close(context.Background()) })
	return mw.NewHandler(context.Background(), next)
}

// Timed runs op b.N times and, besides the mean go test prints, reports
// the median and 99th percentile of one op as the metrics p50-ns and
// p99-ns: a plugin call's tail (an instance created, a guest GC) is what
// the mean hides. Reading the clock twice per op adds about 0.1 µs.
func Timed(b *testing.B, op func()) {
	b.Helper()
	times := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		op()
		times[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}
